"""The ablation suites: every axis of the paper's analysis is a run of the grid, and every run's
method and options pass the checks a real run makes before training (no data needed)."""

from __future__ import annotations

import pytest

from benchmark.engine import suite as suites
from benchmark.methods import method_for
from tasks import get_task


def _checked_runs(name: str) -> list:
    suite = suites.load_suite(name, None)
    for run in suite.runs:
        task = get_task(run.spec.task)
        resolved = task.resolve(run.spec)
        task.check_method(resolved)  # the method applies to the task (exit 2 otherwise)
        task.check_options(resolved)  # the options are the task's (pooling, has_conv_*)
        method_for(resolved.method, resolved.option_dict)  # HaS options well-formed
    return suite.runs


def _axes(runs: list) -> set[tuple]:
    """(task, method, option, value) for every run, options flattened."""
    found = set()
    for run in runs:
        spec = run.spec
        found.add((spec.task, spec.method, None, None))
        for key, value in spec.options:
            found.add((spec.task, spec.method, key, tuple(value) if isinstance(value, list)
                       else value))
    return found


@pytest.mark.parametrize("name", ["ablations", "ablations-cpu"])
def test_every_ablation_axis_is_in_the_grid_and_passes_the_checks(name):
    axes = _axes(_checked_runs(name))
    for prob in ((0.25, 0.33, 0.66, 0.75) if name == "ablations" else (0.25, 0.75)):
        assert ("wsol", "has", "has_hide_prob", prob) in axes
    assert {("wsol", "baseline", "pooling", "gmp"), ("wsol", "has-56", "pooling", "gmp")} <= axes
    assert ("wsol", "has-conv", "has_conv_grid_sizes", (5,)) in axes
    assert {("wsol", "dropout-train", None, None),
            ("wsol", "dropout-traintest", None, None)} <= axes
    assert ("wsol", "has", "has_fill", "random") in axes
    assert ("classification", "has", "has_grid_policy", "absolute") in axes
    family = {(task, method) for task, method, _, _ in axes
              if method in ("cutout", "gridmask", "cutmix")}
    assert {("classification", "cutmix"), ("segmentation", "gridmask"),
            ("emotion", "cutout")} <= family
    if name == "ablations":
        assert ("wsol", "has-conv", "has_conv_grid_sizes", (11,)) in axes
        assert ("wsol", "has", "has_fill", "zero") in axes
        assert {"classification", "wsol", "segmentation", "emotion", "age_gender", "video",
                "reid"} <= {task for task, _ in family}


def test_the_cluster_grid_dry_run_prints_its_job_count(capsys):
    from benchmark.cli import main

    assert main(["suite", "ablations", "--dry-run"]) == 0
    out = capsys.readouterr().out
    runs = suites.load_suite("ablations", None).runs
    assert f"jobs: {len(runs)}," in out and len(runs) > 100
    assert out.count("has-conv") == 6  # two cell sizes x 3 seeds
