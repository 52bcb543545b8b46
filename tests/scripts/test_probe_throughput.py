"""``scripts/probe_throughput.py`` at tiny sizes on the CPU (nothing here is timed)."""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import subprocess
import sys

import pytest
import torch

from benchmark.engine.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "probe_throughput.py"


def _probe(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=600, env=env)


def test_tiny_probe_writes_baseline_and_has_rows_per_suite_row(tmp_path):
    out = tmp_path / "throughput.csv"
    proc = _probe("--tiny", "--device", "cpu", "--out", str(out),
                  "--only", "task=classification,task=action_localization")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader(out.open()))
    by_key = {(r["task"], r["dataset"], r["method"]): r for r in rows}
    expected = {(task, dataset, method)
                for task, dataset in (("classification", "imagenet"),
                                      ("classification", "cifar10"),
                                      ("classification", "cifar100"),
                                      ("action_localization", "thumos14-features"))
                for method in ("baseline", "has")}
    assert set(by_key) == expected and len(rows) == len(expected)
    for row in rows:
        speed = float(row["samples_per_s"])
        assert math.isfinite(speed) and speed > 0 and not row["error"]
        assert row["device"] == "cpu" and row["tiny"] == "True" and row["amp"] == "none"
        assert 1 <= int(row["batch_size"]) <= 2 and int(row["iterations"]) >= 2
        assert speed == pytest.approx(int(row["batch_size"]) * int(row["iterations"])
                                      / float(row["seconds"]), rel=1e-3)
        assert row["torch_version"] == torch.__version__ and row["date"]
    # HaS in the suite's placement: the data preprocessor (inside the timed train_step) for
    # the OpenMMLab image task, the pipeline (timed apart, per sample) for feature sequences.
    for dataset in ("imagenet", "cifar10", "cifar100"):
        has = by_key[("classification", dataset, "has")]
        assert (has["placement"], has["has_in_timed_loop"]) == ("preprocessor", "True")
        assert by_key[("classification", dataset, "baseline")]["has_in_timed_loop"] == "False"
    has = by_key[("action_localization", "thumos14-features", "has")]
    assert (has["placement"], has["has_in_timed_loop"]) == ("pipeline", "False")
    assert float(has["has_pipeline_us_per_sample"]) > 0 and has["unit"] == "sequences"
    assert by_key[("action_localization", "thumos14-features", "baseline")][
        "has_pipeline_us_per_sample"] == ""
    # the paper's input and head even at tiny sizes; stand-ins named where data is borrowed
    imagenet = by_key[("classification", "imagenet", "baseline")]
    assert (imagenet["input_shape"], imagenet["num_classes"]) == ("3x224x224", "1000")
    assert "imagenet" in imagenet["generated_from"]
    cifar100 = by_key[("classification", "cifar100", "has")]
    assert (cifar100["generated_from"], cifar100["num_classes"]) == ("cifar10", "100")
    assert cifar100["model"] == "resnet18-cifar" and cifar100["measured_model"] == (
        "resnet-tiny-cifar")
    assert "| task | dataset | model | method |" in proc.stdout


def test_probe_refuses_cuda_without_a_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    proc = _probe("--device", "cuda", "--out", str(tmp_path / "t.csv"))
    assert proc.returncode == 2 and "CUDA is not available; use --device cpu" in proc.stderr
    assert not (tmp_path / "t.csv").exists()


def test_timed_steps_skip_the_warm_up_and_cycle_the_batches(monkeypatch):
    spec = importlib.util.spec_from_file_location("probe_throughput", SCRIPT)
    probe = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, probe)  # its dataclasses look themselves up
    spec.loader.exec_module(probe)
    seen, syncs = [], []
    iterations, total = probe.time_steps(seen.append, ["a", "b", "c"], seconds=0.0, warmup=2,
                                         sync=lambda: syncs.append(1), min_iterations=3)
    assert iterations == 3 and total >= 0
    assert seen == ["a", "b", "c", "a", "b"]  # 2 warm-up calls, then 3 timed ones in turn
    assert len(syncs) == 1 + 2 * 3  # after the warm-up, and around every timed call
