"""GridMask (Chen et al., "GridMask Data Augmentation", arXiv 2001.04086, 2020), framework-free.

A GridMask drops a regular grid of squares: the image is tiled by units of ``d`` pixels; in
each unit a band of ``l = round(d * ratio)`` pixels along the top and along the left edge is
kept and the remaining ``(d - l)``-pixel square is dropped, so the expected dropped fraction
is ``(1 - ratio) ** 2`` (the paper's keep ratio ``k = 1 - (1 - r) ** 2``). Per image the unit
``d`` is drawn from ``[d_min, d_max)``, the grid is shifted by a random offset in ``[0, d)``
along each axis and rotated by a random angle in ``[0, rotate_deg)`` about the image centre.

This module draws masks (:func:`sample_gridmask`) and applies them (:func:`apply_mask`)
apart, on numpy arrays; the OpenMMLab stage is :class:`benchmark.pipelines.gridmask.GridMask`.
The mask is computed per pixel in the rotated grid's coordinates (no canvas, no resampling).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The paper's ImageNet setting, as the authors' ResNet-50 run passes it
#: (github.com/dvlab-research/GridMask, imagenet_grid/checkpoints/resnet50/start_train.sh:
#: ``--d1 96 --d2 224 --ratio 0.6 --rotate 360 --mode 1 --prob 0.8 --st_epochs 240``, 300
#: epochs): ``mode 1`` drops the squares and keeps the bands (dropped fraction 0.16); the
#: probability rises linearly from 0 to ``prob`` over the first ``prob_ramp_epochs_fraction``
#: of the epochs (its ``set_prob``: ``prob * min(1, epoch / st_epochs)``).
IMAGENET_SETTING: dict[str, Any] = {
    "d_range_px": (96, 224), "ratio": 0.6, "rotate_deg": 360, "prob": 0.8,
    "prob_ramp_epochs_fraction": 240 / 300,
}
#: The input side the ImageNet ``d_range_px`` refers to.
REFERENCE_SIDE_PX = 224


def check_gridmask_args(d_range: Sequence[int], ratio: float, rotate_deg: float,
                        prob: float) -> tuple[tuple[int, int], float, float, float]:
    """Validate GridMask arguments; return them normalized.

    Raises:
        ValueError: naming the argument and the fix.
    """
    if (not isinstance(d_range, Sequence) or len(d_range) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                       for v in d_range)):
        raise ValueError(f"d_range must be two whole numbers (d_min, d_max), got {d_range!r}")
    d_min, d_max = int(d_range[0]), int(d_range[1])
    if not 2 <= d_min < d_max:
        raise ValueError(f"d_range must satisfy 2 <= d_min < d_max (d is drawn from "
                         f"[d_min, d_max)), got {d_range!r}")
    for name, value, low, high in (("ratio", ratio, 0.0, 1.0), ("prob", prob, 0.0, 1.0),
                                   ("rotate_deg", rotate_deg, 0.0, 360.0)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) \
                or not low <= value <= high:
            raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
    if ratio in (0.0, 1.0):
        raise ValueError(f"ratio must be strictly between 0 and 1 (0 drops everything, 1 "
                         f"nothing), got {ratio!r}")
    return (d_min, d_max), float(ratio), float(rotate_deg), float(prob)


def scale_d_range(d_range: Sequence[int], image_hw: tuple[int, int],
                  reference_px: int = REFERENCE_SIDE_PX) -> tuple[int, int]:
    """The unit range for a smaller input, keeping the unit-to-image ratio (as HaS's grid).

    Inputs whose shorter side is at least ``reference_px`` keep ``d_range``; smaller ones get
    ``max(2, round(d * min(H, W) / reference_px))`` for each end (the upper end kept above the
    lower). E.g. (96, 224) -> (14, 32) at 32 px, (27, 64) at 64 px.
    """
    short = min(image_hw)
    if short >= reference_px:
        return int(d_range[0]), int(d_range[1])
    low, high = (max(2, round(d * short / reference_px)) for d in d_range)
    return low, max(high, low + 1)


def expected_drop_fraction(ratio: float) -> float:
    """The fraction of pixels a GridMask with this ``ratio`` drops, in expectation."""
    return (1.0 - ratio) ** 2


def sample_gridmask(height: int, width: int, d_range: tuple[int, int], ratio: float,
                    rotate_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Draw one GridMask: a (height, width) bool array, True where pixels are dropped."""
    d = int(rng.integers(d_range[0], d_range[1]))
    keep = int(d * ratio + 0.5)  # the kept band's width, rounded as the authors' code does
    off_y, off_x = (float(v) for v in rng.integers(0, d, size=2))
    angle = math.radians(float(rng.uniform(0.0, rotate_deg))) if rotate_deg > 0 else 0.0
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    ys -= (height - 1) / 2
    xs -= (width - 1) / 2
    cos, sin = math.cos(angle), math.sin(angle)
    u = np.floor(cos * ys - sin * xs - off_y) % d  # position inside the unit, grid frame
    v = np.floor(sin * ys + cos * xs - off_x) % d
    return (u >= keep) & (v >= keep)


def apply_mask(image: np.ndarray, mask: np.ndarray, fill: float | Sequence[float]) -> np.ndarray:
    """A copy of ``image`` (H, W[, C], or T, H, W, C with one mask) with ``mask`` set to ``fill``.

    Raises:
        ValueError: when the mask's shape is not the image's (H, W).
    """
    spatial = image.shape[-3:-1] if image.ndim == 4 else image.shape[:2]
    if tuple(mask.shape) != tuple(spatial):
        raise ValueError(f"mask shape {mask.shape} does not match the image's (H, W) {spatial}")
    out = image.copy()
    values = np.asarray(fill, dtype=np.float64)
    if out.dtype.kind in "iu":
        values = np.clip(np.round(values), np.iinfo(out.dtype).min, np.iinfo(out.dtype).max)
    if image.ndim == 4:
        out[:, mask] = values.astype(out.dtype)
    else:
        out[mask] = values.astype(out.dtype)
    return out
