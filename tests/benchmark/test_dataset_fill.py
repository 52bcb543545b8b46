"""HaS fills with the training set's mean pixel where the normalizer uses ImageNet's."""

import cv2
import numpy as np
import pytest
import torch

from benchmark import methods
from benchmark.dataset_mean import mean_pixel_bgr
from benchmark.engine.spec import RunSpec
from benchmark.pipelines.preprocessors import BatchHideAndSeek

IMAGENET = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def test_mean_pixel_is_the_mean_over_every_pixel_in_bgr(tmp_path):
    small = np.zeros((2, 2, 3), np.uint8)
    small[..., 0] = 40  # blue
    large = np.full((4, 4, 3), (100, 20, 7), np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), small)
    cv2.imwrite(str(tmp_path / "b.png"), large)
    mean = mean_pixel_bgr([tmp_path / "a.png", tmp_path / "b.png"])
    # 4 pixels (40, 0, 0) and 16 pixels (100, 20, 7): weighted by pixel count.
    assert mean == pytest.approx([(4 * 40 + 16 * 100) / 20, 16 * 20 / 20, 16 * 7 / 20])
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match=r"bad\.png"):
        mean_pixel_bgr([tmp_path / "bad.png"])


def test_fill_mean_reaches_the_stage_random_erasing_and_the_preprocessor():
    cfg = {"train_dataloader": {"dataset": {"pipeline": [{"type": "PackInputs"}]}},
           "model": {"data_preprocessor": dict(IMAGENET)}}
    fill = [50.0, 60.0, 70.0]  # B, G, R
    new, params = methods.apply_method_to_mm_config(cfg, "has+random_erasing",
                                                    scope="mmpretrain", image_hw=(64, 64),
                                                    fill_mean=fill)
    stages = {s["type"].rsplit(".")[-1]: s for s in new["train_dataloader"]["dataset"]["pipeline"]}
    assert stages["HideAndSeek"]["mean"] == fill
    assert stages["RandomErasing"]["fill_color"] == [50, 60, 70]
    assert params["fill_mean_px"] == fill
    has = methods.method_for("has", {"has_placement": "preprocessor"})
    new, _ = methods.apply_method_to_mm_config(cfg, has, scope="mmpretrain", image_hw=(64, 64),
                                               fill_mean=fill)
    expected = [(70 - 123.675) / 58.395, (60 - 116.28) / 57.12, (50 - 103.53) / 57.375]  # RGB
    assert new["model"]["data_preprocessor"]["hide_and_seek"]["fill"] == pytest.approx(expected)
    new, _ = methods.apply_method_to_mm_config(cfg, has, scope="mmpretrain", image_hw=(64, 64))
    assert "fill" not in new["model"]["data_preprocessor"]["hide_and_seek"]


def test_batch_hiding_writes_the_per_channel_fill_for_images_and_clips():
    torch.manual_seed(0)
    images = torch.full((4, 3, 32, 32), 9.0)
    BatchHideAndSeek(grid_sizes=(8,), hide_prob=0.5, fill=(1.0, 2.0, 3.0))(images)
    for channel, value in enumerate((1.0, 2.0, 3.0)):
        assert set(images[:, channel].unique().tolist()) == {value, 9.0}
    clips = torch.full((2, 1, 3, 4, 16, 16), 9.0)  # N x clips x C x T x H x W
    BatchHideAndSeek(grid_sizes=(8,), hide_prob=0.5, sample_dims=2, fill=(1.0, 2.0, 3.0))(clips)
    for channel, value in enumerate((1.0, 2.0, 3.0)):
        assert set(clips[:, :, channel].unique().tolist()) == {value, 9.0}


@pytest.mark.parametrize("task_name", ["age_gender", "segmentation"])
def test_faces_and_camvid_fill_their_training_mean(tmp_path, task_name):
    from tasks import get_task

    task = get_task(task_name)
    if task_name == "age_gender":
        from tasks._faces.synth import write_utkface

        write_utkface(tmp_path, seed=0, count=60)
        spec = RunSpec("age_gender", method="has", dataset="utkface", data_root=str(tmp_path))
        train_paths = None
    else:
        from tasks.segmentation.synth import write_camvid_layout

        write_camvid_layout(tmp_path, seed=0, counts=(6, 2, 2))
        spec = RunSpec("segmentation", method="has", dataset="camvid", data_root=str(tmp_path),
                       synthetic=True)
        train_paths = sorted((tmp_path / "train").glob("*.png"))
    spec = task.resolve(spec)
    cfg, params = task.build_config(spec)
    stage = next(s for s in cfg.train_dataloader.dataset.pipeline
                 if s["type"].endswith("HideAndSeek"))
    if train_paths is not None:
        assert stage["mean"] == pytest.approx(mean_pixel_bgr(train_paths))
    assert params["fill_mean_px"] == pytest.approx(stage["mean"], abs=1e-3)
    imagenet_bgr = IMAGENET["mean"][::-1]
    assert max(abs(a - b) for a, b in zip(stage["mean"], imagenet_bgr, strict=True)) > 1.0
