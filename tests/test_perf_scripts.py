"""``make bench-perf``'s scripts write their tables (tiny settings; nothing here is timed)."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from benchmark.paths import REPO_ROOT, data_dir


def _run(script, *args):
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / script), *args],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_has_speed_table(tmp_path):
    out = tmp_path / "has_speed.csv"
    _run("bench_has_speed.py", "--rounds", "2", "--image-calls", "1", "--batch-size", "2",
         "--out", str(out))
    rows = list(csv.DictReader(out.open()))
    cases = {r["case"] for r in rows}
    assert {"copy (numpy)", "ours HideAndSeek stage (mmpretrain, uint8 kept)",
            "ours hide_patches_batch in place (has_placement=preprocessor)"} <= cases
    assert all(float(r["median_us"]) > 0 and r["cpu"] and int(r["cores"]) > 0 for r in rows)


@pytest.mark.slow
def test_pipeline_throughput_table(tmp_path):
    root = data_dir() / "cifar10-jpeg-subset"  # the task's default root for cifar10-jpeg
    if not root.exists():
        pytest.skip(f"real data subset missing: {root} (set HASBENCH_DATA to the shared data)")
    out = tmp_path / "throughput.csv"
    _run("bench_pipeline_throughput.py", "--passes", "1", "--images", "16", "--batch-size",
         "8", "--pipelines", "cifar", "--out", str(out))
    rows = {r["case"]: r for r in csv.DictReader(out.open())}
    for case in ("baseline", "has", "has_float32", "has_preprocessor"):
        assert rows[case]["unit"] == "images/s" and float(rows[case]["value"]) > 0
    assert rows["has_stage_us_per_image"]["unit"] == "microseconds"
    assert {"has_overhead", "has_preprocessor_overhead_loader_only"} <= set(rows)
