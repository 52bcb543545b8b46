"""The torchvision v2 transform `benchmark.pipelines.torchvision.HideAndSeek`: images only."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import PIL.Image
import pytest
import torch
from torchvision import transforms as v1
from torchvision import tv_tensors
from torchvision.transforms import v2

from benchmark.engine.paths import REPO_ROOT
from benchmark.pipelines.torchvision import HideAndSeek

H, W = 32, 48


def _image(dtype=torch.uint8, channels=3, seed=0) -> tv_tensors.Image:
    gen = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        return tv_tensors.Image(torch.randint(0, 256, (channels, H, W), dtype=dtype,
                                              generator=gen))
    return tv_tensors.Image(torch.rand((channels, H, W), generator=gen))


def _hidden(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Per-pixel mask (H, W) of what changed in a (C, H, W) image."""
    return (before != after).any(0)


def _is_union_of_cells(mask: torch.Tensor, size: int) -> bool:
    """Whether ``mask`` (H, W; both multiples of ``size``) is a union of aligned size-px cells."""
    blocks = mask.reshape(H // size, size, W // size, size).permute(0, 2, 1, 3).flatten(2)
    return bool((blocks.all(-1) | ~blocks.any(-1)).all())


def test_in_a_v2_compose_only_the_image_is_hidden_masks_boxes_labels_pass_through():
    img = _image()
    mask = tv_tensors.Mask(torch.randint(0, 5, (H, W)))
    boxes = tv_tensors.BoundingBoxes(torch.tensor([[1, 2, 20, 30], [5, 5, 40, 31]]),
                                     format="XYXY", canvas_size=(H, W))
    sample = {"image": img, "mask": mask, "boxes": boxes, "label": 3}
    flip = v2.RandomHorizontalFlip(p=1.0)
    has = HideAndSeek(grid_sizes=(8,), hide_prob=0.5, fill=7)
    torch.manual_seed(0)
    out = v2.Compose([flip, has])(sample)
    flipped = flip(sample)

    assert type(out["image"]) is tv_tensors.Image and out["image"].dtype == torch.uint8
    assert type(out["mask"]) is tv_tensors.Mask and torch.equal(out["mask"], flipped["mask"])
    assert type(out["boxes"]) is tv_tensors.BoundingBoxes
    assert torch.equal(out["boxes"], flipped["boxes"]) and out["boxes"].canvas_size == (H, W)
    assert out["label"] == 3
    changed = _hidden(flipped["image"], out["image"])
    assert 0 < changed.float().mean() < 1 and _is_union_of_cells(changed, 8)
    assert (out["image"][:, changed] == 7).all()
    assert torch.equal(img, _image())  # the input is not written


def test_all_images_of_a_sample_share_one_draw_and_a_video_hides_every_frame_alike():
    video = tv_tensors.Video(torch.rand(4, 3, H, W))
    torch.manual_seed(1)
    a, b, v = HideAndSeek(grid_sizes=(8,), fill=0)(_image(seed=1), _image(seed=2), video)
    hidden_a, hidden_b = (a == 0).all(0), (b == 0).all(0)
    assert hidden_a.any() and torch.equal(hidden_a, hidden_b)
    assert type(v) is tv_tensors.Video
    for frame in v:
        assert torch.equal((frame == 0).all(0), hidden_a)


@pytest.mark.parametrize("dtype, expected", [
    (torch.uint8, [128, 64, 191]),         # mean x 255, rounded
    (torch.float32, [0.5, 0.25, 0.75]),  # float images in [0, 1]: the mean as is
])
def test_fill_mean_is_in_the_images_units(dtype, expected):
    has = HideAndSeek(grid_sizes=(16,), hide_prob=1.0, fill="mean", mean=(0.5, 0.25, 0.75))
    out = has(_image(dtype))
    assert out.dtype == dtype
    assert torch.equal(out, torch.tensor(expected, dtype=dtype).reshape(3, 1, 1).expand(3, H, W))


def test_after_normalize_the_default_fill_0_is_the_mean_pixel():
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    pipeline = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std),
                           HideAndSeek(grid_sizes=(8,), hide_prob=0.5)])
    torch.manual_seed(0)
    img = _image()
    out = pipeline(img)
    hidden = (out == 0).all(0)
    assert hidden.any() and _is_union_of_cells(hidden, 8)
    normalized = v2.Normalize(mean, std)(v2.ToDtype(torch.float32, scale=True)(img))
    assert torch.equal(out[:, ~hidden], normalized[:, ~hidden])


def test_pil_images_stay_pil_and_get_the_fill_in_pixels():
    rgb = PIL.Image.fromarray(np.asarray(_image()).transpose(1, 2, 0).copy())
    out = HideAndSeek(grid_sizes=(16,), hide_prob=1.0, fill="mean", mean=(0.5, 0.25, 0.75))(rgb)
    assert isinstance(out, PIL.Image.Image) and out.mode == "RGB" and out.size == (W, H)
    assert (np.asarray(out) == [128, 64, 191]).all()
    grey = rgb.convert("L")
    torch.manual_seed(0)
    out = HideAndSeek(grid_sizes=(8,), fill=255)(grey)
    changed = torch.as_tensor(np.asarray(out) != np.asarray(grey))
    assert out.mode == "L" and changed.any() and (np.asarray(out)[changed.numpy()] == 255).all()
    with pytest.raises(ValueError, match="convert the image"):
        HideAndSeek()(rgb.convert("P"))


def test_plain_tensors_the_first_is_the_image_the_rest_pass_through():
    img, label = torch.rand(3, H, W), torch.tensor([1, 2])
    torch.manual_seed(0)
    out, label_out = HideAndSeek(grid_sizes=(8,), hide_prob=1.0, fill=0.5)(img, label)
    assert type(out) is torch.Tensor and (out == 0.5).all()
    assert label_out is label
    grey = HideAndSeek(grid_sizes=(8,), hide_prob=1.0, fill=3)(torch.zeros(H, W))
    assert (grey == 3).all()  # (H, W) tensors too


def test_views_and_channels_last_are_hidden_exactly():
    img = _image().as_subclass(torch.Tensor)
    for view in (img.flip(-1), img.permute(1, 2, 0).contiguous().permute(2, 0, 1)):  # HWC memory
        torch.manual_seed(3)
        out = HideAndSeek(grid_sizes=(8,), fill=9)(view)
        changed = _hidden(view, out)
        assert changed.any() and (out[:, changed] == 9).all()
        assert torch.equal(out[:, ~changed], view[:, ~changed])


def test_torch_seed_makes_it_reproducible_and_the_extremes_hold():
    img = _image()
    has = HideAndSeek(grid_sizes=(4, 8, 16), fill=0)
    draws = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        draws.append(has(img))
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    assert torch.equal(HideAndSeek(grid_sizes=(0,), hide_prob=1.0, fill=0)(img), img)
    assert torch.equal(HideAndSeek(grid_sizes=(8,), hide_prob=0.0, fill=0)(img), img)


def test_works_inside_a_v1_compose_as_timm_builds_one():
    pipeline = v1.Compose([v1.ToTensor(), v1.Normalize([0.5] * 3, [0.25] * 3),
                           HideAndSeek(grid_sizes=(8,), hide_prob=0.5)])
    torch.manual_seed(0)
    out = pipeline(PIL.Image.fromarray(np.asarray(_image()).transpose(1, 2, 0).copy()))
    assert out.shape == (3, H, W) and (out == 0).all(0).any()


def test_images_of_different_sizes_in_one_sample_are_refused():
    with pytest.raises(ValueError, match="resize them to one size"):
        HideAndSeek()(_image(), tv_tensors.Image(torch.zeros(3, 8, 8, dtype=torch.uint8)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(grid_sizes=()), "grid_sizes"),
    (dict(grid_sizes=(16, -1)), "grid_sizes"),
    (dict(hide_prob=1.5), "hide_prob"),
    (dict(fill="median"), "fill must be 'mean'"),
    (dict(fill="mean"), "with mean="),
    (dict(fill=[]), "fill must be a number"),
    (dict(fill=(1, "a")), "fill must be a number"),
    (dict(fill="mean", mean=(123.7, 116.3, 103.5)), r"mean must be in \[0, 1\]"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HideAndSeek(**kwargs)


def test_a_fill_the_image_cannot_hold_names_the_problem_at_call_time():
    with pytest.raises(ValueError, match="does not fit"):
        HideAndSeek(grid_sizes=(8,), hide_prob=1.0, fill=-1)(_image())
    with pytest.raises(ValueError, match="one value per channel"):
        HideAndSeek(grid_sizes=(8,), hide_prob=1.0, fill=(1, 2))(_image())


def test_repr_names_every_argument():
    text = repr(HideAndSeek(grid_sizes=[0, 8], hide_prob=0.25, fill="mean", mean=[0.5, 0.4, 0.3]))
    assert text == ("HideAndSeek(grid_sizes=(0, 8), hide_prob=0.25, fill='mean', "
                    "mean=(0.5, 0.4, 0.3))")


def test_it_imports_and_works_without_openmmlab_installed():
    code = textwrap.dedent("""
        import json, sys

        class NotInstalled:  # as if mmcv and mmengine were not installed
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("mmcv", "mmengine"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, NotInstalled())
        import torch
        import benchmark.pipelines
        from benchmark.pipelines.torchvision import HideAndSeek
        out = HideAndSeek(grid_sizes=(4,), hide_prob=1.0, fill=2)(torch.zeros(3, 8, 8))
        mm = ("mmcv", "mmengine", "mmpretrain", "mmseg", "mmaction")
        print(json.dumps({"scopes": list(benchmark.pipelines.REGISTERED_SCOPES),
                          "hidden": bool((out == 2).all()),
                          "mm": sorted(m for m in sys.modules if m.split(".")[0] in mm)}))
    """)
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"scopes": [], "hidden": True,
                                                               "mm": []}
