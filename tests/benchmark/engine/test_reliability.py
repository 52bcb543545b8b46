"""Runs that fail, get killed or see bad data: recorded honestly, resumed, or refused early."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.engine import records
from benchmark.engine.local import run_local
from benchmark.engine.mmrun import read_history
from benchmark.engine.spec import RunSpec
from benchmark.engine.suite import Suite, SuiteRun


def _spec(root, **kw):
    base = dict(task="classification", dataset="cifar10", data_root=str(root),
                model="resnet-tiny-cifar", epochs=1, synthetic=True,
                options=(("batch_size", 16),))
    base.update(kw)
    return RunSpec(**base)


def test_corrupt_image_is_named_before_training(tmp_path, capsys):
    from benchmark.cli import main
    from tasks.classification.synth import write_image_folder_layout

    write_image_folder_layout(tmp_path / "d", seed=0, train_per_class=2, test_per_class=1,
                              ext=".jpg")
    bad = tmp_path / "d" / "train" / "class3" / "0001.jpg"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated JPEG: right header, undecodable
    code = main(["run", "classification", "--dataset", "cifar10-jpeg", "--data-root",
                 str(tmp_path / "d"), "--results", str(tmp_path / "res")])
    err = capsys.readouterr().err
    assert code == 2 and str(bad) in err and "corrupt" in err
    assert not (tmp_path / "res" / "work").exists()


#: ``hasbench`` with a hook that, once epoch 1 is validated (and its history row written),
#: touches ``argv[1]`` and waits to be killed: the kill lands at a known point of the run.
PAUSE_AFTER_EPOCH_1 = """
import sys, time
from pathlib import Path
from mmengine.hooks import Hook
from mmengine.runner import Runner
marker, train = Path(sys.argv[1]), Runner.train
class Pause(Hook):
    def after_val_epoch(self, runner, metrics=None):
        if runner.epoch == 1:
            marker.touch()
            time.sleep(600)
def paused_train(runner):
    runner.register_hook(Pause(), priority="VERY_LOW")
    return train(runner)
Runner.train = paused_train
from benchmark.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _wait_for(path_glob, root: Path, proc, timeout_s=300):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        found = list(root.glob(path_glob))
        if found:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"run ended before {path_glob} appeared: {proc.stderr.read()}")
        time.sleep(0.2)
    raise AssertionError(f"{path_glob} never appeared")


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_resumes_to_the_same_epochs(tiny_cifar10, tmp_path):
    cli = ["run", "classification", "--dataset", "cifar10", "--data-root", str(tiny_cifar10),
           "--synthetic", "--model", "resnet-tiny-cifar", "--epochs", "2", "--option",
           "batch_size=16", "--results", str(tmp_path)]
    args = [sys.executable, "-m", "benchmark.cli", *cli]
    marker = tmp_path / "paused-after-epoch-1"
    pausing = [sys.executable, "-c", PAUSE_AFTER_EPOCH_1, str(marker), *cli]
    proc = subprocess.Popen(pausing, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _wait_for(marker.name, tmp_path, proc)  # epoch 1 trained and validated, then paused
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    run_id = _spec(tiny_cifar10, epochs=2).run_id()
    assert records.find_record(tmp_path, run_id) is None  # a killed run never counts as done
    work = tmp_path / "work" / run_id
    trained_before_kill = {row["epoch"] for row in read_history(work)}
    assert trained_before_kill == {1}  # paused after epoch 1, killed there
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    record = records.read_record(records.record_path(tmp_path, run_id))
    assert record.status == "ok"
    assert [row["epoch"] for row in record.history] == [1, 2]
    lines = (work / "history.jsonl").read_text().splitlines()
    epochs_logged = [json.loads(line)["epoch"] for line in lines]
    assert epochs_logged.count(1) == 1  # epoch 1 was not trained again after the kill
    import torch

    ckpt = torch.load(work / "epoch_2.pth", map_location="cpu", weights_only=False)
    assert ckpt["meta"]["epoch"] == 2


def test_stale_records_dir_files_never_count(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / ".x.json.tmp-123").write_text("{")
    assert records.read_records(tmp_path) == []
    assert records.find_record(tmp_path, "x") is None
    shutil.rmtree(folder)


@pytest.mark.slow
def test_resume_validates_an_epoch_whose_validation_was_lost(tiny_cifar10, tmp_path):
    spec = _spec(tiny_cifar10, epochs=1)
    first = run_local(Suite("t", tmp_path, [SuiteRun(spec)]), [SuiteRun(spec)])
    assert first[0][1] == "ok"
    work = tmp_path / "work" / spec.run_id()
    (work / "history.jsonl").write_text("")  # as if killed after the checkpoint, before val
    records.record_path(tmp_path, spec.run_id()).unlink()
    checkpoint = work / "epoch_1.pth"
    trained_at = checkpoint.stat().st_mtime_ns
    run_local(Suite("t", tmp_path, [SuiteRun(spec)]), [SuiteRun(spec)])
    record = records.read_record(records.record_path(tmp_path, spec.run_id()))
    assert [row["epoch"] for row in record.history] == [1]
    assert checkpoint.stat().st_mtime_ns == trained_at  # resumed: epoch 1 was not trained again
