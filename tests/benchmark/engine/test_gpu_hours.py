"""GPU-hour estimates of the dry run: measured throughput where there is one, else the limit."""

from __future__ import annotations

import csv

import pytest

from benchmark.engine import gpu_hours
from benchmark.engine import suite as suites
from benchmark.engine.spec import RunSpec

FIELDS = ("task", "dataset", "model", "method", "device", "amp", "unit", "samples_per_s",
          "tiny", "date", "error")
IMAGENET = 1_281_167  # tasks.classification's train_size
EPOCHS = 100  # its default epochs


def _row(**values):
    base = dict(task="classification", dataset="imagenet", model="resnet50", method="baseline",
                device="cuda", amp="none", unit="images", samples_per_s="1000", tiny="False",
                date="2026-12-01T10:00:00+00:00", error="")
    return {**base, **values}


def _write(folder, rows, name="throughput.csv"):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def _dry_run(capsys, tmp_path, only="task=classification"):
    from benchmark.cli import main

    assert main(["suite", "paper", "--dry-run", "--only", only,
                 "--results", str(tmp_path / "res")]) == 0
    return capsys.readouterr().out


def _grid(out):
    """{(dataset, method, seed): the estimate label} of the run lines."""
    found = {}
    for line in out.splitlines():
        if line.startswith("  missing"):
            parts = line.split()
            label = line[line.index("est="):].split(" (")[0]
            found[(parts[2], parts[4], parts[5])] = label
    return found


def test_dry_run_names_measured_and_limit_per_row_and_both_totals(tmp_path, capsys,
                                                                  monkeypatch):
    perf = _write(tmp_path / "perf", [
        _row(samples_per_s="1200"),
        _row(method="has", samples_per_s="1100", date="2026-12-01T10:01:00+00:00"),
        _row(samples_per_s="5", date="2026-12-02T00:00:00+00:00", tiny="True"),  # ignored
        _row(samples_per_s="5", date="2026-12-02T00:00:00+00:00", device="cpu"),  # ignored
        _row(samples_per_s="", error="OutOfMemoryError: ..."),  # ignored
    ])
    monkeypatch.setenv(gpu_hours.PERF_DIR_ENV, str(perf))
    out = _dry_run(capsys, tmp_path)
    grid = _grid(out)
    baseline = IMAGENET * EPOCHS / 1200 / 3600
    has = IMAGENET * EPOCHS / 1100 / 3600
    assert grid[("imagenet", "baseline", "seed=0")] == f"est=measured {baseline:.1f} h"
    assert grid[("imagenet", "has", "seed=2")] == f"est=measured {has:.1f} h"
    # random erasing was not measured: the baseline's figure, and the line says so
    assert grid[("imagenet", "random_erasing", "seed=1")] == f"est=measured {baseline:.1f} h"
    assert "(baseline's figure)" in next(line for line in out.splitlines()
                                         if "imagenet" in line and "random_erasing" in line)
    # CIFAR rows: nothing measured for resnet18-cifar, so 1 GPU x the 6 h limit
    assert grid[("cifar10", "baseline", "seed=0")] == "est=limit 6.0 h"
    assert grid[("cifar100", "has", "seed=1")] == "est=limit 6.0 h"
    runs = suites.select(suites.load_suite("paper").runs,
                         suites.parse_only("task=classification"))
    bound = sum(r.resources["gpus"] * r.resources["hours"] for r in runs)
    measured = 3 * (2 * baseline + has) + 18 * 6.0
    total = next(line for line in out.splitlines() if line.startswith("jobs:"))
    assert (f"GPU-hours: {measured:.1f} measured where available (9 of 27 runs measured, the "
            f"time limit for the rest), {bound:.1f} upper bound from time limits") in total
    assert "linear multi-GPU scaling" in out and str(perf) in out


def test_without_measurements_every_row_is_the_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(gpu_hours.PERF_DIR_ENV, str(tmp_path / "empty"))
    out = _dry_run(capsys, tmp_path, only="task=wsol,dataset=cub")
    grid = _grid(out)
    assert grid[("cub", "baseline", "seed=0")] == "est=limit 8.0 h"
    assert grid[("cub", "full-image", "seed=0")] == "est=none 0.0 h"  # trains nothing
    total = next(line for line in out.splitlines() if line.startswith("jobs:"))
    bound = 8.0 * (len(grid) - 1)
    assert (f"GPU-hours: {bound:.1f} measured where available (0 of {len(grid)} runs measured"
            in total and f"{bound:.1f} upper bound from time limits" in total)


def test_newest_row_of_the_own_dataset_wins(tmp_path):
    folder = _write(tmp_path, [_row(dataset="cub", samples_per_s="10"),
                               _row(samples_per_s="20"),
                               _row(samples_per_s="30", date="2026-12-03T00:00:00+00:00")],
                    name="a.csv")
    _write(folder, [_row(samples_per_s="40", date="2026-11-01T00:00:00+00:00")], name="b.csv")
    measured = gpu_hours.read_throughputs(folder)
    spec = RunSpec("classification", method="has", dataset="imagenet", model="resnet50",
                   device="cuda")
    found = gpu_hours.find_throughput(measured, spec)
    assert (found.samples_per_s, found.method, found.source) == (30.0, "baseline", "a.csv")
    other = gpu_hours.find_throughput(measured, RunSpec(
        "classification", dataset="cifar10", model="resnet50", device="cuda"))
    assert other.samples_per_s == 30.0  # no cifar10 row: the model's newest on any dataset
    amp = spec.with_options(amp="bfloat16")
    assert gpu_hours.find_throughput(measured, amp) is None  # only full-precision rows


def test_an_over_long_measured_run_is_flagged(tmp_path):
    measured = gpu_hours.read_throughputs(_write(tmp_path, [_row(samples_per_s="100")]))
    spec = RunSpec("classification", dataset="imagenet", model="resnet50", device="cuda",
                   epochs=EPOCHS)
    est = gpu_hours.estimate(spec, {"gpus": 8, "hours": 24}, measured)
    hours = IMAGENET * EPOCHS / 100 / 3600
    assert est.source == "measured" and est.gpu_hours == pytest.approx(hours)
    assert hours / 8 > 24 and est.over_limit and "OVER THE TIME LIMIT" in est.label
    assert est.limit_gpu_hours == 8 * 24


def test_schedules_and_folds():
    assert gpu_hours.samples_of_schedule(train_size=367, epochs=100) == 36_700
    assert gpu_hours.samples_of_schedule(iterations=20_000, batch_size=4, gpus=4) == 320_000
    assert gpu_hours.samples_of_schedule(train_size=None, epochs=3) is None
    ck = RunSpec("emotion", dataset="ckplus48")
    assert gpu_hours.fold_factor(ck) == pytest.approx(9.0)  # 10 folds, each on 9/10
    assert gpu_hours.fold_factor(ck.with_options(folds_to_run=2)) == pytest.approx(1.8)
    assert gpu_hours.fold_factor(RunSpec("emotion", dataset="fer2013")) == 1.0
