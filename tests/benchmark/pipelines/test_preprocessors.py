"""HaS in the OpenMMLab data preprocessors (``has_placement=preprocessor``).

Each library's HaS preprocessor must give exactly what its own preprocessor gives, except that
in training the hidden cells are exactly 0 (the mean pixel after normalization); the hidden
cells are recomputed independently from the run's seed and the rank; evaluation is never
hidden; the method overlay swaps the preprocessor and leaves the pipeline without a HaS stage.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose, default_collate, pseudo_collate

from benchmark.engine.paths import data_dir
from benchmark.hide_and_seek import hide_patches_batch
from benchmark.methods import apply_method_to_mm_config, method_for
from benchmark.pipelines.preprocessors import (
    BatchHideAndSeek,
    HideAndSeekActionDataPreprocessor,
    HideAndSeekClsDataPreprocessor,
    HideAndSeekSegDataPreProcessor,
)

MEAN_RGB = [123.675, 116.28, 103.53]
STD_RGB = [58.395, 57.12, 57.375]


def need(path):
    if not path.exists():
        pytest.skip(f"real data subset missing: {path} (set HASBENCH_DATA to the shared data); "
                    "the generated case of this test still ran")
    return path


def write_images(folder, n, shape, seed):
    """``n`` random-pixel PNGs of ``shape`` (H, W, 3) under ``folder``: generated test images."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        paths.append(folder / f"{i:02d}.png")
        cv2.imwrite(str(paths[-1]), rng.integers(0, 256, shape, dtype=np.uint8))
    return paths


@pytest.fixture(params=["generated", "real"])
def image_source(request):
    """Which images a preprocessor test reads: generated PNGs always, the real subset if there."""
    return request.param


def expected_masks(seed, n, height, width, grid, hide_prob=0.5, rank=0):
    """The masks of the first batch after ``torch.manual_seed(seed)`` on ``rank``."""
    state = np.random.SeedSequence([seed, rank]).generate_state(1)
    generator = torch.Generator().manual_seed(int(state[0]))
    ones = torch.ones(n, 1, height, width)
    return hide_patches_batch(ones, grid, hide_prob, fill=0.0, generator=generator)[:, 0] == 0


def check_hidden(x_has, x_plain, masks):
    """Per sample: hidden pixels exactly 0 in every channel (and frame), the rest unchanged."""
    assert masks.any() and (~masks).any()
    for x_h, x_p, mask in zip(x_has, x_plain, masks, strict=True):
        assert torch.all(x_h[..., mask] == 0)
        assert torch.equal(x_h[..., ~mask], x_p[..., ~mask])


def test_cls_preprocessor_hides_training_batches_only(image_source, tmp_path):
    from mmpretrain.models import ClsDataPreprocessor

    if image_source == "real":
        root = need(data_dir() / "tiny-imagenet-10" / "train")
        files = sorted(root.glob("*/images/*.JPEG"))[:6]
    else:
        files = write_images(tmp_path, 6, (64, 64, 3), seed=0)
    pipeline = Compose([dict(type="mmpretrain.LoadImageFromFile"),
                        dict(type="mmpretrain.Resize", scale=(80, 96)),  # 96 x 80: non-square
                        dict(type="mmpretrain.PackInputs")])
    batch = default_collate([pipeline(dict(img_path=str(f), gt_label=i))
                             for i, f in enumerate(files)])
    args = dict(mean=MEAN_RGB, std=STD_RGB, to_rgb=True)
    plain = ClsDataPreprocessor(**args)(copy.deepcopy(batch), training=True)["inputs"]
    has = HideAndSeekClsDataPreprocessor(hide_and_seek=dict(grid_sizes=(16,)), **args)
    torch.manual_seed(4)
    hidden = has(copy.deepcopy(batch), training=True)["inputs"]
    check_hidden(hidden, plain, expected_masks(4, len(files), 96, 80, (16,)))
    evaluated = has(copy.deepcopy(batch), training=False)["inputs"]
    assert torch.equal(evaluated, plain)


def test_seg_preprocessor_hides_images_not_labels(image_source, tmp_path):
    import cv2
    from mmseg.models.data_preprocessor import SegDataPreProcessor

    if image_source == "real":
        root = need(data_dir() / "camvid-subset")
        image_rel, label_rel = (root / "train.txt").read_text().split("\n")[0].split()
    else:
        root, image_rel, label_rel = tmp_path, "img.png", "label.png"
        write_images(tmp_path / "tmp", 1, (90, 120, 3), seed=1)[0].rename(root / image_rel)
        labels = np.random.default_rng(2).integers(0, 12, (90, 120), dtype=np.uint8)
        cv2.imwrite(str(root / label_rel), labels)
    pipeline = Compose([dict(type="mmseg.LoadImageFromFile"),
                        dict(type="mmseg.LoadAnnotations", reduce_zero_label=False),
                        dict(type="mmseg.Resize", scale=(240, 180), keep_ratio=False),
                        dict(type="mmseg.PackSegInputs")])
    sample = pipeline(dict(img_path=str(root / image_rel), seg_map_path=str(root / label_rel),
                           reduce_zero_label=False, seg_fields=[]))
    batch = pseudo_collate([sample, copy.deepcopy(sample)])
    args = dict(mean=MEAN_RGB, std=STD_RGB, bgr_to_rgb=True, size=(180, 240))
    plain = SegDataPreProcessor(**args)(copy.deepcopy(batch), training=True)
    has = HideAndSeekSegDataPreProcessor(hide_and_seek=dict(grid_sizes=(44,)), **args)
    torch.manual_seed(1)
    out = has(copy.deepcopy(batch), training=True)
    masks = expected_masks(1, 2, 180, 240, (44,))
    assert not torch.equal(masks[0], masks[1])  # same image, independent masks
    check_hidden(out["inputs"], plain["inputs"], masks)
    for got, want in zip(out["data_samples"], plain["data_samples"], strict=True):
        assert torch.equal(got.gt_sem_seg.data, want.gt_sem_seg.data)
    evaluated = has(copy.deepcopy(batch), training=False)["inputs"]
    assert torch.equal(evaluated, SegDataPreProcessor(**args)(copy.deepcopy(batch))["inputs"])


def test_action_preprocessor_one_mask_per_clip():
    rng = np.random.default_rng(0)
    clips = torch.from_numpy(rng.integers(0, 256, (2, 3, 3, 4, 32, 32), dtype=np.uint8))
    batch = dict(inputs=list(clips), data_samples=[None, None])  # N x clips x C x T x H x W
    args = dict(mean=MEAN_RGB, std=STD_RGB, format_shape="NCTHW")
    from mmaction.models.data_preprocessors import ActionDataPreprocessor

    plain = ActionDataPreprocessor(**args)(copy.deepcopy(batch), training=True)["inputs"]
    has = HideAndSeekActionDataPreprocessor(hide_and_seek=dict(grid_sizes=(8,)), **args)
    torch.manual_seed(2)
    hidden = has(copy.deepcopy(batch), training=True)["inputs"]
    assert hidden.shape == (2, 3, 3, 4, 32, 32)
    masks = expected_masks(2, 6, 32, 32, (8,)).view(2, 3, 32, 32)  # one per clip
    for n in range(2):
        check_hidden(hidden[n], plain[n], masks[n])  # shared by the clip's C and T
    evaluated = has(copy.deepcopy(batch), training=False)["inputs"]
    assert torch.equal(evaluated, ActionDataPreprocessor(**args)(copy.deepcopy(batch))["inputs"])


def test_batch_hide_and_seek_arguments():
    with pytest.raises(ValueError, match="hide_prob"):
        BatchHideAndSeek(hide_prob=-0.1)
    with pytest.raises(ValueError, match="sample_dims"):
        BatchHideAndSeek(sample_dims=3)
    with pytest.raises(ValueError, match="sample dims"):
        BatchHideAndSeek()(torch.zeros(3, 8, 8))
    assert "grid_sizes=(0, 16, 32, 44, 56)" in repr(BatchHideAndSeek())
    channels_last = torch.ones(2, 8, 8, 3).permute(0, 3, 1, 2)  # not contiguous
    out = BatchHideAndSeek(grid_sizes=(4,), hide_prob=1.0)(channels_last)
    assert torch.all(out == 0) and torch.all(channels_last == 1)


@pytest.mark.parametrize("scope", ["mmpretrain", "mmseg", "mmaction"])
def test_overlay_swaps_the_preprocessor_and_keeps_the_pipeline(scope):
    from mmengine.config import Config

    anchor = {"mmpretrain": "PackInputs", "mmseg": "PackSegInputs", "mmaction": "FormatShape"}
    cfg = Config(dict(
        model=dict(data_preprocessor=dict(mean=MEAN_RGB, std=STD_RGB)),
        train_dataloader=dict(dataset=dict(pipeline=[dict(type=f"{scope}.{anchor[scope]}")])),
    ))
    method = method_for("has+random_erasing" if scope != "mmaction" else "has",
                        {"has_placement": "preprocessor", "has_hide_prob": 0.4})
    new_cfg, params = apply_method_to_mm_config(cfg, method, scope=scope, image_hw=(224, 224))
    types = [s["type"] for s in new_cfg.train_dataloader.dataset.pipeline]
    assert not any(t.endswith("HideAndSeek") for t in types)
    assert len(types) == (2 if scope != "mmaction" else 1)  # random erasing stays a stage
    preprocessor = new_cfg.model.data_preprocessor
    assert preprocessor["type"].endswith("DataPreprocessor") or preprocessor["type"].endswith(
        "DataPreProcessor")
    assert preprocessor["type"].split(".")[1].startswith("HideAndSeek")
    assert preprocessor["hide_and_seek"] == dict(grid_sizes=[0, 16, 32, 44, 56], hide_prob=0.4)
    assert params["has_placement"] == "preprocessor" and "exactly" in params["has_fill_note"]
    with pytest.raises(ValueError, match="placement must be one of"):
        method_for("has", {"has_placement": "gpu"})


@pytest.mark.slow
def test_classification_run_with_preprocessor_placement(tiny_cifar10, tmp_path, input_spy):
    from benchmark.engine.runner import run_one
    from benchmark.engine.spec import RunSpec

    spec = RunSpec("classification", method="has", dataset="cifar10",
                   data_root=str(tiny_cifar10), model="resnet-tiny-cifar", epochs=1,
                   synthetic=True, options=(("batch_size", 16), ("has_placement", "preprocessor")))
    record = run_one(spec, tmp_path / "res")
    assert record.ok, record.reason
    assert record.method_params["has_placement"] == "preprocessor"
    assert 0.0 <= record.metrics["top1"] <= 100.0
    input_spy.check("has")  # the run's own preprocessor hid its training batches only
    from mmpretrain.registry import MODELS

    from tasks import get_task

    task = get_task("classification")
    cfg, _ = task.build_config(task.resolve(RunSpec(**{**spec.__dict__, "synthetic": False})))
    model_cfg = dict(cfg.model, data_preprocessor=cfg.data_preprocessor)  # as the Runner merges
    assert isinstance(MODELS.build(model_cfg).data_preprocessor, HideAndSeekClsDataPreprocessor)
    assert not any(s["type"].endswith("HideAndSeek") for s in cfg.train_dataloader.dataset.pipeline)


def test_ranks_draw_different_masks_and_leave_the_global_generator_alone(monkeypatch):
    """DDP: one step's masks differ across ranks, a rerun repeats them, torch's stream is kept."""
    import benchmark.pipelines.preprocessors as preprocessors

    def first_batch_on_rank(rank):
        monkeypatch.setattr(preprocessors, "get_rank", lambda: rank)
        torch.manual_seed(7)
        hidden = BatchHideAndSeek((16,), 0.5)(torch.ones(8, 3, 64, 64)) == 0
        return hidden[:, 0], torch.rand(3)

    masks_0, after_0 = first_batch_on_rank(0)
    masks_1, after_1 = first_batch_on_rank(1)
    torch.manual_seed(7)
    assert torch.equal(after_0, torch.rand(3)) and torch.equal(after_1, after_0)
    assert torch.equal(masks_0, first_batch_on_rank(0)[0])
    assert torch.equal(masks_0, expected_masks(7, 8, 64, 64, (16,)))
    assert torch.equal(masks_1, expected_masks(7, 8, 64, 64, (16,), rank=1))
    assert not torch.equal(masks_0, masks_1)
