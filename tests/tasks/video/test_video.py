"""Video task: generated clips decoded by mmaction2, HaS stages in the clip pipeline, Grad-CAM."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from benchmark.engine.spec import RunSpec


@pytest.fixture(scope="module")
def clips_root(tmp_path_factory):
    from tasks.video.synth import write_video_clips

    root = tmp_path_factory.mktemp("clips")
    write_video_clips(root, seed=0, train_per_class=3, val_per_class=2)
    return root


def _decode(root, rel):
    from mmaction.datasets.transforms import DecordDecode, DecordInit

    results = DecordInit().transform({"filename": str(root / rel)})
    results["frame_inds"] = np.arange(results["total_frames"])
    return np.stack(DecordDecode().transform(results)["imgs"])


def test_generated_clips_in_video_list_layout(clips_root):
    from tasks.video.synth import _CLIP_PALETTE, CLIP_CLASSES, CLIP_FRAMES, CLIP_SIDE_PX

    train = [ln.split() for ln in (clips_root / "train_list.txt").read_text().splitlines()]
    val = [ln.split() for ln in (clips_root / "val_list.txt").read_text().splitlines()]
    assert len(train) == 3 * len(CLIP_CLASSES) and len(val) == 2 * len(CLIP_CLASSES)
    assert sorted({int(label) for _, label in train}) == list(range(len(CLIP_CLASSES)))
    info = json.loads((clips_root / "clip_info.json").read_text())
    for rel, label in train[:4] + val[:2]:
        frames = _decode(clips_root, rel)  # mmaction2's own decord loader
        assert frames.shape == (CLIP_FRAMES, CLIP_SIDE_PX, CLIP_SIDE_PX, 3)
        start, end = info[rel]["visible_frames"]
        assert info[rel]["label"] == int(label) and end - start >= CLIP_FRAMES // 2
        # Pixels of the class's hue (the 12x12 moving square) are there only while it is
        # visible (the background may share a few by chance).
        hue = _CLIP_PALETTE[int(label)]
        of_hue = (np.abs(frames.astype(float) - hue).max(axis=-1) < 60).sum(axis=(1, 2))
        outside = np.r_[0:start, end:CLIP_FRAMES]
        if len(outside):
            assert of_hue[start:end].min() > of_hue[outside].max() + 50


def test_method_stages_in_clip_pipeline(clips_root):
    from tasks.video import TASK

    base = TASK.resolve(RunSpec(task="video", data_root=str(clips_root)))
    TASK.check(base)

    def stages(spec):
        cfg, params = TASK.build_config(spec)
        train = [s["type"].rsplit(".", 1)[-1] for s in cfg.train_dataloader.dataset.pipeline]
        test = [s["type"].rsplit(".", 1)[-1] for s in cfg.test_dataloader.dataset.pipeline]
        return train, test, params, cfg

    train, test, params, _ = stages(base)
    assert "HideAndSeek" not in train and params == {"method": "baseline"}
    train, test, params, _ = stages(RunSpec(**{**base.__dict__, "method": "has"}))
    assert train[train.index("HideAndSeek") + 1] == "FormatShape" and "HideAndSeek" not in test
    assert params["has_grid_sizes_px"] == [0, 2, 5, 6, 8]  # (0,16,32,44,56) scaled to 32 px
    train, _, params, _ = stages(RunSpec(**{**base.__dict__, "method": "has-frames"}))
    assert "HideAndSeekFrames" in train and "HideAndSeek" not in train
    assert params["has_segment_frames"] == 2 and params["method"] == "has-frames"
    train, _, params, _ = stages(RunSpec(**{**base.__dict__, "method": "random_erasing"}))
    assert train[train.index("RandomErasing") + 1] == "FormatShape"
    assert params["re_max_area_ratio"] == 0.4
    train, test, params, _ = stages(RunSpec(**{**base.__dict__, "method": "cutout"}))
    assert train[train.index("ClipCutout") + 1] == "FormatShape" and "ClipCutout" not in test
    assert params["cutout_type"] == "mmaction.ClipCutout" and params["cutout_side_px"] == 16
    with pytest.raises(ValueError, match="has-frames"):
        TASK.check(base.with_options(has_mode="frames"))


def test_hide_and_seek_shares_one_mask_across_clip_frames(clips_root):
    """Through the real train pipeline: hidden pixels are the mean (rounded to uint8), the same
    in all frames."""
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    from tasks.video import TASK

    spec = TASK.resolve(RunSpec(task="video", method="has", data_root=str(clips_root)))
    cfg, _ = TASK.build_config(spec)
    init_default_scope("mmaction")
    import benchmark.pipelines  # noqa: F401

    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset))
    mean = torch.tensor(cfg.model.data_preprocessor.mean).view(3, 1, 1, 1)
    np.random.seed(3)
    found_hidden = False
    for idx in range(len(dataset)):
        clip = dataset[idx]["inputs"][0].float()  # C x T x H x W
        hidden = (clip - mean).abs().amax(0) <= 0.5  # T x H x W; uint8 holds the rounded mean
        if hidden.any():
            found_hidden = True
            assert (hidden == hidden[0:1]).all()  # one mask for every frame
    assert found_hidden


def test_grad_cam_shapes_and_files(clips_root, tmp_path):
    from mmaction.registry import MODELS
    from mmengine import Config
    from mmengine.registry import init_default_scope

    from benchmark.engine import compat
    from tasks.video import CONFIGS, TASK
    from tasks.video.cam import (
        ClipExplanation,
        clip_grad_cam,
        frame_saliency,
        saliency_in_window,
        write_explanation,
    )

    compat.apply()
    init_default_scope("mmaction")
    torch.manual_seed(0)
    config = Config.fromfile(str(TASK.config_dir / CONFIGS[("i3d-tiny", None)]))
    model = MODELS.build(config.model).eval()
    clip = torch.randn(3, 16, 32, 32)
    cam, cls = clip_grad_cam(model, clip)
    assert cam.shape == (16, 32, 32) and 0 <= cls < 4
    assert cam.min() >= 0 and cam.max() <= 1 + 1e-6
    curve = frame_saliency(cam)
    assert curve.shape == (16,)
    assert saliency_in_window(cam, (0, 16)) == pytest.approx(1.0)
    frames = np.random.default_rng(0).integers(0, 255, (16, 32, 32, 3), dtype=np.uint8)
    explained = ClipExplanation("c.mp4", frames, {"baseline": cam, "has": cam[::-1].copy()},
                                {"baseline": "a", "has": "b"}, label="a", visible_frames=(2, 9))
    paths = write_explanation([explained, explained], tmp_path / "fig.png")
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    from PIL import Image

    with Image.open(paths["gif"]) as gif:
        assert gif.n_frames == 16
        assert gif.size[0] > 3 * gif.size[1]  # frames | baseline | has side by side
    with pytest.raises(ValueError, match="C x T x H x W"):
        clip_grad_cam(model, torch.randn(2, 3, 16, 32, 32))


@pytest.mark.slow
def test_short_run_and_explain(clips_root, tmp_path, input_spy, capfd):
    from mmengine.logging import MMLogger

    from benchmark.engine.runner import run_one
    from tasks.video import explain

    spec = RunSpec(task="video", method="has-frames", data_root=str(clips_root), epochs=1,
                   synthetic=True, options=(("saliency_clips", 4),))
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.status == "ok"
    assert 0 <= record.metrics["top1"] <= 100
    assert 0 <= record.metrics["saliency_in_action"] <= 100
    assert record.method_params["has_mode"] == "frames"
    work = tmp_path / "work" / record.run_id
    for name in ("gradcam_strip", "gradcam_gif", "gradcam_curve"):
        assert (work / record.artifacts[name]).is_file()
    MMLogger.get_instance("outside-any-runner")  # as in the suite's main process
    capfd.readouterr()
    strip = explain([work], tmp_path / "explain" / "cam.png", n=1)
    shown = capfd.readouterr()
    assert "FileClient" not in shown.out + shown.err  # the stack's notes stay off the console
    assert strip.is_file() and strip.with_suffix(".gif").is_file()
    assert (strip.parent / "cam_curve.png").is_file()
    input_spy.check("has-frames")  # hidden frames in training clips only


@pytest.mark.slow
def test_preprocessor_placement_run_hides_training_clips_only(clips_root, tmp_path, input_spy):
    from benchmark.engine.runner import run_one

    spec = RunSpec(task="video", method="has", data_root=str(clips_root), epochs=1,
                   synthetic=True, options=(("has_placement", "preprocessor"),
                                            ("saliency_clips", 2)))
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.status == "ok" and record.method_params["has_placement"] == "preprocessor"
    input_spy.check("has")


def test_preprocessor_placement_for_spatial_has(clips_root):
    from mmaction.registry import MODELS

    from benchmark.pipelines.preprocessors import HideAndSeekActionDataPreprocessor
    from tasks.video import TASK

    spec = TASK.resolve(RunSpec(task="video", method="has", data_root=str(clips_root),
                                options=(("has_placement", "preprocessor"),)))
    cfg, params = TASK.build_config(spec)
    assert not any(s["type"].endswith("HideAndSeek") for s in cfg.train_dataloader.dataset.pipeline)
    assert params["has_placement"] == "preprocessor"
    model = MODELS.build(cfg.model)
    assert isinstance(model.data_preprocessor, HideAndSeekActionDataPreprocessor)
    from benchmark.methods import method_for

    with pytest.raises(ValueError, match="hides whole frames"):
        method_for("has-frames", {"has_placement": "preprocessor"})
