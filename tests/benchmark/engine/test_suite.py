"""Suite manifests: expansion into RunSpecs, HaS options, the paper grid's option checks."""

from __future__ import annotations

import pytest
import yaml

from benchmark.engine import suite as suites
from benchmark.methods import METHODS, method_for


def _write(tmp_path, runs, defaults=None):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(dict(name="s", defaults=defaults or {}, runs=runs)))
    return path


def test_has_options_join_hiding_methods_only(tmp_path):
    entry = dict(task="classification", dataset="cifar10", methods=["baseline", "random_erasing",
                                                                   "has", "has-32"],
                 options={"batch_size": 16},
                 has_options={"has_placement": "preprocessor", "has_hide_prob": 0.3})
    runs = suites.load_suite(str(_write(tmp_path, [entry])), tmp_path / "res").runs
    by_method = {r.spec.method: r.spec.option_dict for r in runs}
    assert by_method["baseline"] == by_method["random_erasing"] == {"batch_size": 16}
    assert by_method["has"] == {"batch_size": 16, "has_placement": "preprocessor",
                                "has_hide_prob": 0.3}
    assert by_method["has-32"]["has_placement"] == "preprocessor"
    plain = dict(entry, has_options={})
    plain_runs = suites.load_suite(str(_write(tmp_path, [plain])), tmp_path / "res").runs
    ids = {r.spec.method: r.spec.run_id() for r in plain_runs}
    assert ids["baseline"] == next(r.spec.run_id() for r in runs if r.spec.method == "baseline")
    assert ids["has"] != next(r.spec.run_id() for r in runs if r.spec.method == "has")


def test_unknown_has_option_is_named(tmp_path):
    entry = dict(task="classification", methods=["has"], has_options={"batch_size": 4})
    with pytest.raises(ValueError, match="not HaS options"):
        suites.load_suite(str(_write(tmp_path, [entry])), tmp_path / "res")


def test_paper_grid_has_options_pass_every_task_check():
    """Every paper-grid run's method and HaS options are accepted (no data needed)."""
    from tasks import get_task

    paper = suites.load_suite("paper", None)
    placements = set()
    for run in paper.runs:
        spec = run.spec
        method = method_for(spec.method, spec.option_dict)
        task = get_task(spec.task)
        if hasattr(task, "options"):
            task.options(task.resolve(spec))
        if METHODS[spec.method].hides:
            placements.add((spec.task, method.placement))
    assert ("classification", "preprocessor") in placements
    assert ("segmentation", "preprocessor") in placements
    assert ("video", "preprocessor") in placements
    assert ("reid", "pipeline") in placements and ("action_localization", "pipeline") in placements
