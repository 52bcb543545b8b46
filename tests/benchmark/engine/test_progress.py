"""The console view of a run (progress line, noise filter) and the execution options."""

import io
import json
import logging

import pytest

from benchmark.engine.mmrun import check_vis_backend, quiet_console, vis_backends
from benchmark.engine.progress import ProgressLine, check_progress
from benchmark.engine.spec import RunSpec


def _epoch(progress: ProgressLine, epoch: int, iters: int) -> None:
    for i in range(iters):
        progress.iteration(epoch, i + 1, iters, (epoch - 1) * iters + i + 1, loss=2.0 - i / iters)


def test_lines_mode_prints_about_ten_lines_per_epoch_with_eta_loss_and_last_metric():
    out = io.StringIO()
    progress = ProgressLine("cls/x/m/has/seed0", total_epochs=2, mode="lines", stream=out)
    _epoch(progress, 1, 40)
    progress.epoch_summary(1, {"accuracy/top1": 61.25})
    _epoch(progress, 2, 40)
    lines = out.getvalue().splitlines()
    iteration_lines = [line for line in lines if " iter " in line]
    assert len(iteration_lines) == 20  # every 4th of 40 iterations, two epochs
    assert iteration_lines[0].startswith("[hasbench] cls/x/m/has/seed0 epoch 1/2 iter 4/40 eta ")
    assert "loss 1.9250" in iteration_lines[0]
    assert "[hasbench] cls/x/m/has/seed0 epoch 1/2: accuracy/top1=61.25" in lines
    assert iteration_lines[-1].endswith("| accuracy/top1 61.25")  # the last metric, epoch 2
    assert "epoch 2/2 iter 40/40 eta 0:00:00" in iteration_lines[-1]


def test_bar_mode_rewrites_one_line_and_off_mode_prints_summaries_only():
    bar = io.StringIO()
    progress = ProgressLine("run", total_epochs=1, mode="bar", stream=bar)
    _epoch(progress, 1, 5)
    progress.epoch_summary(1, {"top1": 1.0})
    assert bar.getvalue().count("\r") == 5 and bar.getvalue().count("\n") == 2
    off = io.StringIO()
    progress = ProgressLine("run", total_epochs=1, mode="off", stream=off)
    _epoch(progress, 1, 5)
    progress.epoch_summary(1, {"top1": 1.0})
    assert off.getvalue() == "[hasbench] run epoch 1/1: top1=1.00\n"
    with pytest.raises(ValueError, match="progress must be one of auto, bar, lines, off"):
        check_progress("fancy")


def test_console_handlers_drop_noise_and_info_while_the_log_file_keeps_both(tmp_path):
    console, log_file = io.StringIO(), tmp_path / "run.log"
    logger = logging.getLogger("hasbench-test-quiet")
    logger.setLevel(logging.INFO)
    logger.handlers = [logging.StreamHandler(console), logging.FileHandler(log_file)]
    quiet_console(logger)
    logger.warning('"FileClient" will be deprecated in future. Please use io functions')
    logger.info("Epoch(train) [1][10/32] eta: 0:00:40 loss: 2.2")
    logger.warning("a real warning")
    for handler in logger.handlers:
        handler.close()
    assert console.getvalue() == "a real warning\n"
    logged = log_file.read_text()
    assert "FileClient" in logged and "eta: 0:00:40" in logged and "a real warning" in logged


def test_execution_options_leave_the_run_id_alone_and_others_change_it():
    base = RunSpec("classification", method="has", epochs=1)
    watched = base.with_options(log_level="DEBUG", num_workers=4, vis_backend="tensorboard",
                                progress="off", launcher="pytorch")
    assert watched.run_id() == base.run_id()
    assert base.with_options(batch_size=4).run_id() != base.run_id()


def test_vis_backends_map_to_mmengine_and_missing_packages_are_named(monkeypatch):
    import importlib.util

    assert vis_backends("tensorboard") == [dict(type="LocalVisBackend"),
                                           dict(type="TensorboardVisBackend")]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ValueError, match=r"needs the 'wandb' package.*pip install wandb"):
        check_vis_backend("wandb")
    with pytest.raises(ValueError, match="unknown visualizer backend 'visdom'"):
        check_vis_backend("visdom")


def _scalar_tags(event_dir) -> set:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted(event_dir.rglob("events.out.tfevents.*"))
    assert files, f"no TensorBoard event file under {event_dir}"
    tags = set()
    for path in files:
        accumulator = EventAccumulator(str(path))
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
    return tags


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_a_one_epoch_run_shows_progress_logs_at_info_and_writes_tensorboard(
        capsys, tmp_path, tiny_cifar10):
    from benchmark.cli import main

    results = tmp_path / "res"
    code = main(["run", "classification", "--dataset", "cifar10", "--data-root",
                 str(tiny_cifar10), "--model", "resnet-tiny-cifar", "--method", "has",
                 "--epochs", "1", "--synthetic", "--results", str(results),
                 "--vis-backend", "tensorboard", "--progress", "lines", "--option", "batch_size=8"])
    out = capsys.readouterr()
    assert code == 0, out.err
    label = "classification/cifar10-synth/resnet-tiny-cifar/has/seed0"
    assert f"{label} epoch 1/1 iter 15/15 eta" in out.err
    assert "epoch 1/1: accuracy/top1=" in out.err
    for noise in ("Did not find last_checkpoint", "Loads checkpoint by", "will be deprecated"):
        assert noise not in out.err + out.out
    work = next((results / "work").iterdir())
    log = next(work.glob("*/*.log")).read_text()
    assert "Epoch(train) [1][10/15]" in log and "eta:" in log  # mmengine's own INFO lines
    assert "Did not find last_checkpoint to be resumed" in log  # noise goes to the log
    assert "loss" in _scalar_tags(work)
    record = json.loads(next((results / "records").glob("*.json")).read_text())
    assert record["provenance"]["torch_threads"] == 1  # `hasbench run` defaults to 1 thread
    assert work.name == RunSpec("classification", method="has", dataset="cifar10",
                                model="resnet-tiny-cifar", epochs=1, synthetic=True,
                                options=(("batch_size", 8),)).run_id()


@pytest.mark.parametrize("argv, message", [
    (["--threads", "0"], "threads must be a whole number >= 1"),
    (["--option", "num_workers=-1"], "num_workers must be a whole number >= 0"),
    (["--option", "log_level=LOUD"], "log_level must be one of DEBUG, INFO"),
    (["--option", "progress=fancy"], "progress must be one of auto, bar, lines, off"),
])
def test_bad_execution_options_exit_2_before_data_is_generated(capsys, tmp_path, argv, message):
    from benchmark.cli import main

    code = main(["run", "classification", "--synthetic", "--results", str(tmp_path / "r"), *argv])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "r" / "data").exists()


def test_the_local_worker_installs_the_known_warning_filters(monkeypatch):
    import warnings

    from benchmark.engine import local, runner

    class _Record:
        outcome = ("id", "ok", 0.0)

    monkeypatch.setattr(runner, "run_one", lambda *args, **kwargs: _Record())
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        local._run_in_worker((RunSpec("classification"), "/tmp", "demo"))
        warnings.warn("pkg_resources is deprecated as an API", UserWarning, stacklevel=1)
        warnings.warn("Multi-processing start method `fork` is different from the previous "
                      "setting `spawn`.It will be force set to `fork`.", UserWarning, stacklevel=1)
        warnings.warn("a real one", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["a real one"]
