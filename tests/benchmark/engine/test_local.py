"""The local executor: parallel workers share the machine's cores out instead of each taking all."""

from __future__ import annotations

import os

import pytest

from benchmark.engine import records
from benchmark.engine.local import run_local, worker_threads
from benchmark.engine.spec import RunSpec
from benchmark.engine.suite import Suite, SuiteRun


def test_worker_threads_share_the_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert [worker_threads(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert worker_threads(2) is None  # the user's setting is left alone


@pytest.mark.slow
def test_parallel_workers_record_their_share_of_threads(tiny_cifar10, tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    specs = [RunSpec(task="classification", dataset="cifar10", data_root=str(tiny_cifar10),
                     model="resnet-tiny-cifar", method=method, epochs=1, synthetic=True,
                     options=(("batch_size", 16),)) for method in ("baseline", "has")]
    runs = [SuiteRun(s) for s in specs]
    outcomes = run_local(Suite("t", tmp_path, runs), runs, workers=2)
    assert [status for _, status, _ in outcomes] == ["ok", "ok"]
    expected = max(1, len(os.sched_getaffinity(0)) // 2)
    for spec in specs:
        record = records.read_record(records.record_path(tmp_path, spec.run_id()))
        assert record.provenance["torch_threads"] == expected


def test_a_crashing_run_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    import benchmark.engine.runner as runner

    def run_one(spec, results_dir, suite=None):
        if spec.method == "baseline":
            raise ImportError("cannot import name 'x'")
        return SimpleNamespace(outcome=(spec.run_id(), "ok", 1.0))

    monkeypatch.setattr(runner, "run_one", run_one)
    specs = [RunSpec(task="classification", dataset="cifar10", model="resnet-tiny-cifar",
                     method=m, epochs=1, synthetic=True) for m in ("baseline", "has")]
    runs = [SuiteRun(s) for s in specs]
    outcomes = run_local(Suite("t", tmp_path, runs), runs, workers=1)
    assert [o[:2] for o in outcomes] == [(specs[0].run_id(), "crashed"),
                                         (specs[1].run_id(), "ok")]
    assert "ImportError: cannot import name 'x'" in capsys.readouterr().err
    assert not records.record_path(tmp_path, specs[0].run_id()).exists()


def test_a_marker_left_by_a_killed_local_run_does_not_block_it(tmp_path):
    import json
    import socket
    import subprocess
    import sys

    from benchmark.engine.suite import run_state

    spec = RunSpec(task="classification", dataset="cifar10", model="resnet-tiny-cifar",
                   method="has", epochs=1, synthetic=True)
    marker = tmp_path / "work" / spec.run_id() / "running.json"
    marker.parent.mkdir(parents=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for host, pid, state in ((socket.gethostname(), int(gone), "missing"),  # killed here
                             (socket.gethostname(), os.getpid(), "running"),  # alive here
                             ("node-elsewhere", int(gone), "running")):  # a Slurm node's
        marker.write_text(json.dumps({"host": host, "pid": pid}))
        assert run_state(tmp_path, spec) == state, (host, pid)
