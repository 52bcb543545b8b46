"""The slurm executor: settings and grouping (no Slurm needed), then a real single-node Slurm.

The cluster test starts munge, MariaDB, slurmdbd, slurmctld and slurmd on localhost
(``tests/slurm_local.py``), submits a two-run suite, cancels one run midway with
``scancel``, reruns the suite through the CLI and checks the merged table.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from benchmark.engine import records
from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.slurm import (
    SlurmSettings,
    group_runs,
    job_parameters,
    job_spec,
    job_state,
    outcome,
    submit_slurm,
    wait_slurm,
)
from benchmark.engine.spec import RunSpec
from benchmark.engine.suite import SuiteRun, load_suite, run_state


def _helper():
    spec = importlib.util.spec_from_file_location("slurm_local", REPO_ROOT / "tests" /
                                                  "slurm_local.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(method="baseline", task="classification", options=(), **resources) -> SuiteRun:
    spec = RunSpec(task=task, method=method, dataset="cifar10", model="resnet-tiny-cifar",
                   epochs=1, options=tuple(options))
    return SuiteRun(spec, {"gpus": 1, "cpus": 4, "mem_gb": 16, "hours": 2.0, **resources})


# --------------------------------------------------------------------------- without Slurm
def test_settings_flags_win_over_env_vars():
    env = {"HASBENCH_SLURM_PARTITION": "gpu", "HASBENCH_SLURM_ACCOUNT": "lab",
           "HASBENCH_SLURM_QOS": "low", "HASBENCH_SLURM_TIME_MIN": "90",
           "HASBENCH_SLURM_ARRAY_PARALLELISM": "8", "HASBENCH_SLURM_LOG_DIR": "/logs/%j"}
    settings = SlurmSettings.resolve(env, partition="debug", time_min=None)
    assert settings == SlurmSettings(partition="debug", account="lab", qos="low", time_min=90,
                                     log_dir="/logs/%j", array_parallelism=8)
    assert SlurmSettings.resolve({}) == SlurmSettings()


@pytest.mark.parametrize("name, value", [("TIME_MIN", "1.5"), ("TIME_MIN", "0"),
                                         ("ARRAY_PARALLELISM", "many")])
def test_bad_settings_name_the_variable(name, value):
    with pytest.raises(ValueError, match=f"HASBENCH_SLURM_{name}"):
        SlurmSettings.resolve({f"HASBENCH_SLURM_{name}": value})


def test_resources_become_job_parameters():
    params = job_parameters(_run(gpus=1, cpus=4, mem_gb=16, hours=1.01),
                            SlurmSettings(partition="p", qos="q"), "mmpretrain")
    assert params["gpus_per_node"] == 1 and params["cpus_per_task"] == 4
    assert params["mem"] == "16GB" and params["time"] == 61  # minutes, rounded up
    assert params["partition"] == "p" and params["qos"] == "q" and "account" not in params
    cpu_only = job_parameters(_run(gpus=0, mem_gb=0.5), SlurmSettings(time_min=7))
    assert "gpus_per_node" not in cpu_only and cpu_only["mem"] == "512MB"
    assert cpu_only["time"] == 7  # the time limit setting overrides the run's hours


def test_multi_gpu_uses_mmengine_launcher_tasks():
    run = _run(gpus=4, cpus=16)
    params = job_parameters(run, SlurmSettings(), "mmpretrain")
    assert params["ntasks_per_node"] == 4 and params["gpus_per_node"] == 4
    assert params["cpus_per_task"] == 4
    spec = job_spec(run, "mmpretrain")
    assert spec.option_dict["launcher"] == "slurm"
    assert spec.run_id() == run.spec.run_id()  # same record whichever executor runs it
    assert job_spec(_run(gpus=1), "mmseg").option_dict.get("launcher") is None
    assert job_parameters(_run(gpus=1), SlurmSettings(), "mmseg")["ntasks_per_node"] == 1
    reid = _run(task="reid", gpus=2)
    assert job_parameters(reid, SlurmSettings(), "torchreid")["ntasks_per_node"] == 1
    assert job_spec(reid, "torchreid") == reid.spec  # torchreid: DataParallel in one task
    explicit = _run(gpus=2, options=[("launcher", "pytorch")])
    assert job_parameters(explicit, SlurmSettings(), "mmseg")["ntasks_per_node"] == 1


def test_runs_with_identical_resources_share_one_array():
    two_gpus = _run("baseline", gpus=2, options=[("launcher", "slurm")])
    runs = [_run("baseline"), _run("has"), two_gpus, _run("random_erasing"), _run("has", hours=8)]
    groups = group_runs(runs, SlurmSettings())
    assert [[r.spec.method for r in group] for _, group in groups] == [
        ["baseline", "has", "random_erasing"], ["baseline"], ["has"]]
    assert sum(len(group) for _, group in groups) == len(runs)


def test_bad_resources_are_rejected_before_submission():
    with pytest.raises(ValueError, match="resources"):
        job_parameters(_run(cpus="four"), SlurmSettings())
    with pytest.raises(ValueError, match="hours > 0"):
        job_parameters(_run(hours=0), SlurmSettings())


class _FakeJob:
    """Just enough of a submitit job for :func:`benchmark.engine.slurm.outcome`."""

    def __init__(self, folder: Path, state: str):
        self.job_id = "7_1"
        self.watcher = self
        self._state = state
        self.paths = type("Paths", (), {"result_pickle": folder / "none.pkl",
                                        "stderr": folder / "7_1_log.err"})()

    def get_state(self, job_id, mode="standard"):
        return self._state


def _record(run_id: str, status: str) -> records.Record:
    return records.Record(run_id=run_id, task="classification", dataset="cifar10-synth",
                          model="m", method="has", seed=0, status=status,
                          metrics={"top1": 1.0 if status == "ok" else None},
                          higher_is_better={"top1": True},
                          provenance={"wall_seconds": 3.5})


@pytest.mark.parametrize("state, expected", [("CANCELLED by 0", "cancelled"),
                                             ("FAILED", "failed"), ("TIMEOUT", "failed"),
                                             ("COMPLETED", "missing")])
def test_outcome_without_a_record_follows_the_job_state(tmp_path, state, expected):
    from benchmark.engine.slurm import Submission

    run = _run("has")
    marker = tmp_path / "work" / "r1" / "running.json"
    marker.parent.mkdir(parents=True)
    marker.write_text("{}")
    records.write_record(tmp_path, _record("r1", "failed"))  # stale: before submission
    stale = records.record_path(tmp_path, "r1")
    sub = Submission(run, "r1", _FakeJob(tmp_path, state),
                     (stale.stat().st_mtime_ns, stale.stat().st_ino))
    assert outcome(sub, tmp_path) == ("r1", expected, 0.0)
    assert not marker.exists()  # the job is over: the run must read as missing, not running


def test_outcome_prefers_the_record_the_job_wrote(tmp_path):
    from benchmark.engine.slurm import Submission

    sub = Submission(_run("has"), "r2", _FakeJob(tmp_path, "CANCELLED by 0"), None)
    records.write_record(tmp_path, _record("r2", "ok"))  # finished within the kill grace time
    assert outcome(sub, tmp_path) == ("r2", "ok", 3.5)


# --------------------------------------------------------------------------- real Slurm
@pytest.fixture(scope="module")
def slurm_cluster():
    """A single-node Slurm with accounting on localhost, stopped after the module."""
    helper = _helper()
    missing = helper.missing_binaries()
    if missing:
        pytest.skip(f"Slurm not installed (missing {', '.join(missing)}); "
                    f"apt-get install {helper.APT_PACKAGES}")
    if os.geteuid() != 0:
        pytest.skip("the local Slurm test starts slurmd, which needs root")
    # short path: the munge socket path must fit a unix socket address (108 bytes)
    cluster = helper.LocalSlurm(tempfile.mkdtemp(prefix="hasbench-slurm-", dir="/tmp"))
    try:
        cluster.start()
    except helper.SlurmStartError as err:
        pytest.skip(f"the local Slurm could not start: {err}")
    # the daemons must not outlive this process, even when it is terminated
    atexit.register(cluster.stop)
    previous_handler = signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    saved = os.environ.get("SLURM_CONF")
    os.environ.update(cluster.env())
    print(f"\nlocal Slurm started in {cluster.start_seconds:.1f} s under {cluster.root}")
    try:
        yield cluster
    finally:
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved
        cluster.stop()
        atexit.unregister(cluster.stop)
        signal.signal(signal.SIGTERM, previous_handler)


def _tiny_suite(tmp_path: Path) -> Path:
    from tasks.classification.synth import write_cifar10_layout

    data = tmp_path / "data"
    write_cifar10_layout(data, seed=0, train_per_class=12, test_per_class=6)
    manifest = {
        "name": "slurm-test", "results": str(tmp_path / "results"),
        "defaults": {"seeds": [0], "device": "cpu",
                     "resources": {"gpus": 0, "cpus": 1, "mem_gb": 1, "hours": 0.1}},
        # the run to cancel trains long enough (20 short epochs) that scancel lands mid-run
        "runs": [{"task": "classification", "dataset": "cifar10", "synthetic": True,
                  "data_root": str(data), "model": "resnet-tiny-cifar",
                  "methods": [method], "epochs": epochs, "options": {"batch_size": 16}}
                 for method, epochs in (("baseline", 1), ("has", 20))],
    }
    path = tmp_path / "slurm-test.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def _wait_for(predicate, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.slurm
def test_suite_on_slurm_cancel_and_rerun(slurm_cluster, tmp_path, capsys):
    from benchmark import cli

    manifest = _tiny_suite(tmp_path)
    suite = load_suite(str(manifest))
    results = suite.results_dir
    assert [run_state(results, r.spec) for r in suite.runs] == ["missing", "missing"]

    start = time.monotonic()
    submissions = submit_slurm(suite, suite.runs, SlurmSettings.resolve({}))
    keep, victim = submissions  # baseline, has
    assert victim.run.spec.method == "has"
    marker = results / "work" / victim.run_id / "running.json"
    _wait_for(marker.exists, 90, f"{victim.run_id} to start training")
    assert not records.record_path(results, victim.run_id).exists()
    subprocess.run(["scancel", victim.job.job_id], check=True, timeout=30)
    wait_slurm(submissions, poll_seconds=1)
    first_pass_seconds = time.monotonic() - start

    outcomes = {s.run_id: outcome(s, results) for s in submissions}
    assert outcomes[keep.run_id][1] == "ok"
    assert outcomes[victim.run_id][1] == "cancelled"
    assert job_state(victim.job, mode="force") == "CANCELLED"
    # the result file can arrive before accounting has the job's end
    _wait_for(lambda: job_state(keep.job, mode="force") == "COMPLETED", 30,
              "sacct to show the finished job as COMPLETED")
    assert records.find_record(results, victim.run_id) is None
    assert run_state(results, victim.run.spec) == "missing"  # stale running marker removed
    kept_record = records.record_path(results, keep.run_id)
    kept_stamp = kept_record.stat().st_mtime_ns

    # rerun through the CLI: the finished run is skipped, the cancelled one runs
    capsys.readouterr()
    start = time.monotonic()
    code = cli.main(["suite", str(manifest), "--executor", "slurm", "--time-min", "5"])
    rerun_seconds = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 0, err
    assert "1 already recorded, 1 to run" in err
    assert "time=5" in err  # the --time-min flag reached the job
    assert kept_record.stat().st_mtime_ns == kept_stamp
    assert records.find_record(results, victim.run_id).ok

    recs = records.read_records(results)
    assert sorted(r.run_id for r in recs) == sorted(s.run_id for s in submissions)
    assert all(r.ok and r.provenance.get("slurm_job_id") for r in recs)
    from benchmark.reporting.table import load_table

    table = load_table(results)
    assert set(table["method"]) == {"baseline", "has"}
    assert not table.duplicated(["run_id", "metric"]).any()
    assert (table["status"] == "ok").all() and table["value"].notna().all()
    per_run = table.groupby("run_id")["metric"].nunique()
    assert len(per_run) == 2 and per_run.nunique() == 1
    print(f"\nfirst pass (2 runs, one cancelled) {first_pass_seconds:.1f} s; "
          f"rerun of the cancelled run {rerun_seconds:.1f} s")
