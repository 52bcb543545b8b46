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
from benchmark.erasing.gridmask import check_gridmask_args, sample_gridmask


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
