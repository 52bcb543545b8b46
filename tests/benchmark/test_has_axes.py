"""The HaS axes (issue #22): hiding probability, fill, grid policy, and the dropout baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark import methods
from benchmark.hide_and_seek import HiddenCells, expand_hidden_cells, sample_hidden_cells
from benchmark.hide_and_seek_args import PAPER_HIDE_PROBS, check_hide_prob
from benchmark.hide_fill import apply_random_fill, random_fill_batch

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


@pytest.fixture(scope="module")
def tiny_imagenet_image(shared_data):
    """One real 64x64 Tiny ImageNet training image, uint8 H x W x 3 (BGR, as OpenCV reads)."""
    import cv2

    path = sorted((shared_data / "tiny-imagenet-10" / "train").rglob("*.JPEG"))[0]
    img = cv2.imread(str(path))
    assert img is not None and img.shape == (64, 64, 3)
    return img


def _cells(height, width, size, seed=0):
    return sample_hidden_cells(height, width, (size,), 0.5, np.random.default_rng(seed))


# ----------------------------------------------------------------------------- probability
def test_paper_hide_probs_pass_the_check_and_reach_the_stage():
    assert PAPER_HIDE_PROBS == (0.25, 0.33, 0.5, 0.66, 0.75)
    for p in PAPER_HIDE_PROBS:
        assert check_hide_prob(p) == p
        assert methods.method_for("has", {"has_hide_prob": p}).hide_prob == p
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ValueError, match=r"has_hide_prob \(--has-hide-prob\)"):
            methods.method_for("has", {"has_hide_prob": bad})


# ----------------------------------------------------------------------------- fill
@pytest.mark.parametrize("fill", ["random", "zero"])
def test_pipeline_stage_fill_touches_hidden_pixels_only(tiny_imagenet_image, fill):
    from benchmark.pipelines.mm import HideAndSeek

    stage_fill = {"random": "random", "zero": 0}[fill]
    stage = HideAndSeek(grid_sizes=(8,), hide_prob=0.5, fill=stage_fill, mean=MEAN)
    np.random.seed(3)
    out = stage.transform({"img": tiny_imagenet_image.copy()})["img"]
    assert out.dtype == np.uint8 and out.shape == tiny_imagenet_image.shape
    np.random.seed(3)
    mask = expand_hidden_cells(stage._sampler(64, 64), 64, 64)
    assert 0 < mask.sum() < mask.size
    assert out[~mask].tobytes() == tiny_imagenet_image[~mask].tobytes()  # visible: identical
    if fill == "zero":
        assert (out[mask] == 0).all()
    else:  # noise over 0..255: far from one value, and not the image
        hidden = out[mask].astype(int)
        assert hidden.min() < 20 and hidden.max() > 235 and 100 < hidden.mean() < 155
        assert (hidden != tiny_imagenet_image[mask]).mean() > 0.9


def test_apply_random_fill_channels_first_tensor_normalized():
    img = torch.zeros(3, 20, 30)
    hidden = _cells(20, 30, 4, seed=1)
    out = apply_random_fill(img, hidden, np.random.default_rng(0), channel_axis=0, low=0.0,
                            high=255.0, mean=MEAN, std=STD)
    mask = torch.as_tensor(expand_hidden_cells(hidden, 20, 30))
    assert (out[:, ~mask] == 0).all() and (img == 0).all()  # a copy, visible untouched
    pixels = out[:, mask] * torch.tensor(STD)[:, None] + torch.tensor(MEAN)[:, None]
    assert pixels.min() >= -1e-3 and pixels.max() <= 255 + 1e-3 and pixels.std() > 50
    nothing = apply_random_fill(img, HiddenCells(0, np.zeros((0, 0), bool)))
    assert torch.equal(nothing, img)


def test_random_fill_batch_matches_the_cells_of_hide_patches_batch():
    from benchmark.hide_and_seek import hide_patches_batch

    x = torch.full((4, 3, 16, 16), 7.0)
    ref = hide_patches_batch(x, (0, 4), 0.5, fill=-100.0,
                             generator=torch.Generator().manual_seed(5))
    out = random_fill_batch(x.clone(), (0, 4), 0.5, MEAN, STD,
                            generator=torch.Generator().manual_seed(5))
    hidden = ref == -100.0
    assert hidden.any() and (~hidden).any()
    assert (out[~hidden] == 7.0).all() and (out[hidden] != 7.0).all()


@pytest.mark.parametrize("fill", ["zero", "random"])
def test_preprocessor_fill_in_normalized_units(fill):
    from benchmark.pipelines.preprocessors import BatchHideAndSeek

    cfg = _cfg()
    cfg_out, params = methods.apply_method_to_mm_config(
        cfg, methods.method_for("has", {"has_placement": "preprocessor", "has_fill": fill}),
        scope="mmpretrain", image_hw=(32, 32))
    has = cfg_out["data_preprocessor"]["hide_and_seek"]
    assert params["has_fill"] == fill and "has_fill_note" in params
    batch = torch.zeros(2, 3, 32, 32)
    BatchHideAndSeek(**{k: v for k, v in has.items() if k != "at_test"})(batch)
    pixel = batch * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)
    visible = batch == 0
    if fill == "zero":  # hidden values are exactly pixel value 0 (to float precision)
        assert torch.allclose(pixel[~visible], torch.zeros(()), atol=1e-4)
    else:
        assert pixel[~visible].min() >= -1e-3 and pixel[~visible].max() <= 255 + 1e-3
    assert (~visible).any() and visible.any()


@pytest.mark.parametrize("fill", ["zero", "random"])
def test_torchreid_stage_fill(fill):
    pytest.importorskip("torchvision")
    from torchvision.transforms import Compose, Normalize

    from benchmark.pipelines.torchreid import add_hide_and_seek

    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

    class Manager:
        transform_tr = Compose([Normalize(mean, std)])

    params = add_hide_and_seek(Manager, grid_sizes=(8,), hide_prob=0.5, fill=fill)
    assert params["has_fill"] == fill
    stage = Manager.transform_tr.transforms[1]
    img = torch.full((3, 32, 16), 5.0)
    out = stage(img)
    changed = (out != 5.0).any(0)
    assert changed.any() and (~changed).any()
    pixel = out[:, changed] * torch.tensor(std)[:, None] + torch.tensor(mean)[:, None]
    if fill == "zero":
        assert torch.allclose(pixel, torch.zeros(()), atol=1e-5)
    else:
        assert pixel.min() >= -1e-5 and pixel.max() <= 1 + 1e-5


def test_fill_option_checked_and_recorded():
    with pytest.raises(ValueError, match=r"has_fill \(--has-fill\).*mean, zero, random.*'gray'"):
        methods.method_for("has", {"has_fill": "gray"})
    with pytest.raises(ValueError, match="hides whole frames"):
        methods.method_for("has-frames", {"has_fill": "zero"})
    _, params = methods.apply_method_to_mm_config(_cfg(), "has", scope="mmpretrain",
                                                  image_hw=(32, 32))
    assert params["has_fill"] == "mean" and params["has_grid_policy"] == "scaled"
    cfg, params = methods.apply_method_to_mm_config(
        _cfg(), methods.method_for("has", {"has_fill": "zero"}), scope="mmpretrain",
        image_hw=(32, 32))
    assert _train(cfg)[1]["fill"] == 0 and params["has_fill"] == "zero"


def test_run_id_holds_the_new_options():
    from benchmark.engine.spec import RunSpec

    base = RunSpec("classification", method="has")
    ids = {base.run_id, base.with_options(has_fill="zero").run_id,
           base.with_options(has_fill="random").run_id,
           base.with_options(has_grid_policy="absolute").run_id}
    assert len(ids) == 4


def test_cli_flags_become_options():
    import argparse

    from benchmark.cli import _has_options

    args = argparse.Namespace(has_grid_sizes=None, has_placement=None, has_hide_prob="0.33",
                              has_fill="random", has_grid_policy="absolute")
    assert _has_options(args) == {"has_hide_prob": 0.33, "has_fill": "random",
                                  "has_grid_policy": "absolute"}


# ----------------------------------------------------------------------------- grid policy
def test_absolute_grid_policy_keeps_pixels_and_hides_all_or_nothing():
    method = methods.method_for("has", {"has_grid_policy": "absolute"})
    assert methods.method_grid_sizes(method, (32, 32)) == (0, 16, 32, 44, 56)
    assert methods.method_grid_sizes(methods.get_method("has"), (32, 32)) == (0, 2, 5, 6, 8)
    _, params = methods.apply_method_to_mm_config(_cfg(), method, scope="mmpretrain",
                                                  image_hw=(32, 32))
    assert params["has_grid_sizes_px"] == [0, 16, 32, 44, 56]
    assert params["has_grid_policy"] == "absolute"
    rng = np.random.default_rng(0)
    fractions = {float(expand_hidden_cells(sample_hidden_cells(32, 32, (56,), 0.5, rng),
                                           32, 32).mean()) for _ in range(40)}
    assert fractions == {0.0, 1.0}  # one 56-px cell covers the 32x32 image
    with pytest.raises(ValueError, match="grid policy must be one of scaled, absolute"):
        methods.method_for("has", {"has_grid_policy": "relative"})


# ----------------------------------------------------------------------------- dropout
def test_dropout_baselines_hide_single_pixels():
    train, traintest = methods.get_method("dropout-train"), methods.get_method("dropout-traintest")
    for m in (train, traintest):
        assert m.hides and m.grid_sizes_px == (1,) and m.hide_prob == 0.5 and not m.erases
        assert methods.method_grid_sizes(m, (32, 32)) == (1,)
    assert not train.hides_at_test and traintest.hides_at_test
    mask = expand_hidden_cells(_cells(64, 64, 1), 64, 64)
    assert abs(mask.mean() - 0.5) < 0.05
    with pytest.raises(ValueError, match="fixes the grid at 1 px"):
        methods.method_for("dropout-train", {"has_grid_sizes_px": [0, 16]})
    with pytest.raises(ValueError, match="hides single pixels"):
        methods.method_for("dropout-train", {"has_grid_policy": "absolute"})
    assert methods.method_for("dropout-traintest", {"has_fill": "zero"}).fill == "zero"


def test_dropout_traintest_hides_evaluation_too():
    cfg = _cfg()
    out, params = methods.apply_method_to_mm_config(cfg, "dropout-traintest",
                                                    scope="mmpretrain", image_hw=(32, 32))
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        stages = out[loader]["dataset"]["pipeline"] if loader != "train_dataloader" else \
            _train(out)
        assert [s["type"] for s in stages] == ["RandomFlip", "mmpretrain.HideAndSeek",
                                               "PackInputs"], loader
        assert stages[1]["grid_sizes"] == (1,)
    assert params["has_at_test"] is True
    out, _ = methods.apply_method_to_mm_config(cfg, "dropout-train", scope="mmpretrain",
                                               image_hw=(32, 32))
    assert out["val_dataloader"] == cfg["val_dataloader"]
    assert out["test_dataloader"] == cfg["test_dataloader"]
    out, _ = methods.apply_method_to_mm_config(
        cfg, methods.method_for("dropout-traintest", {"has_placement": "preprocessor"}),
        scope="mmpretrain", image_hw=(32, 32))
    assert out["data_preprocessor"]["hide_and_seek"]["at_test"] is True
    assert out["val_dataloader"] == cfg["val_dataloader"]


def test_preprocessor_hides_evaluation_only_at_test():
    pytest.importorskip("mmpretrain")
    from mmpretrain.structures import DataSample

    from benchmark.pipelines.preprocessors import HideAndSeekClsDataPreprocessor

    data = {"inputs": [torch.full((3, 16, 16), 100, dtype=torch.uint8)],
            "data_samples": [DataSample()]}
    for at_test in (False, True):
        pre = HideAndSeekClsDataPreprocessor(
            mean=MEAN, std=STD, hide_and_seek=dict(grid_sizes=(1,), hide_prob=0.5,
                                                   at_test=at_test))
        evaluated = pre(data, training=False)["inputs"]
        hidden = (evaluated == 0).float().mean().item()
        assert (0.3 < hidden < 0.7) if at_test else hidden == 0


def _cfg():
    pipeline = [{"type": "RandomFlip"}, {"type": "PackInputs"}]
    return {
        "data_preprocessor": {"mean": MEAN, "std": STD, "to_rgb": True},
        "model": {},
        "train_dataloader": {"dataset": {"type": "RepeatDataset",
                                         "dataset": {"pipeline": list(pipeline)}}},
        "val_dataloader": {"dataset": {"pipeline": list(pipeline)}},
        "test_dataloader": {"dataset": {"pipeline": list(pipeline)}},
    }


def _train(cfg):
    return cfg["train_dataloader"]["dataset"]["dataset"]["pipeline"]
