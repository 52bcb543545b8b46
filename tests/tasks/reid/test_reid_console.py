"""Re-ID runs show the same console progress and write torchreid's TensorBoard events."""

import pytest

from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from tasks.reid.synth import write_reid_layout

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = (("data.height", 64), ("data.width", 32), ("data.workers", 0), ("test.batch_size", 64),
        ("train.batch_size", 8))


@pytest.mark.slow
def test_reid_run_shows_progress_and_writes_tensorboard_loss(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = tmp_path / "market"
    write_reid_layout(root, seed=0, num_train_ids=6, num_test_ids=5, images_per_id=4,
                      num_cameras=3, num_distractor_images=4, num_junk_images=3)
    spec = RunSpec("reid", method="has", dataset="market1501", data_root=str(root),
                   model="osnet_x0_25", epochs=1, options=TINY, synthetic=True)
    watched = spec.with_options(vis_backend="tensorboard", progress="lines")
    record = run_one(watched, tmp_path / "res", raise_errors=True)
    err = capsys.readouterr().err
    assert record.status == "ok" and record.run_id == spec.run_id()
    assert "reid/market1501-synth/osnet_x0_25/has/seed0 epoch 1/1 iter 4/4 eta" in err
    assert "epoch 1/1: loss=" in err and "Cython evaluation" not in err
    events = list((tmp_path / "res" / "work" / record.run_id / "tensorboard").glob("events.*"))
    assert events, "torchreid's SummaryWriter wrote nothing"
    accumulator = EventAccumulator(str(events[0]))
    accumulator.Reload()
    assert "Train/loss" in accumulator.Tags()["scalars"]


def test_reid_refuses_dashboards_it_cannot_write(tmp_path, capsys):
    from benchmark.cli import main

    code = main(["run", "reid", "--synthetic", "--results", str(tmp_path / "res"),
                 "--vis-backend", "mlflow"])
    assert code == 2
    err = capsys.readouterr().err
    assert "mlflow" in err and not (tmp_path / "res" / "data").exists()
