"""``make bench-perf``'s scripts write their tables (tiny settings; nothing here is timed)."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
import torch

from benchmark.engine.paths import REPO_ROOT, data_dir


def _run(script, *args):
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / script), *args],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_has_speed_table(tmp_path):
    out = tmp_path / "has_speed.csv"
    _run("bench_has_speed.py", "--rounds", "2", "--image-calls", "1", "--batch-size", "2",
         "--bandwidth-device", "cpu", "--out", str(out))
    rows = list(csv.DictReader(out.open()))
    cases = {r["case"] for r in rows}
    assert {"copy (numpy)", "ours HideAndSeek stage (mmpretrain, uint8 kept)",
            "ours hide_patches_batch in place (has_placement=preprocessor)"} <= cases
    assert all(float(r["median_us"]) > 0 and r["cpu"] and int(r["cores"]) > 0 for r in rows)
    for row in rows:  # per-round ratios: the reference against itself is exactly 1
        low, high = float(row["ratio_q1"]), float(row["ratio_q3"])
        assert (low == high == 1.0) if row["case"] == row["reference"] else 0 < low <= high
    # The GB/s group (the GPU's, on a GPU machine) ran on the CPU: every batch case, with
    # the bytes of a 2x3x224x224 float32 batch read and written once per median call.
    device_rows = [r for r in rows if r["group"] == "cpu batch 2x3x224x224 float32"]
    batch_cases = {r["case"] for r in rows if r["group"] == "batch 2x3x224x224 float32"}
    assert {r["case"] for r in device_rows} == batch_cases
    for row in device_rows:
        expected = 2 * (2 * 3 * 224 * 224 * 4) / (float(row["median_us"]) * 1e-6) / 1e9
        assert float(row["gb_per_s"]) == pytest.approx(expected, rel=0.01, abs=0.06)
        assert row["device"] == row["cpu"] and row["clock"].startswith("perf_counter")


@pytest.mark.parametrize(("device", "message"), [
    ("gpu0", "'gpu0' is not a torch device"),
    ("cuda", "this machine has no CUDA device; leave the option out"),
])
def test_has_speed_rejects_a_device_it_cannot_use(device, message):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "bench_has_speed.py"),
         "--bandwidth-device", device], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]


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
