"""Statistics of a comparison cell against its baseline, and the numeric ``stats.csv``.

A cell (see :mod:`benchmark.reporting.variants`) holds the ok seeds of one method variant in
one row (task, dataset, model, setting, metric). Against the baseline cell of the same row:

- ``delta``: method mean − baseline mean, in the metric's units.
- **Pairing.** The two cells pair by seed when they hold exactly the same seeds (same data
  order and initialisation on both sides): then ``scipy.stats.ttest_rel`` and a paired
  bootstrap. When the seeds differ (a failed seed, a seed run on one side only) the cells do
  not pair: Welch's test (``scipy.stats.ttest_ind(..., equal_var=False)``) and an unpaired
  bootstrap that resamples each side on its own.
- **Confidence interval.** 95% bootstrap interval of ``delta`` (``scipy.stats.bootstrap``,
  percentile method, :data:`N_RESAMPLES` resamples, a generator seeded with
  :data:`BOOTSTRAP_SEED` afresh for every comparison, so intervals are reproducible byte for
  byte and do not depend on which other comparisons exist). Percentile, not BCa: BCa's
  jackknife is degenerate with the 2–3 seeds a cell usually has.
- **Multiple comparisons.** ``p_adj``: Benjamini–Hochberg adjusted p-values
  (``scipy.stats.false_discovery_control``) over every comparison with a p-value in one
  report (all tasks, datasets, metrics and methods of the results dir).
- Fewer than 2 seeds on a side (or pairs): no interval and no p-value (NaN), ``test`` says
  ``1_seed``. Zero variance on both sides (differences, when paired): the interval is the
  point, no p-value, ``test`` says ``zero_variance``.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.engine.records import write_atomic
from benchmark.reporting import variants

CONFIDENCE = 0.95
N_RESAMPLES = 9999
BOOTSTRAP_SEED = 20240
BOOTSTRAP_METHOD = "percentile"
BASELINE = "baseline"
#: The row of a comparison: cells of one row are compared with the row's baseline.
ROW_COLUMNS = ("task", "dataset", "model", "setting", "metric")

PAIRED = "paired_t"
WELCH = "welch_t"
ONE_SEED = "1_seed"
ZERO_VARIANCE = "zero_variance"
NO_VALUES = "no_values"
NO_BASELINE = "no_baseline"
REFERENCE = "reference"
#: What each ``test`` value means (the report and results/README.md say the same).
TESTS = {
    PAIRED: "paired t-test over seeds (scipy.stats.ttest_rel), paired bootstrap",
    WELCH: "Welch's t-test (scipy.stats.ttest_ind, equal_var=False), unpaired bootstrap",
    ONE_SEED: "a side has a single ok seed: no interval, no p-value",
    ZERO_VARIANCE: "no spread on either side (or in the paired differences): no p-value",
    NO_VALUES: "the method has no ok value in this row",
    NO_BASELINE: "the row has no baseline with an ok value (same setting)",
    REFERENCE: "the baseline itself",
}

#: Columns of ``stats.csv``, in order.
STATS_COLUMNS = (
    "task", "dataset", "model", "setting", "metric", "method", "variant", "higher_is_better",
    "n", "n_failed", "mean", "std", "delta", "ci_low", "ci_high", "n_pairs", "test",
    "statistic", "df", "p", "p_adj", "seeds", "settings",
)
COMPARISON_COLUMNS = ("delta", "ci_low", "ci_high", "n_pairs", "test", "statistic", "df", "p",
                      "points")
#: Significant digits of floats in ``stats.csv`` (stable across BLAS builds).
CSV_FLOAT_FORMAT = "%.10g"


# ----------------------------------------------------------------------------- tests
@dataclass(frozen=True)
class TTest:
    """A two-sided t-test of method − baseline.

    Attributes:
        statistic: The t statistic (positive: the method's mean is larger).
        df: Degrees of freedom (Welch–Satterthwaite for Welch's test).
        p: Two-sided p-value in [0, 1].
    """

    statistic: float
    df: float
    p: float


def _arrays(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(a, dtype=float), np.asarray(b, dtype=float)


def paired_t(method_values: Sequence[float], baseline_values: Sequence[float]) -> TTest | None:
    """``scipy.stats.ttest_rel`` of seed-matched values (same order on both sides).

    Returns:
        ``None`` with fewer than 2 pairs or when every difference is the same (t undefined).
    """
    from scipy import stats

    a, b = _arrays(method_values, baseline_values)
    if len(a) != len(b):
        raise ValueError(f"paired test needs as many values on each side, got {len(a)}, {len(b)}")
    if len(a) < 2 or np.ptp(a - b) == 0:
        return None
    res = stats.ttest_rel(a, b)
    return TTest(float(res.statistic), float(res.df), float(res.pvalue))


def welch_t(method_values: Sequence[float], baseline_values: Sequence[float]) -> TTest | None:
    """Welch's t-test (``scipy.stats.ttest_ind(..., equal_var=False)``), method − baseline.

    Returns:
        ``None`` when either side has fewer than 2 values or both have zero variance.
    """
    from scipy import stats

    a, b = _arrays(method_values, baseline_values)
    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return None
    res = stats.ttest_ind(a, b, equal_var=False)
    if not math.isfinite(float(res.pvalue)):
        return None
    return TTest(float(res.statistic), float(res.df), float(res.pvalue))


def _mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def bootstrap_ci(
    method_values: Sequence[float], baseline_values: Sequence[float], *, paired: bool
) -> tuple[float, float]:
    """95% percentile bootstrap interval of mean(method) − mean(baseline).

    Args:
        method_values: The method's values (seed order, when ``paired``).
        baseline_values: The baseline's values (same seed order, when ``paired``).
        paired: Resample seeds (pairs) together; otherwise each side on its own.

    Returns:
        ``(low, high)`` in the metric's units; ``(nan, nan)`` with fewer than 2 values on a
        side. Deterministic: a fresh generator seeded with :data:`BOOTSTRAP_SEED` per call.
    """
    from scipy import stats

    a, b = _arrays(method_values, baseline_values)
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    with warnings.catch_warnings():  # identical values: a degenerate (point) interval
        warnings.simplefilter("ignore")
        res = stats.bootstrap((a, b), _mean_difference, paired=paired, vectorized=True,
                              n_resamples=N_RESAMPLES, confidence_level=CONFIDENCE,
                              method=BOOTSTRAP_METHOD,
                              rng=np.random.default_rng(BOOTSTRAP_SEED))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def adjust_bh(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (``scipy.stats.false_discovery_control``).

    Args:
        p_values: Raw p-values in [0, 1]; NaN entries (no test) are left out of the family
            and stay NaN.

    Returns:
        The adjusted values, same order and length as ``p_values``.
    """
    from scipy import stats

    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    finite = np.isfinite(p)
    if finite.any():
        out[finite] = stats.false_discovery_control(p[finite], method="bh")
    return out


# ----------------------------------------------------------------------------- one comparison
@dataclass(frozen=True)
class Comparison:
    """A method cell against its row's baseline cell.

    Attributes:
        delta: mean(method) − mean(baseline), metric units (NaN without values).
        ci_low: Lower end of the 95% bootstrap interval of ``delta`` (NaN: none).
        ci_high: Upper end of it.
        n_pairs: Seeds paired (0 when the cells do not pair).
        test: One of :data:`TESTS`.
        statistic: t statistic (NaN without a test).
        df: Degrees of freedom (NaN without a test).
        p: Two-sided p-value (NaN without a test).
        points: Per method seed, its value − the same seed's baseline value (paired) or −
            the baseline mean (unpaired): the dots of the Δ figures.
    """

    delta: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    n_pairs: int = 0
    test: str = NO_VALUES
    statistic: float = math.nan
    df: float = math.nan
    p: float = math.nan
    points: tuple[float, ...] = ()


def pairs(seeds: Sequence[int], base_seeds: Sequence[int]) -> bool:
    """Whether two cells pair by seed: the same seeds, each once."""
    return len(set(seeds)) == len(seeds) and sorted(seeds) == sorted(base_seeds)


def _by_seed(values: Sequence[float], seeds: Sequence[int]) -> np.ndarray:
    order = sorted(range(len(seeds)), key=lambda i: seeds[i])
    return np.asarray([values[i] for i in order], dtype=float)


def compare(
    values: Sequence[float], seeds: Sequence[int],
    base_values: Sequence[float], base_seeds: Sequence[int],
) -> Comparison:
    """Δ, its bootstrap interval and the t-test of a method cell against the baseline cell.

    Args:
        values: The method's ok values, one per seed.
        seeds: Their seeds.
        base_values: The baseline's ok values (same row).
        base_seeds: Their seeds.
    """
    if not len(values):
        return Comparison(math.nan, test=NO_VALUES)
    if not len(base_values):
        return Comparison(math.nan, test=NO_BASELINE)
    paired = pairs(seeds, base_seeds)
    a = _by_seed(values, seeds) if paired else np.asarray(values, dtype=float)
    b = _by_seed(base_values, base_seeds) if paired else np.asarray(base_values, dtype=float)
    delta = float(np.mean(a) - np.mean(b))
    points = tuple(float(x) for x in (a - b if paired else a - np.mean(b)))
    if min(len(a), len(b)) < 2:
        return Comparison(delta, n_pairs=len(a) if paired else 0, test=ONE_SEED, points=points)
    low, high = bootstrap_ci(a, b, paired=paired)
    test = paired_t(a, b) if paired else welch_t(a, b)
    common = dict(ci_low=low, ci_high=high, n_pairs=len(a) if paired else 0, points=points)
    if test is None:
        return Comparison(delta, test=ZERO_VARIANCE, **common)
    return Comparison(delta, test=PAIRED if paired else WELCH, statistic=test.statistic,
                      df=test.df, p=test.p, **common)


# ----------------------------------------------------------------------------- all comparisons
def _baselines(cells: pd.DataFrame) -> dict[tuple, pd.Series]:
    """The baseline cell of each row, where the row has exactly one."""
    out: dict[tuple, pd.Series] = {}
    base = cells[cells["method"] == BASELINE]
    for key, group in base.groupby(list(ROW_COLUMNS), sort=False, dropna=False):
        if len(group) == 1:
            out[key] = group.iloc[0]
    return out


def with_comparisons(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` (:func:`benchmark.reporting.table.cell_stats`) with the comparison columns.

    Adds :data:`COMPARISON_COLUMNS` (baseline rows: ``test == "reference"``, NaN numbers)
    and ``p_adj``, Benjamini–Hochberg over every p-value of ``cells``.
    """
    out = cells.copy()
    baselines = _baselines(cells)
    comparisons = []
    for _, cell in cells.iterrows():
        if cell["method"] == BASELINE:
            comparisons.append(Comparison(math.nan, test=REFERENCE))
            continue
        base = baselines.get(tuple(cell[c] for c in ROW_COLUMNS))
        comparisons.append(compare(cell["values"], cell["seeds"],
                                   () if base is None else base["values"],
                                   () if base is None else base["seeds"]))
    for column in COMPARISON_COLUMNS:
        out[column] = pd.Series([getattr(c, column) for c in comparisons], index=out.index,
                                dtype=object if column in ("test", "points") else None)
    out["n_pairs"] = out["n_pairs"].astype(int)
    for column in ("delta", "ci_low", "ci_high", "statistic", "df", "p"):
        out[column] = out[column].astype(float)
    out["p_adj"] = adjust_bh(out["p"].to_numpy(float)) if len(out) else []
    return out


# ----------------------------------------------------------------------------- outputs
def numeric_table(compared: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``stats.csv``: :data:`STATS_COLUMNS`, numbers as numbers.

    Args:
        compared: From :func:`with_comparisons`.
    """
    if compared.empty:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in STATS_COLUMNS})
    out = compared.copy()
    out["seeds"] = [" ".join(str(s) for s in seeds) for seeds in out["seeds"]]
    out["settings"] = [json.dumps(variants.definition(s, v), sort_keys=True, default=str,
                                  separators=(",", ":"))
                       for s, v in zip(out["setting_key"], out["variant_key"], strict=True)]
    out = out[list(STATS_COLUMNS)].reset_index(drop=True)
    return out.astype({c: _dtype(c) for c in STATS_COLUMNS})


def _dtype(column: str) -> Any:
    if column in ("n", "n_failed", "n_pairs"):
        return "int64"
    if column == "higher_is_better":
        return "bool"
    if column in ("mean", "std", "delta", "ci_low", "ci_high", "statistic", "df", "p", "p_adj"):
        return "float64"
    return "object"


def to_csv(numeric: pd.DataFrame) -> str:
    """``stats.csv`` text: floats to :data:`CSV_FLOAT_FORMAT`, NaN as an empty field."""
    return numeric.to_csv(index=False, lineterminator="\n", float_format=CSV_FLOAT_FORMAT)


def write_csv(numeric: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`to_csv` of ``numeric`` atomically to ``path``; return the path."""
    return write_atomic(path, to_csv(numeric))


def _json_value(column: str, value: Any) -> Any:
    if column == "seeds":
        return [int(s) for s in value.split()] if value else []
    if column == "settings":
        return json.loads(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def to_json(numeric: pd.DataFrame) -> str:
    """The rows of ``stats.csv`` as a JSON array of objects.

    NaN becomes ``null``, ``seeds`` a list of integers, ``settings`` an object.
    """
    rows = [{c: _json_value(c, row[c]) for c in numeric.columns} for _, row in numeric.iterrows()]
    return json.dumps(rows, indent=1, ensure_ascii=False) + "\n"
