"""HaS stages inside mmpretrain's, mmsegmentation's and mmaction2's real pipelines.

Each stage is built through each library's registry, run in mmengine's ``Compose`` between
that library's own loading and packing stages on real images from ``data_dir()``, and the
library's own data preprocessor then normalizes: hidden pixels must be 0 -- exactly with
``keep_dtype=False`` (the uint8 image becomes float32), within half a gray level over the std
with the default ``keep_dtype=True`` (uint8 kept, mean rounded) -- and every other pixel and
label identical to the same pipeline without HaS. The hidden mask is
recomputed independently by re-seeding numpy's global state (the stages draw from it, so
mmengine's ``randomness.seed`` makes them reproducible).
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest
import torch

from benchmark.engine import compat
from benchmark.engine.paths import data_dir
from benchmark.hide_and_seek import sample_hidden_steps, sample_hide_mask
from benchmark.methods import apply_method_to_mm_config, mean_in_pipeline_order

compat.apply()

import mmaction.datasets  # noqa: E402,F401  (registers mmaction's transforms)
import mmpretrain.datasets  # noqa: E402,F401
import mmseg.datasets  # noqa: E402,F401
from mmengine.dataset import Compose, default_collate, pseudo_collate  # noqa: E402

from benchmark.pipelines import HideAndSeek, HideAndSeekFrames  # noqa: E402

MEAN_RGB = [123.675, 116.28, 103.53]
STD_RGB = [58.395, 57.12, 57.375]
MEAN_BGR = MEAN_RGB[::-1]
SCOPES = ("mmpretrain", "mmseg", "mmaction")
#: Largest |normalized value| of a pixel filled with the rounded mean: 0.5 / the smallest std.
ROUNDED_MEAN_TOL = 0.5 / min(STD_RGB)


@pytest.fixture(params=[True, False], ids=["keep_dtype", "promote"])
def keep_dtype(request):
    return request.param


def assert_hidden_zero(values, keep_dtype):
    """Normalized hidden pixels: exactly 0 when promoted, within the rounding when kept."""
    if keep_dtype:
        assert torch.all(values.abs() <= ROUNDED_MEAN_TOL + 1e-6), values.abs().max()
        assert torch.any(values != 0)  # the mean really was rounded (123.675 is no uint8)
    else:
        assert torch.all(values == 0)


def registry(scope):
    if scope == "mmpretrain":
        from mmpretrain.registry import TRANSFORMS
    elif scope == "mmseg":
        from mmseg.registry import TRANSFORMS
    else:
        from mmaction.registry import TRANSFORMS
    return TRANSFORMS


def need(path):
    if not path.exists():
        pytest.skip(f"real data subset missing: {path} (set HASBENCH_DATA to the shared data); "
                    "the generated case of this test still ran")
    return path


def _generated_pngs(folder, n, shape, seed):
    """``n`` random-pixel PNG files of ``shape`` under ``folder``."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = [folder / f"{i:02d}.png" for i in range(n)]
    for path in paths:
        cv2.imwrite(str(path), rng.integers(0, 256, shape, dtype=np.uint8))
    return paths


@pytest.fixture(scope="module", params=["generated", "real"])
def tiny_imagenet_images(request, tmp_path_factory):
    """Eight 64x64 images: generated PNGs always; the Tiny ImageNet subset's JPEGs if there."""
    if request.param == "generated":
        return _generated_pngs(tmp_path_factory.mktemp("images"), 8, (64, 64, 3), seed=0)
    root = need(data_dir() / "tiny-imagenet-10" / "train")
    files = sorted(root.glob("*/images/*.JPEG"))[:8]
    assert files, f"no JPEG under {root}"
    return files


@pytest.fixture(scope="module", params=["generated", "real"])
def camvid_pair(request, tmp_path_factory):
    """(image, label map) files: generated 120x90 ones always; CamVid's if the subset is there."""
    if request.param == "generated":
        import cv2

        folder = tmp_path_factory.mktemp("camvid-pair")
        image = _generated_pngs(folder, 1, (90, 120, 3), seed=1)[0]
        label = folder / "label.png"
        cv2.imwrite(str(label), np.random.default_rng(2).integers(0, 12, (90, 120), np.uint8))
        return image, label
    root = need(data_dir() / "camvid-subset")
    image_rel, label_rel = (root / "train.txt").read_text().split("\n")[0].split()
    return root / image_rel, root / label_rel


@pytest.fixture(scope="module")
def small_video(tmp_path_factory, tiny_imagenet_images):
    """An 8-frame 64x64 mp4 made of those images (decord needs width >= 64)."""
    import cv2

    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 8, (64, 64))
    if not writer.isOpened():
        pytest.skip("OpenCV cannot write mp4 here")
    for file in tiny_imagenet_images:
        writer.write(cv2.imread(str(file)))
    writer.release()
    return path


def run(pipeline, results, seed):
    np.random.seed(seed)
    return Compose(copy.deepcopy(pipeline))(copy.deepcopy(results))


# ----------------------------------------------------------------------------- registries


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("cls", [HideAndSeek, HideAndSeekFrames])
def test_built_through_each_registry(scope, cls):
    stage = registry(scope).build(dict(type=cls.__name__, mean=MEAN_BGR))
    assert type(stage) is cls
    composed = Compose([dict(type=f"{scope}.{cls.__name__}", fill=0)])
    assert type(composed.transforms[0]) is cls


@pytest.mark.parametrize("cls", [HideAndSeek, HideAndSeekFrames])
def test_repr_lists_every_argument(cls):
    stage = cls(mean=MEAN_BGR)
    text = repr(stage)
    for name in inspect.signature(cls.__init__).parameters:
        if name != "self":
            assert f"{name}=" in text, (name, text)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(), "mean"),
        (dict(mean=MEAN_BGR, hide_prob=1.5), "hide_prob"),
        (dict(mean=MEAN_BGR, grid_sizes=()), "grid_sizes"),
        (dict(mean=MEAN_BGR, grid_sizes=(-4,)), "grid_sizes"),
        (dict(fill="median"), "fill"),
        (dict(fill=(1, "a")), "fill"),
        (dict(mean="bgr"), "mean"),
    ],
)
def test_has_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        HideAndSeek(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [(dict(), "mean"), (dict(fill=0, segment_len=0), "segment_len"),
     (dict(fill=0, keys="imgs"), "keys"), (dict(fill=0, hide_prob=-1), "hide_prob")],
)
def test_frames_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        HideAndSeekFrames(**kwargs)


# ----------------------------------------------------------------------------- mmpretrain


def test_mmpretrain_pipeline_zero_after_cls_preprocessor(tiny_imagenet_images, keep_dtype):
    from mmpretrain.models import ClsDataPreprocessor

    preprocessor = ClsDataPreprocessor(mean=MEAN_RGB, std=STD_RGB, to_rgb=True)
    mean = mean_in_pipeline_order(dict(mean=MEAN_RGB, to_rgb=True))
    assert mean == MEAN_BGR
    grid = (16,)
    base = [dict(type="mmpretrain.LoadImageFromFile"),
            dict(type="mmpretrain.Resize", scale=(80, 96)),  # (w, h): non-square 96x80
            dict(type="mmpretrain.PackInputs")]
    has = [*base[:2], dict(type="mmpretrain.HideAndSeek", grid_sizes=grid, mean=mean,
                           keep_dtype=keep_dtype), base[2]]
    seeds = [0, 1]
    samples = [dict(img_path=str(f), gt_label=i) for i, f in enumerate(tiny_imagenet_images[:2])]
    plain = [run(base, s, seed) for s, seed in zip(samples, seeds, strict=True)]
    hidden = [run(has, s, seed) for s, seed in zip(samples, seeds, strict=True)]
    # uint8 kept (rounded mean), or promoted for the 123.675 mean
    assert hidden[0]["inputs"].dtype == (torch.uint8 if keep_dtype else torch.float32)
    out_plain = preprocessor(default_collate(plain), training=True)
    out_has = preprocessor(default_collate(hidden), training=True)
    for i, seed in enumerate(seeds):
        np.random.seed(seed)
        mask = torch.from_numpy(sample_hide_mask(96, 80, grid, 0.5))
        assert mask.any() and (~mask).any()
        x_has, x_plain = out_has["inputs"][i], out_plain["inputs"][i]
        assert_hidden_zero(x_has[:, mask], keep_dtype)
        assert torch.equal(x_has[:, ~mask], x_plain[:, ~mask])
        assert torch.equal(out_has["data_samples"][i].gt_label,
                           out_plain["data_samples"][i].gt_label)


def test_cache_random_params_repeats_the_draw():
    from mmcv.transforms.utils import cache_random_params

    stage = HideAndSeek(grid_sizes=(4, 8), fill=0)
    img = np.full((32, 32, 3), 200, np.uint8)
    np.random.seed(0)
    with cache_random_params(stage):
        first = stage(dict(img=img.copy()))["img"]
        masks = [(stage(dict(img=img.copy()))["img"] == 0).tobytes() for _ in range(5)]
    assert set(masks) == {(first == 0).tobytes()}
    outside = {(stage(dict(img=img.copy()))["img"] == 0).tobytes() for _ in range(5)}
    assert len(outside) > 1  # outside the context every call draws anew


def test_uint8_kept_with_rounded_mean_or_always_promoted():
    img = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    out = HideAndSeek(grid_sizes=(8,), fill=0, keep_dtype=False)(dict(img=img.copy()))
    assert out["img"].dtype == np.uint8  # an integer fill needs no promotion
    out = HideAndSeek(grid_sizes=(0,), mean=MEAN_BGR, keep_dtype=False)(dict(img=img.copy()))
    assert out["img"].dtype == np.float32  # promoted even when nothing is hidden
    np.testing.assert_array_equal(out["img"], img)
    flipped = np.flip(img.copy(), axis=1)  # RandomFlip's view: written in place, layout kept
    out = HideAndSeek(grid_sizes=(40,), hide_prob=1.0, mean=MEAN_BGR)(dict(img=flipped))
    assert out["img"] is flipped and out["img"].dtype == np.uint8
    assert np.all(out["img"] == np.round(MEAN_BGR).astype(np.uint8))  # 103.53 -> 104, ...
    frozen = img.copy()
    frozen.flags.writeable = False  # read-only arrays are copied, never written
    out = HideAndSeek(grid_sizes=(40,), hide_prob=1.0, fill=7)(dict(img=frozen))
    assert out["img"] is not frozen and np.all(out["img"] == 7)
    np.testing.assert_array_equal(frozen, img)
    frame = img.copy()  # one array twice in a clip, per-frame masks: hidden on copies
    out = HideAndSeek(grid_sizes=(4,), fill=0, share_mask_across_frames=False)(
        dict(imgs=[frame, frame]))["imgs"]
    np.testing.assert_array_equal(frame, img)
    assert not np.array_equal(out[0] == 0, out[1] == 0)


def test_method_overlay_gives_pipeline_order_mean_and_zeroes(tiny_imagenet_images):
    """The overlay's stage (default keep_dtype): hidden pixels within the rounding of 0."""
    from mmengine.config import Config
    from mmpretrain.models import ClsDataPreprocessor

    preproc_cfg = dict(type="ClsDataPreprocessor", mean=MEAN_RGB, std=STD_RGB, to_rgb=True)
    cfg = Config(dict(
        model=dict(data_preprocessor=preproc_cfg),
        train_dataloader=dict(dataset=dict(pipeline=[
            dict(type="mmpretrain.LoadImageFromFile"), dict(type="mmpretrain.PackInputs")])),
    ))
    new_cfg, params = apply_method_to_mm_config(cfg, "has-16", scope="mmpretrain",
                                                image_hw=(224, 224))
    pipeline = new_cfg.train_dataloader.dataset.pipeline
    stage_cfg = next(s for s in pipeline if s["type"].endswith("HideAndSeek"))
    assert list(stage_cfg["mean"]) == MEAN_BGR and params["method"] == "has-16"
    stage = registry("mmpretrain").build(stage_cfg)
    assert stage.mean == tuple(MEAN_BGR)
    packed = run(pipeline, dict(img_path=str(tiny_imagenet_images[0]), gt_label=0), seed=3)
    out = ClsDataPreprocessor(mean=MEAN_RGB, std=STD_RGB, to_rgb=True)(
        default_collate([packed]), training=True)
    np.random.seed(3)
    mask = torch.from_numpy(sample_hide_mask(64, 64, (16,), 0.5))
    assert_hidden_zero(out["inputs"][0][:, mask], keep_dtype=True)
    assert torch.all(out["inputs"][0][:, ~mask].abs().sum(0) > ROUNDED_MEAN_TOL * 3)


# ----------------------------------------------------------------------------- mmseg


def test_mmseg_pipeline_zero_after_seg_preprocessor_labels_untouched(camvid_pair, keep_dtype):
    from mmseg.models.data_preprocessor import SegDataPreProcessor

    image, label = camvid_pair
    grid = (44,)  # 240x180 -> partial cells at both edges
    preprocessor = SegDataPreProcessor(mean=MEAN_RGB, std=STD_RGB, bgr_to_rgb=True,
                                       size=(180, 240))
    mean = mean_in_pipeline_order(dict(mean=MEAN_RGB, bgr_to_rgb=True))
    base = [dict(type="mmseg.LoadImageFromFile"),
            dict(type="mmseg.LoadAnnotations", reduce_zero_label=False),
            dict(type="mmseg.Resize", scale=(240, 180), keep_ratio=False),
            dict(type="mmseg.PackSegInputs")]
    has = [*base[:3], dict(type="mmseg.HideAndSeek", grid_sizes=grid, mean=mean,
                           keep_dtype=keep_dtype), base[3]]
    results = dict(img_path=str(image), seg_map_path=str(label), reduce_zero_label=False,
                   seg_fields=[])
    seed = 5
    out_plain = preprocessor(pseudo_collate([run(base, results, seed)]), training=True)
    out_has = preprocessor(pseudo_collate([run(has, results, seed)]), training=True)
    np.random.seed(seed)
    mask = torch.from_numpy(sample_hide_mask(180, 240, grid, 0.5))
    assert mask.any() and (~mask).any()
    x_has, x_plain = out_has["inputs"][0], out_plain["inputs"][0]
    assert_hidden_zero(x_has[:, mask], keep_dtype)
    assert torch.equal(x_has[:, ~mask], x_plain[:, ~mask])
    seg_has = out_has["data_samples"][0].gt_sem_seg.data
    seg_plain = out_plain["data_samples"][0].gt_sem_seg.data
    assert torch.equal(seg_has, seg_plain) and seg_has.unique().numel() > 1


# ----------------------------------------------------------------------------- mmaction


def action_pipeline(extra):
    return [dict(type="mmaction.DecordInit"),
            dict(type="mmaction.SampleFrames", clip_len=4, frame_interval=1, num_clips=2,
                 test_mode=True),
            dict(type="mmaction.DecordDecode"),
            *extra,
            dict(type="mmaction.FormatShape", input_format="NCTHW"),
            dict(type="mmaction.PackActionInputs")]


def action_results(video):
    return dict(filename=str(video), label=2, start_index=0, modality="RGB")


def action_preprocess(packed):
    from mmaction.models.data_preprocessors import ActionDataPreprocessor

    preprocessor = ActionDataPreprocessor(mean=MEAN_RGB, std=STD_RGB, format_shape="NCTHW")
    return preprocessor(pseudo_collate([packed]), training=True)


def test_mmaction_clip_one_mask_for_all_frames(small_video, keep_dtype):
    grid = (16,)
    seed = 2
    # decord gives RGB frames and the preprocessor does not flip: mean stays in RGB order
    assert mean_in_pipeline_order(dict(mean=MEAN_RGB)) == MEAN_RGB
    plain = action_preprocess(run(action_pipeline([]), action_results(small_video), seed))
    has = action_preprocess(run(
        action_pipeline([dict(type="mmaction.HideAndSeek", grid_sizes=grid, mean=MEAN_RGB,
                              keep_dtype=keep_dtype)]),
        action_results(small_video), seed))
    np.random.seed(seed)
    mask = torch.from_numpy(sample_hide_mask(64, 64, grid, 0.5))
    assert mask.any() and (~mask).any()
    x_has, x_plain = has["inputs"][0], plain["inputs"][0]  # (clips, C, T, H, W)
    assert x_has.shape == (2, 3, 4, 64, 64)
    assert_hidden_zero(x_has[..., mask], keep_dtype)
    assert torch.equal(x_has[..., ~mask], x_plain[..., ~mask])
    assert torch.equal(has["data_samples"][0].gt_label, plain["data_samples"][0].gt_label)


def test_per_frame_masks_differ_when_not_shared():
    frames = [np.full((64, 64, 3), 200, np.uint8) for _ in range(6)]
    out = HideAndSeek(grid_sizes=(4,), fill=0, share_mask_across_frames=False)(
        dict(imgs=frames))["imgs"]
    masks = {(f[..., 0] == 0).tobytes() for f in out}
    assert len(masks) == len(frames)
    fresh = np.full((6, 64, 64, 3), 200, np.uint8)  # (the first call wrote into its frames)
    shared = HideAndSeek(grid_sizes=(4,), fill=0)(dict(imgs=fresh))["imgs"]
    assert isinstance(shared, np.ndarray) and len({(f[..., 0] == 0).tobytes() for f in shared}) == 1


def test_mmaction_frames_hidden_per_clip_segments(small_video, keep_dtype):
    seed, segment_len = 1, 2
    stage = dict(type="mmaction.HideAndSeekFrames", mean=MEAN_RGB, segment_len=segment_len,
                 keep_dtype=keep_dtype)
    plain = action_preprocess(run(action_pipeline([]), action_results(small_video), seed))
    has = action_preprocess(run(action_pipeline([stage]), action_results(small_video), seed))
    np.random.seed(seed)
    hidden = torch.from_numpy(np.stack(
        [sample_hidden_steps(4, 0.5, None, segment_len) for _ in range(2)]))  # (clips, T)
    assert hidden.any() and (~hidden).any()
    x_has, x_plain = has["inputs"][0], plain["inputs"][0]  # (clips, C, T, H, W)
    for clip in range(2):
        for t in range(4):
            if hidden[clip, t]:
                assert_hidden_zero(x_has[clip, :, t], keep_dtype)
            else:
                assert torch.equal(x_has[clip, :, t], x_plain[clip, :, t])
    assert torch.equal(has["data_samples"][0].gt_label, plain["data_samples"][0].gt_label)


def test_frames_on_feature_sequences():
    feats = np.random.default_rng(0).random((20, 7)).astype(np.float32)
    stage = HideAndSeekFrames(fill=0, keys=("feature",), segment_len=3)
    np.random.seed(1)
    out = stage(dict(feature=feats.copy(), label=1))
    np.random.seed(1)
    hidden = sample_hidden_steps(20, 0.5, None, 3)
    assert out["feature"].dtype == np.float32 and out["label"] == 1
    np.testing.assert_array_equal(out["feature"][hidden], 0)
    np.testing.assert_array_equal(out["feature"][~hidden], feats[~hidden])

    stage_t = HideAndSeekFrames(fill=0, keys=("feature",), time_axis=1)
    np.random.seed(2)
    out_t = stage_t(dict(feature=torch.from_numpy(feats.T.copy())))["feature"]
    np.random.seed(2)
    hidden_t = torch.from_numpy(sample_hidden_steps(20, 0.5, None, 1))
    assert isinstance(out_t, torch.Tensor)
    assert torch.all(out_t[:, hidden_t] == 0)
    assert torch.equal(out_t[:, ~hidden_t], torch.from_numpy(feats.T)[:, ~hidden_t])
    with pytest.raises(KeyError, match="feature"):
        stage(dict(imgs=[]))


@pytest.mark.parametrize(
    ("scope", "preprocessor", "anchor", "want"),
    [
        ("mmseg", dict(type="SegDataPreProcessor", mean=MEAN_RGB, std=STD_RGB, bgr_to_rgb=True),
         "PackSegInputs", MEAN_BGR),
        ("mmaction", dict(type="ActionDataPreprocessor", mean=MEAN_RGB, std=STD_RGB,
                          format_shape="NCTHW"), "FormatShape", MEAN_RGB),
    ],
)
def test_method_overlay_mean_order_per_library(scope, preprocessor, anchor, want):
    cfg = dict(model=dict(data_preprocessor=preprocessor),
               train_dataloader=dict(dataset=dict(pipeline=[dict(type=f"{scope}.{anchor}")])))
    new_cfg, _ = apply_method_to_mm_config(cfg, "has", scope=scope, image_hw=(224, 224))
    stage_cfg = new_cfg["train_dataloader"]["dataset"]["pipeline"][0]
    stage = registry(scope).build(copy.deepcopy(stage_cfg))
    assert isinstance(stage, HideAndSeek) and list(stage.mean) == want
    assert stage.grid_sizes == (0, 16, 32, 44, 56)
