"""The one results table, merged from the run records, and its derived comparison views.

``load_table`` reads every complete record under ``<results_dir>/records`` (see
:mod:`benchmark.engine.records`) into a tidy pandas table with ONE ROW PER (run, metric)::

    task, dataset, model, method, method_params, seed, split, metric, value,
    higher_is_better, status, reason, suite, run_id, <provenance columns...>

Provenance is flattened: ``packages`` becomes one ``pkg_<name>`` column per package, other
scalars keep their key (``git_commit``, ``config_hash``, ``device``, ``start_time``,
``wall_seconds``, ``epochs``, ...), nested values become sorted JSON strings. A failed run
keeps one row per expected metric with a NaN value and ``status == "failed"``: it is never
dropped.

``cell_stats`` groups the runs into comparison cells, runs that differ in their seed only
(:mod:`benchmark.reporting.variants`): one per (task, dataset, model, setting, metric,
method, variant). ``comparison`` derives the wide view: one row per (task, dataset, model,
setting, metric), one column per method variant (baseline | random_erasing | has | other
methods, in :data:`METHOD_ORDER`), each cell ``mean ± std (n=…)`` over the ok seeds, a
``Δ <variant>`` column per non-baseline variant (difference of means vs the row's baseline)
and a ``best`` column naming the best variant(s) of the row, respecting ``higher_is_better``.
Failed and missing cells say so. ``render`` writes a view as Markdown, CSV or LaTeX;
``write_views`` writes ``comparison.{md,csv,tex}`` (display strings), ``table.csv`` and
``stats.csv`` (:func:`stats_table`: the numbers, with intervals and tests, for analysis).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.engine.records import Record, read_records, write_atomic
from benchmark.reporting import stats as cell_statistics
from benchmark.reporting import variants
from benchmark.reporting.document import Span, markdown_table

#: Column order of methods in the views; methods not listed follow alphabetically.
METHOD_ORDER = (
    "baseline", "random_erasing", "has", "has-16", "has-32", "has-44", "has-56",
    "has+random_erasing", "cutout", "gridmask", "cutmix",
)
#: Methods that always get a column in a view (shown as "missing" when absent).
CORE_METHODS = ("baseline", "random_erasing", "has")
#: Order of tasks in views and reports; unknown tasks follow alphabetically.
TASK_ORDER = (
    "classification", "wsol", "wsss", "segmentation", "weak_segmentation", "emotion", "age_gender",
    "action_localization", "reid",
)
BASELINE = "baseline"

RUN_COLUMNS = (
    "task", "dataset", "model", "method", "method_params", "seed", "split", "metric", "value",
    "higher_is_better", "status", "reason", "suite", "run_id",
)
#: Provenance columns that always exist (empty when a record lacks them), in this order.
PROVENANCE_COLUMNS = (
    "git_commit", "git_dirty", "config_hash", "device", "hostname", "start_time", "end_time",
    "wall_seconds", "epochs",
)
KEY_COLUMNS = ("task", "dataset", "model", "metric")
#: A row of the views: cells of one row share everything but the method (and its variant).
ROW_COLUMNS = ("task", "dataset", "model", "setting", "metric")
#: A comparison cell: runs that differ in their seed only.
CELL_KEYS = (*ROW_COLUMNS, "method", "variant")
MISSING = "missing"
#: The numeric statistics file beside the tidy table (one row per cell, see :mod:`.stats`).
STATS_CSV = "stats.csv"
#: Longest failure reason shown inside a view cell (the tidy table keeps the full text).
REASON_CHARS = 60


# ----------------------------------------------------------------------------- ordering
def method_rank(method: str, order: Sequence[str] = METHOD_ORDER) -> tuple[int, str]:
    """Sort key of a method: its position in ``order``, then alphabetical."""
    return (order.index(method), "") if method in order else (len(order), method)


def task_rank(task: str) -> tuple[int, str]:
    """Sort key of a task: its position in :data:`TASK_ORDER`, then alphabetical."""
    return method_rank(task, TASK_ORDER)


def order_methods(
    methods: Iterable[str], order: Sequence[str] | None = None, *, core: bool = True
) -> list[str]:
    """The distinct ``methods`` (plus the core ones when ``core``) in column order."""
    names = set(methods) | (set(CORE_METHODS) if core else set())
    return sorted(names, key=lambda m: method_rank(m, tuple(order or METHOD_ORDER)))


# ----------------------------------------------------------------------------- tidy table
def _stable_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _flatten_provenance(provenance: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = dict.fromkeys(PROVENANCE_COLUMNS)
    for key, value in provenance.items():
        if key == "packages" and isinstance(value, dict):
            flat.update({f"pkg_{name}": str(ver) for name, ver in value.items()})
        elif isinstance(value, (dict, list, tuple)):
            flat[key] = _stable_json(value)
        else:
            flat[key] = value
    return flat


def _metric_value(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def record_rows(record: Record) -> list[dict[str, Any]]:
    """The tidy rows of one record: one per metric (a failed run keeps its expected metrics).

    A record without any metric name (neither ``metrics`` nor ``higher_is_better``) still
    yields one row, with an empty metric name, so it is never silently dropped.
    """
    names = list(record.metrics) or list(record.higher_is_better) or [""]
    common = {
        "task": record.task, "dataset": record.dataset, "model": record.model,
        "method": record.method, "method_params": _stable_json(record.method_params or {}),
        "seed": record.seed, "split": record.split, "status": record.status,
        "reason": record.reason, "suite": record.suite, "run_id": record.run_id,
        **_flatten_provenance(record.provenance or {}),
    }
    rows = []
    for name in names:
        value = _metric_value(record.metrics.get(name))
        hib = record.higher_is_better.get(name)
        rows.append({**common, "metric": name, "value": value,
                     "higher_is_better": None if hib is None else bool(hib)})
    return rows


def empty_table() -> pd.DataFrame:
    """A table with the standard columns and no rows."""
    return _typed(pd.DataFrame(columns=[*RUN_COLUMNS, *PROVENANCE_COLUMNS]))


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    table["seed"] = pd.to_numeric(table["seed"]).astype("Int64")
    table["value"] = pd.to_numeric(table["value"]).astype(float)
    table["higher_is_better"] = table["higher_is_better"].astype("boolean")
    table["epochs"] = pd.to_numeric(table["epochs"]).astype("Int64")
    table["wall_seconds"] = pd.to_numeric(table["wall_seconds"]).astype(float)
    table["git_dirty"] = table["git_dirty"].astype("boolean")
    return table


def table_from_records(records: Iterable[Record]) -> pd.DataFrame:
    """The tidy table of ``records`` (see the module docstring), in a deterministic order."""
    rows = [row for record in records for row in record_rows(record)]
    if not rows:
        return empty_table()
    table = pd.DataFrame(rows)
    extra = sorted(set(table.columns) - set(RUN_COLUMNS) - set(PROVENANCE_COLUMNS))
    table = _typed(table[[*RUN_COLUMNS, *PROVENANCE_COLUMNS, *extra]])
    keys = [
        (task_rank(str(r.task)), str(r.dataset), str(r.model), method_rank(str(r.method)),
         int(r.seed), str(r.run_id), str(r.metric))
        for r in table[["task", "dataset", "model", "method", "seed", "run_id", "metric"]]
        .itertuples(index=False)
    ]
    order = sorted(range(len(table)), key=keys.__getitem__)
    return table.iloc[order].reset_index(drop=True)


def load_table(results_dir: str | Path) -> pd.DataFrame:
    """Merge every complete record under ``results_dir/records`` into the tidy table.

    Temporary files of unfinished writes never count; an unreadable (e.g. truncated) record
    is skipped with a warning naming it (see :func:`benchmark.engine.records.read_records`).
    """
    return table_from_records(read_records(results_dir))


def table_to_csv(table: pd.DataFrame, path: str | Path | None = None) -> str:
    """The tidy table as CSV text (written atomically to ``path`` when given)."""
    text = table.to_csv(index=False, lineterminator="\n")
    if path is not None:
        write_atomic(path, text)
    return text


# ----------------------------------------------------------------------------- cell stats
def short_reason(reason: Any, chars: int = REASON_CHARS) -> str:
    """A failure reason on one line, cut to ``chars`` characters (``unknown`` when absent)."""
    text = " ".join(reason.split()) if isinstance(reason, str) and reason else "unknown"
    return text if len(text) <= chars else text[: chars - 1] + "…"


def cell_stats(table: pd.DataFrame) -> pd.DataFrame:
    """Per comparison cell: the numbers behind a view cell.

    A cell is (task, dataset, model, setting, metric, method, variant): runs that differ in
    their seed only (see :mod:`benchmark.reporting.variants` for setting and variant).

    Columns: :data:`CELL_KEYS`, ``higher_is_better``, ``n`` (ok seeds with a finite value),
    ``mean``, ``std`` (sample std, NaN when ``n < 2``), ``values`` (tuple, by seed), ``seeds``
    (tuple), ``n_failed`` (failed runs), ``reasons`` (tuple of distinct failure reasons,
    sorted), ``run_ids`` (tuple), ``setting_key`` and ``variant_key`` (JSON of the
    run-defining settings). Only cells with at least one run appear; see :func:`comparison`
    for missing ones.
    """
    columns = [*CELL_KEYS, "higher_is_better", "n", "mean", "std", "values", "seeds",
               "n_failed", "reasons", "run_ids", "setting_key", "variant_key"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    grouped = variants.assign(table)
    out = []
    for key, group in grouped.groupby(list(CELL_KEYS), sort=False, dropna=False):
        out.append({**dict(zip(CELL_KEYS, key, strict=True)), **_cell(group)})
    return _sort_cells(pd.DataFrame(out, columns=columns))


def _cell(group: pd.DataFrame) -> dict[str, Any]:
    """The numbers of one cell's tidy rows."""
    ok = group[(group["status"] == "ok") & np.isfinite(group["value"].to_numpy(float))]
    ok = ok.sort_values(["seed", "run_id"], kind="stable")
    failed = group[group["status"] != "ok"]
    values = tuple(float(v) for v in ok["value"])
    hib = group["higher_is_better"].dropna()
    return {
        "higher_is_better": bool(hib.iat[0]) if len(hib) else True,
        "n": len(values),
        "mean": float(np.mean(values)) if values else math.nan,
        "std": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
        "values": values,
        "seeds": tuple(int(s) for s in ok["seed"]),
        "n_failed": int(failed["run_id"].nunique()),
        "reasons": tuple(sorted({str(r) for r in failed["reason"].dropna()})),
        "run_ids": tuple(sorted(set(group["run_id"]))),
        "setting_key": group["setting_key"].iat[0],
        "variant_key": group["variant_key"].iat[0],
    }


def _row_rank(row: pd.Series) -> tuple:
    return (task_rank(str(row["task"])), str(row["dataset"]), str(row["model"]),
            variants.natural_key(str(row["setting"])), str(row["metric"]))


def _sort_cells(frame: pd.DataFrame) -> pd.DataFrame:
    def key(i: int) -> tuple:
        row = frame.iloc[i]
        return (*_row_rank(row), method_rank(str(row["method"])),
                variants.natural_key(str(row["variant"])))

    return frame.iloc[sorted(range(len(frame)), key=key)].reset_index(drop=True)


# ----------------------------------------------------------------------------- formatting
def decimals_for(values: Iterable[float]) -> int:
    """Decimals used for a row: 4 when every finite |value| is below 1, else 2."""
    finite = [abs(v) for v in values if isinstance(v, float) and math.isfinite(v)]
    return 4 if finite and max(finite) < 1 else 2


def format_cell(stat: pd.Series | dict | None, decimals: int = 2) -> str:
    """``mean ± std (n=…)``, ``failed (reason)`` or ``missing`` for one view cell."""
    if stat is None:
        return MISSING
    n, n_failed = int(stat["n"]), int(stat["n_failed"])
    if n == 0:
        if n_failed:
            reasons = stat["reasons"]
            return f"failed ({short_reason(reasons[0] if reasons else None)})"
        return "no finite value"
    text = f"{stat['mean']:.{decimals}f}"
    if n > 1:
        text += f" ± {stat['std']:.{decimals}f}"
    return text + f" (n={n}" + (f", {n_failed} failed)" if n_failed else ")")


def format_delta(delta: float, decimals: int = 2) -> str:
    """A signed difference, e.g. ``+1.20`` (``n/a`` when undefined)."""
    if not math.isfinite(delta):
        return "n/a"
    return f"{round(delta, decimals) + 0.0:+.{decimals}f}"  # + 0.0: no "-0.00"


def best_methods(stats: dict[str, Any], higher_is_better: bool) -> list[str]:
    """Methods whose mean is the best of the row (ties all count); none when no ok cell."""
    means = {m: s["mean"] for m, s in stats.items() if s is not None and s["n"] > 0}
    if not means:
        return []
    target = max(means.values()) if higher_is_better else min(means.values())
    return [m for m, v in means.items() if v == target]


# ----------------------------------------------------------------------------- views
def view_columns(
    stats: pd.DataFrame, methods_order: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """The (method, variant) columns of a view, in column order.

    Methods follow ``methods_order`` (default :data:`METHOD_ORDER`, unknown ones
    alphabetically), variants of one method their label in natural order. A core method
    without any cell gets its plain column (shown as missing).
    """
    order = tuple(methods_order or METHOD_ORDER)
    pairs = dict.fromkeys(zip(stats["method"], stats["variant"], strict=True)) if len(
        stats) else {}
    have = {m for m, _ in pairs}
    pairs.update({(m, m): None for m in CORE_METHODS if m not in have})
    return sorted(pairs, key=lambda mv: (method_rank(mv[0], order),
                                         variants.natural_key(mv[1])))


def baseline_cell(cells: pd.DataFrame) -> pd.Series | None:
    """The baseline cell among one row's cells (``None`` unless there is exactly one)."""
    base = cells[cells["method"] == BASELINE]
    return base.iloc[0] if len(base) == 1 else None


def _view_row(key: tuple, group: pd.DataFrame, columns: list[tuple[str, str]]) -> dict:
    by_variant = {v: None for _, v in columns}
    by_variant.update({str(r["variant"]): r for _, r in group.iterrows()})
    hib = bool(group["higher_is_better"].iat[0])
    decimals = decimals_for([float(v) for vals in group["values"] for v in vals])
    row: dict[str, Any] = dict(zip(ROW_COLUMNS, key, strict=True))
    row["higher_is_better"] = hib
    for _, v in columns:
        row[v] = format_cell(by_variant[v], decimals)
    base = baseline_cell(group)
    for m, v in columns:
        if m == BASELINE:
            continue
        cell = by_variant[v]
        ok = base is not None and cell is not None and base["n"] > 0 and cell["n"] > 0
        row[f"Δ {v}"] = format_delta(cell["mean"] - base["mean"] if ok else math.nan, decimals)
    row["best"] = ",".join(best_methods(by_variant, hib))
    return row


def comparison(table: pd.DataFrame, methods_order: Sequence[str] | None = None) -> pd.DataFrame:
    """The wide comparison view of the tidy table.

    Args:
        table: From :func:`load_table`.
        methods_order: Column order of methods (default :data:`METHOD_ORDER`); methods not
            listed follow alphabetically. Baseline, random erasing and HaS always get a column.

    Returns:
        One row per (task, dataset, model, setting, metric): those keys (``setting`` names
        what differs between the epochs / options of one (task, dataset, model), empty when
        they agree), ``higher_is_better``, one text column per method variant (``mean ± std
        (n=…)`` / ``failed (reason)`` / ``missing``; named by the method, or ``method
        (what differs)`` when a method ran in several variants), ``Δ <variant>`` per
        non-baseline variant (mean − the same row's baseline mean, ``n/a`` when either is
        absent) and ``best`` (comma-separated best variants of the row).
    """
    stats = cell_stats(table)
    columns = view_columns(stats, methods_order)
    header = [*ROW_COLUMNS, "higher_is_better",
              *(v for _, v in columns), *(f"Δ {v}" for m, v in columns if m != BASELINE),
              "best"]
    rows = [_view_row(key, group, columns)
            for key, group in stats.groupby(list(ROW_COLUMNS), sort=False, dropna=False)]
    return pd.DataFrame(rows, columns=header)


def stats_table(table: pd.DataFrame) -> pd.DataFrame:
    """The numeric statistics of every cell (``stats.csv``; see :mod:`.stats`)."""
    return cell_statistics.numeric_table(cell_statistics.with_comparisons(cell_stats(table)))


# ----------------------------------------------------------------------------- rendering
def _best_cells(view: pd.DataFrame) -> set[tuple[int, str]]:
    if "best" not in view.columns:
        return set()
    return {(i, m) for i, best in enumerate(view["best"]) if isinstance(best, str)
            for m in best.split(",") if m and m in view.columns}


def _cell_text(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    if value is None or value is pd.NA:
        return ""
    return str(value)


def render_markdown(view: pd.DataFrame) -> str:
    """The view as a Markdown table (``document.markdown_table``); best cells in bold."""
    best = _best_cells(view)
    rows = [[Span(_cell_text(view[col].iat[i]), bold=(i, col) in best) for col in view.columns]
            for i in range(len(view))]
    return markdown_table([str(c) for c in view.columns], rows)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "±": r"$\pm$", "Δ": r"$\Delta$", "…": r"\ldots{}",
}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def render_latex(view: pd.DataFrame) -> str:
    """A booktabs ``tabular`` (needs the booktabs package); best cells in bold."""
    best = _best_cells(view)
    lines = [r"\begin{tabular}{" + "l" * len(view.columns) + "}", r"\toprule",
             " & ".join(_latex_escape(str(c)) for c in view.columns) + r" \\", r"\midrule"]
    for i in range(len(view)):
        cells = []
        for col in view.columns:
            text = _latex_escape(_cell_text(view[col].iat[i]))
            cells.append(r"\textbf{" + text + "}" if (i, col) in best else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


VIEW_SUFFIX = {"md": ".md", "csv": ".csv", "latex": ".tex"}


def _format_name(fmt: str) -> str:
    """``md``, ``csv`` or ``latex`` for ``fmt`` (``markdown`` and ``tex`` too).

    Raises:
        ValueError: for an unknown format, naming the known ones.
    """
    fmt = {"markdown": "md", "tex": "latex"}.get(fmt, fmt)
    if fmt not in VIEW_SUFFIX:
        raise ValueError(f"unknown table format {fmt!r}; use one of: md, csv, latex")
    return fmt


def render(view: pd.DataFrame, fmt: str) -> str:
    """Render a view (or the tidy table) as ``md``, ``csv`` or ``latex`` text.

    Raises:
        ValueError: for an unknown format, naming the known ones.
    """
    fmt = _format_name(fmt)
    if fmt == "md":
        return render_markdown(view)
    if fmt == "csv":
        return view.to_csv(index=False, lineterminator="\n")
    return render_latex(view)


def write_views(
    results_dir: str | Path, formats: Sequence[str] = ("md", "csv", "latex")
) -> list[Path]:
    """Write ``comparison.{md,csv,tex}`` (the requested formats), ``table.csv``, ``stats.csv``.

    Returns:
        The written paths: the comparison views in ``formats`` order, then ``table.csv`` and
        ``stats.csv`` (the numeric statistics, :func:`stats_table`).
    """
    results_dir = Path(results_dir)
    formats = [_format_name(fmt) for fmt in formats]
    table = load_table(results_dir)
    view = comparison(table)
    paths = []
    for fmt in formats:
        paths.append(write_atomic(results_dir / f"comparison{VIEW_SUFFIX[fmt]}",
                                       render(view, fmt)))
    table_to_csv(table, results_dir / "table.csv")
    paths.append(results_dir / "table.csv")
    paths.append(cell_statistics.write_csv(stats_table(table), results_dir / STATS_CSV))
    return paths
