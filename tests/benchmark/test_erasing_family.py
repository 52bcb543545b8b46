"""The erasing family beside HaS: cutout, gridmask, cutmix (benchmark.erasing.family).

Cutout and GridMask are checked on real images (the shared CIFAR-10, Tiny ImageNet and CamVid
subsets): what the stage their method inserts changes, and only that.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmark import methods
from benchmark.erasing import family as erasing_family
from benchmark.erasing.gridmask import expected_drop_fraction, sample_gridmask, scale_d_range


def _images(root: Path, pattern: str, count: int) -> list[np.ndarray]:
    paths = sorted(root.glob(pattern))[:count]
    assert len(paths) == count, f"expected {count} images under {root}/{pattern}"
    return [cv2.imread(str(p)) for p in paths]


def _build(stage: dict):
    from mmengine.registry import DefaultScope

    import benchmark.pipelines  # noqa: F401  (registers GridMask)
    from benchmark.pipelines.registries import registry

    scope, name = stage["type"].split(".")
    # mmengine builds from the current default scope's registry: an earlier test's scope
    # (e.g. mmpretrain) would look mmseg's RandomCutOut up in the wrong library.
    with DefaultScope.overwrite_default_scope(scope):
        return registry(scope, "TRANSFORMS").build({**stage, "type": name})


def _filled_box(before: np.ndarray, after: np.ndarray, fill: list[int]) -> tuple[int, ...]:
    """The one rectangle that changed; asserts it holds the fill and nothing else changed."""
    changed = (before != after).any(axis=-1)
    ys, xs = np.nonzero(changed)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    assert (after[top:bottom, left:right] == np.array(fill, np.uint8)).all()
    outside = np.ones(changed.shape, bool)
    outside[top:bottom, left:right] = False
    assert (after[outside] == before[outside]).all()
    return top, bottom, left, right


def test_cutout_side_follows_the_paper_and_scales_with_the_input():
    assert erasing_family.cutout_side_px((32, 32), "cifar10")[0] == 16
    assert erasing_family.cutout_side_px((32, 32), "cifar100")[0] == 8
    assert erasing_family.cutout_side_px((32, 32), "svhn")[0] == 20
    assert erasing_family.cutout_side_px((64, 64), "tiny-imagenet")[0] == 32
    assert erasing_family.cutout_side_px((224, 224))[0] == 112
    assert erasing_family.cutout_side_px((256, 128))[0] == 64  # re-ID: the shorter side


def _cfg(pipeline_tail: str = "PackInputs") -> dict:
    pipeline = [{"type": "RandomFlip"}, {"type": pipeline_tail}]
    return {"data_preprocessor": {"mean": [10.0, 20.0, 30.0], "std": [1, 1, 1], "to_rgb": True,
                                  "num_classes": 10},
            "model": {"type": "ImageClassifier"},
            "train_dataloader": {"dataset": {"pipeline": list(pipeline)}},
            "test_dataloader": {"dataset": {"pipeline": list(pipeline)}}}


def test_cutout_blanks_exactly_one_square_on_real_cifar10(shared_data):
    cfg, params = methods.apply_method_to_mm_config(_cfg(), "cutout", scope="mmpretrain",
                                                    image_hw=(32, 32), dataset="cifar10")
    stage = cfg["train_dataloader"]["dataset"]["pipeline"][1]
    assert stage == {"type": "mmpretrain.Cutout", "shape": 16, "pad_val": [30, 20, 10],
                     "prob": 1.0}
    assert params["cutout_side_px"] == 16 and params["cutout_prob"] == 1.0
    assert cfg["test_dataloader"] == _cfg()["test_dataloader"]
    cutout = _build(stage)
    np.random.seed(0)
    full = 0
    for image in _images(shared_data / "cifar10-jpeg-subset" / "train", "*/*.jpg", 40):
        out = cutout.transform({"img": image.copy()})["img"]
        top, bottom, left, right = _filled_box(image, out, [30, 20, 10])
        # mmcv.cutout: a full 16x16 square unless it is cut at the bottom / right edge
        assert bottom - top == 16 or bottom == 32, (top, bottom)
        assert right - left == 16 or right == 32, (left, right)
        full += (bottom - top, right - left) == (16, 16)
    assert full >= 10  # most squares lie inside the image


def test_mmseg_cutout_blanks_one_square_and_keeps_labels(shared_data):
    cfg, params = methods.apply_method_to_mm_config(
        _cfg("PackSegInputs"), "cutout", scope="mmseg", image_hw=(360, 480))
    stage = cfg["train_dataloader"]["dataset"]["pipeline"][1]
    side = params["cutout_side_px"]
    assert stage["type"] == "mmseg.RandomCutOut" and side == round(16 * 360 / 32)
    assert stage["n_holes"] == 1 and stage["prob"] == 1.0 and stage["cutout_shape"] == (side,
                                                                                        side)
    cutout = _build(stage)
    np.random.seed(1)
    images = _images(shared_data / "camvid-subset" / "train", "*.png", 4)
    for image in images:
        image = cv2.resize(image, (480, 360))
        labels = np.arange(360 * 480, dtype=np.int64).reshape(360, 480) % 11
        out = cutout.transform({"img": image.copy(), "gt_seg_map": labels.copy()})
        top, bottom, left, right = _filled_box(image, out["img"], [30, 20, 10])
        assert bottom - top == side or bottom == 360
        assert right - left == side or right == 480
        assert (out["gt_seg_map"] == labels).all()


def test_gridmask_drops_the_fraction_ratio_implies_on_real_tiny_imagenet(shared_data):
    cfg, params = methods.apply_method_to_mm_config(_cfg(), "gridmask", scope="mmpretrain",
                                                    image_hw=(64, 64))
    stage = cfg["train_dataloader"]["dataset"]["pipeline"][1]
    assert stage["type"] == "mmpretrain.GridMask" and stage["d_range"] == (27, 64)
    assert params["gridmask_ratio"] == 0.6 and params["gridmask_prob_max"] == 0.8
    assert params["gridmask_drop_fraction"] == pytest.approx(0.16)
    gridmask = _build({**stage, "prob": 1.0})
    np.random.seed(2)
    fractions = []
    images = _images(shared_data / "tiny-imagenet-10" / "train", "*/images/*.JPEG", 60)
    for image in images * 3:
        out = gridmask.transform({"img": image.copy()})["img"]
        dropped = (out == np.array([30, 20, 10], np.uint8)).all(axis=-1) & (out != image).any(-1)
        changed = (out != image).any(axis=-1)
        assert (dropped == changed).all()  # what changed holds the fill
        fractions.append(changed.mean())
    # (1 - r)^2 = 0.16, a little less where image pixels already equal the fill
    assert np.mean(fractions) == pytest.approx(expected_drop_fraction(0.6), abs=0.025)
    assert np.std(fractions) > 0.005  # d, offset and angle vary per image
    kept = _build(stage)
    np.random.seed(3)
    touched = [(kept.transform({"img": im.copy()})["img"] != im).any() for im in images * 3]
    assert np.mean(touched) == pytest.approx(0.8, abs=0.1)


def test_gridmask_core_at_the_papers_imagenet_scale():
    rng = np.random.default_rng(0)
    fractions = [sample_gridmask(224, 224, (96, 224), 0.6, 360, rng).mean() for _ in range(200)]
    assert np.mean(fractions) == pytest.approx(0.16, abs=0.02)
    assert scale_d_range((96, 224), (224, 224)) == (96, 224)
    assert scale_d_range((96, 224), (32, 32)) == (14, 32)


def test_gridmask_masks_a_clip_with_one_mask_and_validates():
    from benchmark.pipelines.gridmask import GridMask

    stage = GridMask(d_range=(8, 16), ratio=0.5, rotate_deg=0, prob=1.0, fill=0)
    frames = [np.full((32, 32, 3), 200, np.uint8) for _ in range(4)]
    out = stage.transform({"imgs": frames})["imgs"]
    masks = [(f == 0).all(-1) for f in out]
    assert masks[0].any() and all((m == masks[0]).all() for m in masks)
    assert repr(stage) == ("GridMask(d_range=(8, 16), ratio=0.5, rotate_deg=0.0, prob=1.0, "
                           "fill=0)")
    with pytest.raises(ValueError, match="ratio must be strictly between"):
        GridMask(ratio=1.0)
    with pytest.raises(ValueError, match="d_min < d_max"):
        GridMask(d_range=(20, 10))


def test_clip_cutout_blanks_one_square_in_every_frame_of_real_frames(shared_data):
    from benchmark.pipelines.cutout import ClipCutout

    frames = _images(shared_data / "camvid-subset" / "train", "*.png", 4)  # a real sequence
    stage = ClipCutout(side_px=60, fill=[104, 116, 124], prob=1.0)
    np.random.seed(5)
    out = stage.transform({"imgs": [f.copy() for f in frames]})["imgs"]
    pairs = zip(frames, out, strict=True)
    boxes = {_filled_box(before, after, [104, 116, 124]) for before, after in pairs}
    assert len(boxes) == 1  # one square, the same in every frame
    top, bottom, left, right = boxes.pop()
    assert 0 < (bottom - top) <= 60 and 0 < (right - left) <= 60
    clip = np.stack(frames)
    np.random.seed(5)
    same = stage.transform({"imgs": clip.copy()})["imgs"]  # a T x H x W x C array alike
    assert (same == np.stack(out)).all() and (clip == np.stack(frames)).all()
    assert ClipCutout(side_px=8, prob=0.0).transform({"imgs": frames})["imgs"] is frames
    assert repr(stage) == "ClipCutout(side_px=60, fill=[104, 116, 124], prob=1.0)"
    for bad, match in (({"side_px": 0}, "side_px"), ({"side_px": 8, "prob": 2}, "prob"),
                       ({"side_px": 8, "fill": "mean"}, "fill")):
        with pytest.raises(ValueError, match=match):
            ClipCutout(**bad)


def _ramp_runner(epoch: int, max_epochs: int, dataset):
    from types import SimpleNamespace

    return SimpleNamespace(epoch=epoch, max_epochs=max_epochs, logger=logging.getLogger("t"),
                           train_dataloader=SimpleNamespace(dataset=dataset))


def _pipeline_dataset(*transforms):
    from types import SimpleNamespace

    return SimpleNamespace(pipeline=SimpleNamespace(transforms=list(transforms)))


def test_prob_ramp_hook_follows_the_papers_set_prob():
    from benchmark.pipelines.gridmask import GridMask, GridMaskProbRampHook

    stage = GridMask(d_range=(8, 16), prob=0.8)
    dataset = _pipeline_dataset(object(), stage)
    hook = GridMaskProbRampHook(max_prob=0.8, ramp_fraction=240 / 300)
    # 10 epochs: a ramp of round(0.8 * 10) = 8 epochs, prob = 0.8 * min(1, epoch / 8)
    for epoch, expected in ((0, 0.0), (1, 0.1), (2, 0.2), (4, 0.4), (7, 0.7), (8, 0.8),
                            (9, 0.8)):
        hook.before_train_epoch(_ramp_runner(epoch, 10, dataset))
        assert stage.prob == pytest.approx(expected), epoch
    # the paper's 300 epochs: 240 ramp epochs
    assert hook.ramp_length(300) == 240 and hook.prob_at(120, 300) == pytest.approx(0.4)
    assert hook.ramp_length(1) == 1 and hook.prob_at(0, 1) == 0.0
    assert GridMaskProbRampHook(ramp_epochs=5).prob_at(2, 300) == pytest.approx(0.32)


def test_prob_ramp_hook_reaches_wrapped_datasets_and_refuses_without_gridmask():
    from types import SimpleNamespace

    from benchmark.pipelines.gridmask import GridMask, GridMaskProbRampHook

    first, second = GridMask(d_range=(8, 16)), GridMask(d_range=(8, 16))
    concat = SimpleNamespace(datasets=[_pipeline_dataset(first), _pipeline_dataset(second)])
    hook = GridMaskProbRampHook()
    hook.before_train_epoch(_ramp_runner(2, 5, SimpleNamespace(dataset=concat)))  # Repeat
    assert first.prob == second.prob == pytest.approx(0.8 * 2 / 4)
    with pytest.raises(ValueError, match="holds no GridMask stage"):
        hook.before_train_epoch(_ramp_runner(0, 5, _pipeline_dataset(object())))
    from mmengine.runner import IterBasedTrainLoop

    by_iteration = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    with pytest.raises(ValueError, match="iteration-based"):
        hook.before_train(SimpleNamespace(train_loop=by_iteration))
    for bad, match in (({"max_prob": 1.5}, "max_prob"), ({"ramp_fraction": 0}, "ramp_fraction"),
                       ({"ramp_epochs": 0}, "ramp_epochs")):
        with pytest.raises(ValueError, match=match):
            GridMaskProbRampHook(**bad)


def test_gridmask_overlay_adds_the_ramp_hook_and_leaves_the_loaders():
    from mmengine.registry import HOOKS

    cfg, params = methods.apply_method_to_mm_config(_cfg(), "gridmask", scope="mmpretrain",
                                                    image_hw=(64, 64))
    assert cfg["custom_hooks"] == [{"type": "GridMaskProbRampHook", "max_prob": 0.8,
                                    "ramp_fraction": 0.8}]
    assert type(HOOKS.build(cfg["custom_hooks"][0])).__name__ == "GridMaskProbRampHook"
    assert cfg["test_dataloader"] == _cfg()["test_dataloader"]
    assert {k: v for k, v in cfg["train_dataloader"].items() if k != "dataset"} == {
        k: v for k, v in _cfg()["train_dataloader"].items() if k != "dataset"}
    assert params["gridmask_prob_max"] == 0.8 and "gridmask_prob" not in params
    assert params["gridmask_prob_ramp"] == ("linear 0 -> 0.8 over the first 80% of the training "
                                            "epochs (the paper's ImageNet run: 240 of 300)")


def test_gridmask_prob_set_in_the_parent_reaches_a_running_worker():
    import torch.multiprocessing as mp

    from benchmark.pipelines.gridmask import GridMask

    stage = GridMask(d_range=(8, 16), prob=0.0)
    ctx = mp.get_context("spawn")  # the dataset is pickled to the worker, as torch does
    ask, answer = ctx.Queue(), ctx.Queue()
    worker = ctx.Process(target=_report_prob, args=(stage, ask, answer))
    worker.start()
    try:
        ask.put(True)
        assert answer.get(timeout=60) == 0.0
        stage.prob = 0.6
        ask.put(True)
        assert answer.get(timeout=60) == pytest.approx(0.6)
    finally:
        ask.put(False)
        worker.join(timeout=60)
    with pytest.raises(ValueError, match="prob must be in"):
        stage.prob = 1.5


def _report_prob(stage, ask, answer) -> None:
    while ask.get():
        answer.put(stage.prob)


def test_torchreid_counterparts_fill_zero_after_normalize():
    import torch

    from tasks.reid.erasing import CutoutTensor, GridMaskTensor

    image = torch.ones(3, 256, 128)
    cut = CutoutTensor(64)(image)
    zero = (cut == 0).all(0)
    ys, xs = torch.nonzero(zero, as_tuple=True)
    assert int(zero.sum()) == (int(ys.max()) - int(ys.min()) + 1) * (int(xs.max()) -
                                                                     int(xs.min()) + 1)
    assert int(ys.max()) - int(ys.min()) + 1 <= 64 and (image == 1).all()
    grid = GridMaskTensor((55, 128), 0.6, 360, 1.0)(image)
    assert 0.0 < float((grid == 0).all(0).float().mean()) < 0.5


def test_cutmix_reaches_the_models_train_cfg():
    cfg, params = methods.apply_method_to_mm_config(_cfg(), "cutmix", scope="mmpretrain",
                                                    image_hw=(32, 32))
    assert cfg["model"]["train_cfg"] == {"augments": [{"type": "CutMix", "alpha": 1.0}]}
    assert params == {"method": "cutmix", "cutmix_type": params["cutmix_type"],
                      "cutmix_alpha": 1.0, "cutmix_prob": 1.0}
    assert cfg["train_dataloader"] == _cfg()["train_dataloader"]  # no pipeline stage
    with pytest.raises(ValueError, match="batch augment"):
        methods.apply_method_to_mm_config(_cfg("PackSegInputs"), "cutmix", scope="mmseg",
                                          image_hw=(32, 32))


@pytest.mark.slow
def test_cutmix_classification_run_trains(tiny_cifar10, tmp_path):
    from benchmark.engine.runner import run_one
    from benchmark.engine.spec import RunSpec
    from tasks import get_task

    spec = RunSpec("classification", method="cutmix", dataset="cifar10",
                   data_root=str(tiny_cifar10), model="resnet-tiny-cifar", epochs=1,
                   synthetic=True, options=(("batch_size", 16),))
    task = get_task("classification")
    model = task.build_model(task.resolve(spec))
    augments = model.data_preprocessor.batch_augments
    assert augments is not None and type(augments.augments[0]).__name__ == "CutMix"
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.status == "ok" and record.method_params["cutmix_alpha"] == 1.0
    assert all(0 <= v <= 100 for v in record.metrics.values())


@pytest.mark.slow
def test_gridmask_classification_run_ramps_the_probability(tiny_cifar10, tmp_path,
                                                           monkeypatch):
    import os

    from benchmark.engine.runner import run_one
    from benchmark.engine.spec import RunSpec
    from benchmark.pipelines.gridmask import GridMask

    seen = tmp_path / "seen.txt"  # written by the (persistent) data-loader worker
    transform = GridMask.transform

    def noted(self, results):
        with seen.open("a") as out:
            out.write(f"{os.getpid()} {self.prob}\n")
        return transform(self, results)

    monkeypatch.setattr(GridMask, "transform", noted)
    spec = RunSpec("classification", method="gridmask", dataset="cifar10",
                   data_root=str(tiny_cifar10), model="resnet-tiny-cifar", epochs=3,
                   synthetic=True, options=(("batch_size", 40), ("num_workers", 1)))
    record = run_one(spec, tmp_path / "results", raise_errors=True)
    assert record.status == "ok" and record.method_params["gridmask_prob_max"] == 0.8
    calls = [line.split() for line in seen.read_text().splitlines()]
    pids = {pid for pid, _ in calls}
    assert len(pids) == 1 and int(next(iter(pids))) != os.getpid()  # one persistent worker
    probs = [float(p) for _, p in calls]
    # 3 epochs: a ramp of round(0.8 * 3) = 2 epochs, so 0, 0.4, 0.8 (one value per epoch)
    epochs = [p for i, p in enumerate(probs) if i == 0 or p != probs[i - 1]]
    assert epochs == pytest.approx([0.0, 0.4, 0.8]) and len(probs) % 3 == 0
    log = "".join(p.read_text() for p in (tmp_path / "results").rglob("*.log"))
    assert "gridmask: prob 0.4000 in epoch 2 (ramp to 0.8 over 2 epochs)" in log


REFUSED = [(task, method) for task, method in (
    ("segmentation", "cutmix"), ("age_gender", "cutmix"), ("reid", "cutmix"),
    ("video", "cutmix"), ("action_localization", "cutout"),
    ("action_localization", "gridmask"), ("action_localization", "cutmix"))]
WHY = {"segmentation": "labels are per pixel", "age_gender": "regress age",
       "reid": "hard identity labels", "video": "mmaction2",
       "action_localization": "snippet features"}


@pytest.mark.parametrize(("task_name", "method"), REFUSED, ids=["/".join(r) for r in REFUSED])
def test_cannot_apply_exits_2_saying_why_and_writes_nothing(task_name, method, tmp_path,
                                                            capsys):
    from benchmark.cli import main
    from tasks import get_task

    task = get_task(task_name)
    assert method not in task.methods and method in task.refused_methods
    results = tmp_path / "results"
    # --synthetic without --data-root: the refusal comes before any generated data is written.
    code = main(["run", task_name, "--method", method, "--results", str(results),
                 "--synthetic"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"method {method!r} cannot apply to task {task_name!r}" in err
    assert WHY[task_name] in err
    assert not any(results.rglob("*"))
