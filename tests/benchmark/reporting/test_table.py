"""The results table: atomic merge under concurrent writers, half-written records, views."""

from __future__ import annotations

import importlib.util
import json
import math
import multiprocessing as mp
import random
import statistics
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.engine.records import Record, record_path, write_record
from benchmark.reporting import table as results

_spec = importlib.util.spec_from_file_location(
    "record_fixture", Path(__file__).parents[2] / "fixtures" / "record_fixture.py")
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)

WRITERS = 16
RECORDS_PER_WRITER = 25
CONTESTED_ID = "classification__contested__m__baseline__seed0__0"


def _record(run_id: str, seed: int, value: float) -> Record:
    return Record(run_id=run_id, task="classification", dataset="d", model="m",
                  method="baseline", seed=seed, status="ok",
                  metrics={"top1": value, "top5": value + 1},
                  higher_is_better={"top1": True, "top5": True},
                  provenance={"git_commit": "abc", "packages": {"torch": "2.14.1"}})


def _writer(results_dir: str, writer: int) -> None:
    for i in range(RECORDS_PER_WRITER):
        write_record(results_dir, _record(f"w{writer:02d}__r{i:03d}", writer * 1000 + i, i))
        if i % 5 == 0:  # every writer also rewrites one shared record
            write_record(results_dir, _record(CONTESTED_ID, 0, 1.0))


@pytest.mark.parametrize("writers", [WRITERS, 32])  # 16: the results issue; 32: the cluster one
def test_merge_under_concurrent_writers_loses_and_duplicates_nothing(tmp_path, writers):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w)) for w in range(writers)]
    for p in procs:
        p.start()
    seen, reads_while_writing = set(), 0
    while any(p.is_alive() for p in procs):
        with warnings.catch_warnings():  # a half-written record is an error, not a warning
            warnings.simplefilter("error")
            table = results.load_table(tmp_path)  # must always parse while writers write
        per_run = table.groupby("run_id").size()
        assert (per_run == 2).all()  # each run exactly its two metrics, never duplicated
        assert table["value"].notna().all()
        visible = set(per_run.index)
        assert seen <= visible, f"records disappeared: {sorted(seen - visible)[:5]}"
        seen, reads_while_writing = visible, reads_while_writing + 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    table = results.load_table(tmp_path)
    expected = {f"w{w:02d}__r{i:03d}" for w in range(writers) for i in range(RECORDS_PER_WRITER)}
    assert set(table["run_id"]) == expected | {CONTESTED_ID}
    assert len(table) == 2 * (len(expected) + 1)
    assert not list((tmp_path / "records").glob(".*tmp*"))  # no temp file left behind
    assert reads_while_writing >= 1, reads_while_writing  # the reader raced the writers


def test_half_written_records_never_count(tmp_path):
    write_record(tmp_path, _record("good", 0, 50.0))
    folder = tmp_path / "records"
    # killed before the rename: the temp file of the atomic write is left behind
    (folder / ".killed.json.tmp-x1y2").write_text('{"run_id": "killed", "task": "classif')
    # a truncated record (e.g. copied by hand, or a file system without atomic rename)
    full = record_path(tmp_path, "good").read_text()
    (folder / "truncated.json").write_text(full[: len(full) // 2])
    (folder / "not_an_object.json").write_text("[1, 2, 3]")
    with pytest.warns(UserWarning, match="skipping unreadable record") as caught:
        table = results.load_table(tmp_path)
    assert sorted(str(w.message).split()[3] for w in caught) == sorted(
        str(folder / n) + ":" for n in ("not_an_object.json", "truncated.json"))
    assert set(table["run_id"]) == {"good"}
    assert len(table) == 2


def test_tidy_rows_provenance_and_failed_runs(tmp_path):
    fixture.make_records(tmp_path, with_artifacts=False)
    table = results.load_table(tmp_path)
    assert list(table.columns[: len(results.RUN_COLUMNS)]) == list(results.RUN_COLUMNS)
    for col in ("git_commit", "config_hash", "device", "hostname", "start_time", "end_time",
                "wall_seconds", "epochs", "pkg_torch", "pkg_mmpretrain", "options", "work_dir"):
        assert col in table.columns, col
    assert set(table["pkg_torch"]) == {"2.14.1"}
    assert json.loads(table["options"].iat[0]) == {"batch_size": 8}
    n_runs = sum(len(seeds) for seeds in fixture.RUNS.values())
    assert table["run_id"].nunique() == n_runs
    assert not table.duplicated(["run_id", "metric"]).any()
    failed = table[table["status"] == "failed"]
    assert set(failed["run_id"]) == {
        fixture.run_id("classification", "cifar10-synth", "resnet_tiny", "has", 2),
        fixture.run_id("wsol", "tinyimagenet-synth", "resnet_tiny", "has", 0)}
    assert failed["value"].isna().all() and len(failed) == 4  # both metrics of both runs
    assert failed["reason"].str.contains("Error").all()
    assert table.loc[table["status"] == "ok", "value"].notna().all()
    mae = table[table["metric"] == "mae"]
    assert not mae["higher_is_better"].any()
    params = table.loc[table["method"] == "has", "method_params"].iat[0]
    assert json.loads(params) == {"grid_sizes": [0, 16, 32], "hide_prob": 0.5}


def test_table_order_is_deterministic(tmp_path):
    records = fixture.make_records(tmp_path / "a", with_artifacts=False)
    shuffled = list(records)
    random.Random(3).shuffle(shuffled)
    a = results.table_from_records(records)
    b = results.table_from_records(shuffled)
    pd.testing.assert_frame_equal(a, b)
    assert results.table_to_csv(a) == results.table_to_csv(b)
    assert list(a["task"].unique()) == ["classification", "wsol", "age_gender"]
    cls = a[a["task"] == "classification"]
    assert list(cls["method"].unique()) == ["baseline", "random_erasing", "has", "has-32"]


def _expected_cell(values: list[float], failed: int = 0) -> str:
    text = f"{statistics.mean(values):.2f}"
    if len(values) > 1:
        text += f" ± {statistics.stdev(values):.2f}"
    return text + f" (n={len(values)}" + (f", {failed} failed)" if failed else ")")


def _values(task, method, metric):
    key = next(k for k in fixture.RUNS if k[0] == task and k[3] == method)
    return [o[metric] for o in fixture.RUNS[key].values() if isinstance(o, dict)]


def test_comparison_view_cells_deltas_best_failed_missing(tmp_path):
    fixture.make_records(tmp_path, with_artifacts=False)
    view = results.comparison(results.load_table(tmp_path))
    assert list(view.columns) == [
        "task", "dataset", "model", "setting", "metric", "higher_is_better",
        "baseline", "random_erasing", "has", "has-32",
        "Δ random_erasing", "Δ has", "Δ has-32", "best"]
    assert len(view) == 6  # every (task, dataset, model, metric), failed ones included
    row = view[(view["task"] == "classification") & (view["metric"] == "top1")].iloc[0]
    for method in ("baseline", "random_erasing", "has-32"):
        assert row[method] == _expected_cell(_values("classification", method, "top1"))
    has = _values("classification", "has", "top1")
    assert row["has"] == _expected_cell(has, failed=1)
    base = _values("classification", "baseline", "top1")
    assert row["Δ has"] == f"{statistics.mean(has) - statistics.mean(base):+.2f}"
    assert row["has-32"].endswith("(n=1)") and "±" not in row["has-32"]
    assert row["best"] == "has"

    wsol = view[(view["task"] == "wsol") & (view["metric"] == "gt_known_loc")].iloc[0]
    assert wsol["random_erasing"] == "missing" and wsol["has-32"] == "missing"
    assert wsol["has"] == "failed (ValueError: CAM layer | not found)"
    assert wsol["baseline"] == "40.25 (n=1)"
    assert wsol["Δ has"] == "n/a" and wsol["Δ random_erasing"] == "n/a"
    assert wsol["best"] == "baseline"

    mae = view[view["metric"] == "mae"].iloc[0]
    assert not mae["higher_is_better"]
    assert mae["best"] == "has"  # lowest mean wins when lower is better
    assert mae["Δ has"].startswith("-")

    ordered = results.comparison(results.load_table(tmp_path),
                                 methods_order=["has", "baseline"])
    assert list(ordered.columns[6:10]) == ["has", "baseline", "has-32", "random_erasing"]
    assert (view["setting"] == "").all()  # one setting per (task, dataset, model): no label


def test_cell_stats_numbers(tmp_path):
    fixture.make_records(tmp_path, with_artifacts=False)
    stats = results.cell_stats(results.load_table(tmp_path))
    row = stats[(stats["metric"] == "top1") & (stats["method"] == "has")].iloc[0]
    assert row["n"] == 2 and row["n_failed"] == 1 and row["seeds"] == (0, 1)
    assert row["std"] == pytest.approx(np.std(_values("classification", "has", "top1"), ddof=1))
    single = stats[(stats["metric"] == "top1") & (stats["method"] == "has-32")].iloc[0]
    assert single["n"] == 1 and math.isnan(single["std"])


def test_render_formats(tmp_path):
    fixture.make_records(tmp_path, with_artifacts=False)
    view = results.comparison(results.load_table(tmp_path))
    md = results.render(view, "md")
    lines = md.strip().splitlines()
    assert len(lines) == len(view) + 2
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines[2:])
    assert all(line.count(" | ") == len(view.columns) - 1 for line in lines[2:])  # pipes escaped
    assert "**" + _expected_cell(_values("classification", "has", "top1"), 1) + "**" in md
    assert "failed (ValueError: CAM layer \\| not found)" in md
    assert "+0.00" in md and "-0.00" not in md
    csv = results.render(view, "csv")
    back = pd.read_csv(__import__("io").StringIO(csv))
    assert back.shape == view.shape
    tex = results.render(view, "latex")
    assert r"\toprule" in tex and r"$\pm$" in tex and r"gt\_known\_loc" in tex
    assert r"\textbf{" in tex and tex.count(r" \\") == len(view) + 1
    with pytest.raises(ValueError, match="md, csv, latex"):
        results.render(view, "html")


def test_write_views_is_byte_stable(tmp_path):
    fixture.make_records(tmp_path, with_artifacts=False)
    paths = results.write_views(tmp_path)
    assert [p.name for p in paths] == ["comparison.md", "comparison.csv", "comparison.tex",
                                       "table.csv", "stats.csv"]
    first = {p: p.read_bytes() for p in paths}
    assert all(first.values())
    results.write_views(tmp_path)
    assert {p: p.read_bytes() for p in paths} == first
    table = pd.read_csv(tmp_path / "table.csv")
    assert len(table) == len(results.load_table(tmp_path))


def test_empty_results_dir(tmp_path):
    table = results.load_table(tmp_path)
    assert table.empty and "value" in table.columns
    view = results.comparison(table)
    assert view.empty and {"baseline", "random_erasing", "has"} <= set(view.columns)
    assert results.render(view, "md").count("\n") == 2
