"""Comparison statistics: pairing, tests, bootstrap, BH, grouping into cells, stats.csv, json."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from benchmark import cli
from benchmark.engine.spec import EXECUTION_OPTIONS
from benchmark.reporting import stats, variants
from benchmark.reporting import table as results

_spec = importlib.util.spec_from_file_location(
    "record_fixture", Path(__file__).parents[2] / "fixtures" / "record_fixture.py")
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)


def _t_two_sided(t: float, df: float) -> float:
    """Two-sided tail of Student's t, from the regularized incomplete beta function."""
    return float(special.betainc(df / 2, 0.5, df / (df + t * t)))


def _hand_paired(a, b):
    d = [x - y for x, y in zip(a, b, strict=True)]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    t = mean / (sd / math.sqrt(n))
    return t, n - 1, _t_two_sided(t, n - 1)


def _hand_welch(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    sa = sum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    sb = sum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    t = (ma - mb) / math.sqrt(sa + sb)
    df = (sa + sb) ** 2 / (sa**2 / (len(a) - 1) + sb**2 / (len(b) - 1))
    return t, df, _t_two_sided(t, df)


# ----------------------------------------------------------------------------- tests, by hand
def test_paired_t_matches_hand_formula_and_pairs_by_seed_not_position():
    a, b = [55.0, 57.5, 56.0, 59.0], [50.0, 52.0, 54.0, 53.0]
    t, df, p = _hand_paired(a, b)
    result = stats.paired_t(a, b)
    assert result.statistic == pytest.approx(t, rel=1e-12)
    assert result.df == df and result.p == pytest.approx(p, rel=1e-9)

    # the method's values come in another seed order: they still pair by seed
    comp = stats.compare([a[2], a[0], a[3], a[1]], [2, 0, 3, 1], b, [0, 1, 2, 3])
    assert comp.test == stats.PAIRED and comp.n_pairs == 4
    assert comp.p == pytest.approx(p, rel=1e-9)
    assert comp.statistic == pytest.approx(t, rel=1e-12)
    assert comp.delta == pytest.approx(statistics.mean(a) - statistics.mean(b))
    assert comp.points == pytest.approx([x - y for x, y in zip(a, b, strict=True)])
    assert comp.ci_low <= comp.delta <= comp.ci_high


def test_unpaired_seeds_use_welch():
    a, b = [55.0, 57.0, 56.5], [50.0, 52.0, 54.0, 51.0]
    t, df, p = _hand_welch(a, b)
    comp = stats.compare(a, [0, 1, 2], b, [0, 1, 2, 3])  # seed 3 only on the baseline side
    assert comp.test == stats.WELCH and comp.n_pairs == 0
    assert comp.statistic == pytest.approx(t, rel=1e-12)
    assert comp.df == pytest.approx(df, rel=1e-12)
    assert comp.p == pytest.approx(p, rel=1e-9)
    assert comp.points == pytest.approx([x - statistics.mean(b) for x in a])


def test_one_seed_gives_no_p_and_no_interval():
    unpaired = stats.compare([53.5], [0], [50.0, 52.0], [0, 1])
    paired = stats.compare([53.5], [0], [50.0], [0])  # one pair
    assert (unpaired.delta, paired.delta) == (pytest.approx(2.5), pytest.approx(3.5))
    for comp in (unpaired, paired):
        assert comp.test == stats.ONE_SEED
        assert math.isnan(comp.p) and math.isnan(comp.ci_low) and math.isnan(comp.ci_high)
    assert stats.compare([], [], [1.0, 2.0], [0, 1]).test == stats.NO_VALUES
    assert stats.compare([1.0, 2.0], [0, 1], [], []).test == stats.NO_BASELINE
    same_shift = stats.compare([3.0, 5.0], [0, 1], [1.0, 3.0], [0, 1])  # every d = +2
    assert same_shift.test == stats.ZERO_VARIANCE and math.isnan(same_shift.p)


def test_benjamini_hochberg_on_a_known_vector():
    # by hand: sorted p 0.01, 0.03, 0.04, 0.20 (m = 4) -> p * m / rank = 0.04, 0.06, 0.0533,
    # 0.20; running minimum from the largest rank down -> 0.04, 0.0533, 0.0533, 0.20
    expected = [0.04, 0.16 / 3, 0.16 / 3, 0.20]
    assert stats.adjust_bh([0.01, 0.04, 0.03, 0.20]) == pytest.approx(expected, rel=1e-12)
    with_gaps = stats.adjust_bh([0.01, math.nan, 0.04, 0.03, math.nan, 0.20])
    assert math.isnan(with_gaps[1]) and math.isnan(with_gaps[4])  # no test: not in the family
    assert with_gaps[[0, 2, 3, 5]] == pytest.approx(expected, rel=1e-12)


def test_bootstrap_is_paired_deterministic_and_percentile():
    base = [50.0, 60.0, 40.0, 55.0]
    method = [x + 2.0 for x in base]  # every seed gains exactly 2
    assert stats.bootstrap_ci(method, base, paired=True) == pytest.approx((2.0, 2.0))
    low, high = stats.bootstrap_ci(method, base, paired=False)  # seeds' spread dominates
    assert low < -2 and high > 6
    assert stats.bootstrap_ci(method, base, paired=False) == (low, high)  # fixed rng seed
    assert all(math.isnan(x) for x in stats.bootstrap_ci([1.0], [1.0, 2.0], paired=False))


# ----------------------------------------------------------------------------- the fixture
@pytest.fixture(scope="module")
def fixture_stats(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    fixture.make_records(root, with_artifacts=False)
    results.write_views(root)
    return root, pd.read_csv(root / "stats.csv", keep_default_na=True)


def _fixture_values(task, method, metric):
    key = next(k for k in fixture.RUNS if k[0] == task and k[3] == method)
    return [o[metric] for o in fixture.RUNS[key].values() if isinstance(o, dict)]


def _row(frame, task, metric, method):
    rows = frame[(frame["task"] == task) & (frame["metric"] == metric)
                 & (frame["method"] == method)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_stats_csv_is_numeric_and_matches_hand_statistics(fixture_stats):
    _, frame = fixture_stats
    assert list(frame.columns) == list(stats.STATS_COLUMNS)
    for column in ("mean", "std", "delta", "ci_low", "ci_high", "statistic", "df", "p", "p_adj"):
        assert frame[column].dtype == np.float64, column
    for column in ("n", "n_failed", "n_pairs"):
        assert frame[column].dtype == np.int64, column
    assert frame["higher_is_better"].dtype == bool
    assert not frame.duplicated(list(results.CELL_KEYS)).any()
    assert len(frame) == 18  # every (task, dataset, model, metric, method) with a run

    re_ = _row(frame, "classification", "top1", "random_erasing")
    a, b = (_fixture_values("classification", m, "top1") for m in ("random_erasing", "baseline"))
    assert re_["test"] == stats.PAIRED and re_["n_pairs"] == 3
    assert re_["p"] == pytest.approx(_hand_paired(a, b)[2], rel=1e-8)
    assert re_["delta"] == pytest.approx(statistics.mean(a) - statistics.mean(b))
    assert re_["mean"] == pytest.approx(statistics.mean(a))
    assert re_["std"] == pytest.approx(statistics.stdev(a))

    has = _row(frame, "classification", "top1", "has")
    a = _fixture_values("classification", "has", "top1")
    assert has["test"] == stats.WELCH and has["n"] == 2 and has["n_failed"] == 1
    assert has["p"] == pytest.approx(_hand_welch(a, b)[2], rel=1e-8)

    single = _row(frame, "classification", "top1", "has-32")
    assert single["test"] == stats.ONE_SEED and single["n"] == 1
    assert math.isnan(single["p"]) and math.isnan(single["ci_low"])
    assert _row(frame, "classification", "top1", "baseline")["test"] == stats.REFERENCE

    tested = frame["p"].notna()
    assert tested.sum() == 8
    assert frame.loc[tested, "p_adj"].to_numpy() == pytest.approx(
        stats.adjust_bh(frame.loc[tested, "p"].to_numpy()), rel=1e-8)  # one family: the report
    assert frame.loc[~tested, "p_adj"].isna().all()
    settings = json.loads(has["settings"])
    assert settings == {"epochs": fixture.EPOCHS, "options": fixture.OPTIONS,
                        "method_options": {}, "method_params": {"grid_sizes": [0, 16, 32],
                                                                "hide_prob": 0.5}}


def test_stats_csv_regenerates_byte_for_byte(fixture_stats):
    root, _ = fixture_stats
    before = (root / "stats.csv").read_bytes()
    results.write_views(root)
    assert (root / "stats.csv").read_bytes() == before


def test_table_format_json_parses(fixture_stats, capsys):
    root, frame = fixture_stats
    assert cli.main(["table", "--results", str(root), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(frame) and set(rows[0]) == set(stats.STATS_COLUMNS)
    has = next(r for r in rows if r["method"] == "has" and r["metric"] == "top1")
    assert isinstance(has["p"], float) and isinstance(has["n"], int)
    assert has["seeds"] == [0, 1] and has["settings"]["epochs"] == fixture.EPOCHS
    single = next(r for r in rows if r["method"] == "has-32" and r["metric"] == "top1")
    assert single["p"] is None and single["test"] == stats.ONE_SEED
    back = pd.read_csv(io.StringIO(stats.to_csv(pd.DataFrame(rows).assign(
        seeds=lambda f: f["seeds"].map(lambda s: " ".join(map(str, s)))))))
    assert back["p"].dtype == np.float64


# ----------------------------------------------------------------------------- grouping
CLS = ("classification", "cifar10-synth", "resnet_tiny")


def _runs(method, values, **kwargs):
    return [fixture.custom_record(*CLS, method, seed, {"top1": v}, **kwargs)
            for seed, v in enumerate(values)]


def _grouped(tmp_path, records):
    fixture.write_records(tmp_path, records)
    table = results.load_table(tmp_path)
    return results.cell_stats(table), stats.with_comparisons(results.cell_stats(table))


def test_two_hide_probs_make_two_rows_not_one_pooled_mean(tmp_path):
    low = _runs("has", [60.0, 62.0, 61.0], options={**fixture.OPTIONS, "has_hide_prob": 0.25},
                method_params={"hide_prob": 0.25})
    high = _runs("has", [50.0, 52.0, 57.0], options={**fixture.OPTIONS, "has_hide_prob": 0.5},
                 method_params={"hide_prob": 0.5})
    base = _runs("baseline", [50.0, 51.0, 52.0])
    _, compared = _grouped(tmp_path, base + low + high)
    has = compared[compared["method"] == "has"].set_index("variant")
    assert list(has.index) == ["has (has_hide_prob=0.25)", "has (has_hide_prob=0.5)"]
    assert has.loc["has (has_hide_prob=0.25)", "mean"] == pytest.approx(61.0)
    assert has.loc["has (has_hide_prob=0.5)", "mean"] == pytest.approx(53.0)
    assert (has["n"] == 3).all()  # not one cell of 6 "seeds"
    assert has.loc["has (has_hide_prob=0.25)", "delta"] == pytest.approx(10.0)
    assert (has["test"] == stats.PAIRED).all()  # both against the one baseline, by seed
    view = results.comparison(results.load_table(tmp_path))
    assert {"has (has_hide_prob=0.25)", "has (has_hide_prob=0.5)",
            "Δ has (has_hide_prob=0.25)"} <= set(view.columns)
    assert "has" not in view.columns and len(view) == 1


def test_other_epochs_make_their_own_row_with_their_own_baseline(tmp_path):
    records = (_runs("baseline", [50.0, 51.0]) + _runs("has", [53.0, 55.0])
               + _runs("baseline", [70.0, 72.0], epochs=10) + _runs("has", [71.0, 74.0], epochs=10)
               + _runs("random_erasing", [80.0, 81.0], epochs=5))
    _, compared = _grouped(tmp_path, records)
    assert list(dict.fromkeys(compared["setting"])) == ["epochs=2", "epochs=5", "epochs=10"]
    has = compared[compared["method"] == "has"].set_index("setting")
    assert has.loc["epochs=2", "delta"] == pytest.approx(54.0 - 50.5)
    assert has.loc["epochs=10", "delta"] == pytest.approx(72.5 - 71.0)
    lonely = compared[compared["setting"] == "epochs=5"].iloc[0]  # no baseline at 5 epochs
    assert lonely["test"] == stats.NO_BASELINE and math.isnan(lonely["delta"])
    assert (compared["variant"] == compared["method"]).all()  # one variant each: plain names


def test_execution_options_and_weights_location_do_not_split_a_cell(tmp_path):
    execution = sorted(EXECUTION_OPTIONS)[0]
    records = [
        fixture.custom_record(*CLS, "baseline", 0, {"top1": 50.0},
                              options={**fixture.OPTIONS, execution: "a", "pretrained": "/x/w.pth",
                                       "pretrained_sha256": "ab" * 32}),
        fixture.custom_record(*CLS, "baseline", 1, {"top1": 52.0},
                              options={**fixture.OPTIONS, execution: "b", "pretrained": "/y/w.pth",
                                       "pretrained_sha256": "ab" * 32}),
        fixture.custom_record(*CLS, "baseline", 2, {"top1": 90.0},
                              options={**fixture.OPTIONS, "pretrained": "/x/w.pth",
                                       "pretrained_sha256": "cd" * 32}),
    ]
    cells, _ = _grouped(tmp_path, records)
    assert list(cells["n"]) == [2, 1]  # other weights (by content): another setting
    assert list(cells["setting"]) == ["pretrained=sha256:" + "ab" * 6,
                                      "pretrained=sha256:" + "cd" * 6]


def test_a_failed_seed_joins_its_variant(tmp_path):
    # a failed record has no method_params; it must not become a variant of its own
    records = (_runs("baseline", [50.0, 51.0, 52.0])
               + _runs("has", [53.0, 55.0], method_params={"hide_prob": 0.5})
               + [fixture.custom_record(*CLS, "has", 2, None, higher_is_better={"top1": True})])
    cells, compared = _grouped(tmp_path, records)
    has = cells[cells["method"] == "has"]
    assert len(has) == 1 and has["n"].iat[0] == 2 and has["n_failed"].iat[0] == 1
    assert has["variant"].iat[0] == "has"
    assert compared.loc[compared["method"] == "has", "test"].iat[0] == stats.WELCH


def test_variant_labels_name_what_differs():
    keys = [json.dumps({"options": {"has_hide_prob": p}, "params": {"hide_prob": p}})
            for p in (0.5, 0.25)]
    assert variants.variant_labels("has", keys) == {
        keys[0]: "has (has_hide_prob=0.5)", keys[1]: "has (has_hide_prob=0.25)"}
    assert variants.variant_labels("has", keys[:1]) == {keys[0]: "has"}
    by_params = [json.dumps({"options": {}, "params": {"grid": g}}) for g in ([16], [32])]
    assert list(variants.variant_labels("has", by_params).values()) == [
        "has (grid=[16])", "has (grid=[32])"]
    settings = [json.dumps({"epochs": e, "options": {"batch_size": 8}}) for e in (2, 10)]
    assert list(variants.setting_labels(settings).values()) == ["epochs=2", "epochs=10"]
    assert list(variants.setting_labels(settings[:1]).values()) == [""]
