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


def _states_printed(text):
    """The run states, in order, that ``hasbench suite --dry-run`` prints."""
    return [line.split()[0] for line in text.splitlines() if line.startswith("  ")]


@pytest.mark.slow
def test_local_suite_skips_finished_retries_failed_and_counts_states(tiny_cifar10, tmp_path,
                                                                     capsys):
    """Two runs, the first of which fails (NaN loss): recorded as failed, the suite goes on and
    exits 1; then skip / retry / status / dry run."""
    from benchmark.cli import main
    from benchmark.engine import records
    from tasks import get_task

    entry = dict(task="classification", dataset="cifar10", synthetic=True,
                 data_root=str(tiny_cifar10), model="resnet-tiny-cifar", methods=["baseline"],
                 epochs=1, options={"batch_size": 16})
    path = _write(tmp_path, [dict(entry, options={"batch_size": 16, "lr": 1e12}), entry])
    results = tmp_path / "res"
    suite = suites.load_suite(str(path), results)
    failing_id, ok_id = (get_task(r.spec.task).resolve(r.spec).run_id() for r in suite.runs)

    def cli(*argv):
        code = main([*argv, str(path), "--results", str(results)])
        return code, capsys.readouterr()

    code, out = cli("suite", "--dry-run")
    assert code == 0 and _states_printed(out.out) == ["missing", "missing"]
    assert "pending: 2" in out.out
    code, out = cli("suite")
    assert code == 1  # one run failed, and the suite went on to the next
    assert records.find_record(results, ok_id).ok
    failed = records.read_record(records.record_path(results, failing_id))
    assert failed.status == "failed" and "NonFiniteLossError" in failed.reason
    assert "lower the learning rate" in failed.reason
    assert failed.metrics == {"top1": None, "top5": None}
    assert records.find_record(results, failing_id) is not None
    assert not records.find_record(results, failing_id).ok
    code, out = cli("status")
    row = next(line.split() for line in out.out.splitlines() if "classification" in line)
    assert code == 0 and row[1:] == ["baseline", "1", "0", "0", "1", "0"]  # done stale running
    # failed missing
    code, out = cli("suite", "--dry-run")
    assert _states_printed(out.out) == ["failed", "done"] and "pending: 1" in out.out
    stamps = {i: records.record_path(results, i).stat().st_mtime_ns for i in (ok_id, failing_id)}
    code, out = cli("suite")
    assert code == 0 and "2 already recorded, 0 to run" in out.err
    assert all(records.record_path(results, i).stat().st_mtime_ns == t for i, t in stamps.items())
    code, out = cli("suite", "--retry-failed")
    assert code == 1 and "1 already recorded, 1 to run" in out.err
    assert records.record_path(results, ok_id).stat().st_mtime_ns == stamps[ok_id]
    assert records.record_path(results, failing_id).stat().st_mtime_ns != stamps[failing_id]


@pytest.mark.slow
def test_a_code_change_marks_the_run_stale_and_rerun_keeps_the_previous_record(
        tiny_cifar10, tmp_path, capsys, monkeypatch):
    from benchmark.cli import main
    from benchmark.engine import records
    from benchmark.reporting.table import load_table
    from tasks import get_task

    entry = dict(task="classification", dataset="cifar10", synthetic=True,
                 data_root=str(tiny_cifar10), model="resnet-tiny-cifar", methods=["baseline"],
                 epochs=1, options={"batch_size": 16})
    path = _write(tmp_path, [entry])
    results = tmp_path / "res"

    def cli(*argv):
        code = main([*argv, str(path), "--results", str(results)])
        return code, capsys.readouterr()

    assert cli("suite")[0] == 0
    run_id = get_task("classification").resolve(
        suites.load_suite(str(path), results).runs[0].spec).run_id()
    first = records.find_record(results, run_id)
    assert first.provenance["built_config_hash"] and first.provenance["cpu_model"]
    assert first.provenance["torch_threads"] >= 1 and first.provenance["cpu_capability"]
    code, out = cli("status")
    assert code == 0 and "stale" not in out.out.split("missing", 1)[1]

    task_class = type(get_task("classification"))
    build = task_class.build_config

    def changed_code(self, spec):  # what a changed default in the code would do
        cfg, params = build(self, spec)
        cfg.optim_wrapper.optimizer.lr = 0.0123
        return cfg, params

    monkeypatch.setattr(task_class, "build_config", changed_code)
    code, out = cli("status")
    row = next(line.split() for line in out.out.splitlines() if "classification" in line)
    assert row[1:] == ["baseline", "0", "1", "0", "0", "0"] and "--rerun stale" in out.out
    assert cli("suite")[0] == 0 and records.find_record(results, run_id) == first  # skipped
    code, out = cli("suite", "--rerun", "stale")
    assert code == 0 and "previous record kept" in out.err
    previous = results / "records" / f"{run_id}.prev.json"
    assert records.read_record(previous).provenance == first.provenance
    second = records.find_record(results, run_id)
    assert second.provenance["built_config_hash"] != first.provenance["built_config_hash"]
    assert (results / "work" / f"{run_id}.prev").is_dir()
    assert len(load_table(results)) == len(first.metrics)  # one record's rows, never both
