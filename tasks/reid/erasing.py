"""Cutout and GridMask inside torchreid's training transform (our counterparts).

torchreid ships neither. Like HaS (:mod:`benchmark.pipelines.torchreid`), both act on the
normalized CHW tensor right after ``Normalize`` and fill with 0 (the dataset mean pixel
``norm_mean``); randomness comes from Python's ``random`` (torchreid's seeding covers it).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torchvision.transforms import Compose, Normalize

from benchmark.erasing.cutout import apply_box, sample_cutout_box
from benchmark.erasing.family import cutout_side_px
from benchmark.erasing.gridmask import (
    IMAGENET_SETTING,
    check_gridmask_args,
    expected_drop_fraction,
    sample_gridmask,
    scale_d_range,
)


class CutoutTensor:
    """One ``side`` x ``side`` square (centre anywhere, cut at the edges) set to ``fill``.

    Args:
        side: The square's side in pixels.
        prob: Probability of cutting an image (the paper: 1).
        fill: Value in the tensor's (normalized) units: 0 = the mean pixel.

    Raises:
        ValueError: for a side below 1 or a probability outside [0, 1].
    """

    def __init__(self, side: int, prob: float = 1.0, fill: float = 0.0):
        sample_cutout_box(1, 1, side, np.random.default_rng(0))  # validates side
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"CutoutTensor: prob must be in [0, 1], got {prob!r}")
        self.side, self.prob, self.fill = int(side), float(prob), float(fill)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        """Return a copy of ``img`` (C, H, W) with the square filled."""
        rng = np.random.default_rng(random.getrandbits(64))
        if rng.random() >= self.prob:
            return img
        box = sample_cutout_box(int(img.shape[-2]), int(img.shape[-1]), self.side, rng)
        return apply_box(img, box, self.fill, channel_axis=0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(side={self.side}, prob={self.prob}, fill={self.fill})"


class GridMaskTensor:
    """GridMask (:mod:`benchmark.erasing.gridmask`) on one normalized CHW tensor, dropped pixels 0.

    Args:
        d_range: Unit sizes ``(d_min, d_max)`` in pixels.
        ratio: Kept band width over ``d``.
        rotate_deg: Rotation drawn from ``[0, rotate_deg)`` degrees.
        prob: Probability of masking an image.
        fill: Value of dropped pixels in normalized units (0 = the mean pixel).
    """

    def __init__(self, d_range: tuple[int, int], ratio: float, rotate_deg: float, prob: float,
                 fill: float = 0.0):
        self.d_range, self.ratio, self.rotate_deg, self.prob = check_gridmask_args(
            tuple(d_range), ratio, rotate_deg, prob)
        self.fill = float(fill)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        """Return a copy of ``img`` (C, H, W) with the grid's squares filled."""
        rng = np.random.default_rng(random.getrandbits(64))
        if rng.random() >= self.prob:
            return img
        mask = sample_gridmask(int(img.shape[-2]), int(img.shape[-1]), self.d_range,
                               self.ratio, self.rotate_deg, rng)
        out = img.clone()
        out[:, torch.from_numpy(mask)] = self.fill
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(d_range={self.d_range}, ratio={self.ratio}, "
                f"rotate_deg={self.rotate_deg}, prob={self.prob}, fill={self.fill})")


def add_after_normalize(datamanager: Any, stage: Any) -> list[str]:
    """Insert ``stage`` right after the training transform's ``Normalize``, in place.

    Re-points the training loaders' datasets to the new transform (as HaS's helper does).

    Returns:
        The training transform's step names.

    Raises:
        ValueError: when the training transform is no ``Compose`` with a ``Normalize``.
    """
    transform = datamanager.transform_tr
    steps = list(getattr(transform, "transforms", []))
    positions = [i for i, t in enumerate(steps) if isinstance(t, Normalize)]
    if not isinstance(transform, Compose) or not positions:
        raise ValueError(f"{type(stage).__name__} goes after the training transform's "
                         f"Normalize (fill 0 = the mean pixel); steps: "
                         f"{[type(t).__name__ for t in steps]}")
    index = positions[-1] + 1
    new_transform = Compose([*steps[:index], stage, *steps[index:]])
    datamanager.transform_tr = new_transform
    for loader_name in ("train_loader", "train_loader_t"):
        loader = getattr(datamanager, loader_name, None)
        if loader is not None:
            loader.dataset.transform = new_transform
    return [type(t).__name__ for t in new_transform.transforms]


def add_torchreid_stage(datamanager: Any, name: str, image_hw: tuple[int, int]
                        ) -> dict[str, Any]:
    """Put our ``cutout`` / ``gridmask`` counterpart after torchreid's ``Normalize``; params.

    torchreid ships neither; ours (:class:`CutoutTensor`, :class:`GridMaskTensor`) fill 0 in the
    normalized tensor (the mean pixel ``norm_mean``). Cutout's square is the paper's: centre
    anywhere, cut at every edge. Sizes scale with the crop's shorter side like the others'.

    Raises:
        ValueError: for ``cutmix`` or another name (no torchreid counterpart).
    """
    fill_note = "0 after Normalize (= norm_mean in pixel space)"
    if name == "cutout":
        side, how = cutout_side_px(image_hw)
        steps = add_after_normalize(datamanager, CutoutTensor(side, prob=1.0, fill=0.0))
        return {"cutout_type": "ours (CutoutTensor)", "cutout_side_px": side,
                "cutout_side_source": how, "cutout_holes": 1, "cutout_prob": 1.0,
                "cutout_placement": "centre uniform in the image, cut at every edge (the paper)",
                "cutout_fill": fill_note, "train_transform": steps}
    if name == "gridmask":
        d_range = scale_d_range(IMAGENET_SETTING["d_range_px"], image_hw)
        stage = GridMaskTensor(d_range, IMAGENET_SETTING["ratio"],
                               IMAGENET_SETTING["rotate_deg"], IMAGENET_SETTING["prob"])
        steps = add_after_normalize(datamanager, stage)
        return {"gridmask_type": "ours (GridMaskTensor)", "gridmask_d_range_px": list(d_range),
                "gridmask_ratio": stage.ratio, "gridmask_rotate_deg": stage.rotate_deg,
                "gridmask_prob": stage.prob,
                "gridmask_drop_fraction": round(expected_drop_fraction(stage.ratio), 4),
                "gridmask_fill": fill_note, "train_transform": steps}
    raise ValueError(f"{name!r} has no torchreid counterpart (only cutout and gridmask)")
