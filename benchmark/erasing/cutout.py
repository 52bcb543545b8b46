"""Cutout's square (DeVries & Taylor 2017, arXiv 1708.04552), framework-free.

Our counterpart where a framework ships no cutout transform (torchreid): the square's centre
is drawn uniformly over the image's pixels and the square is cut where it passes any edge, as
in the paper ("the patch can be partially outside the image"), so near an edge less than
``side x side`` pixels are blanked. :func:`sample_cutout_box` draws, :func:`apply_box` writes.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def sample_cutout_box(height: int, width: int, side: int,
                      rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), bottom/right exclusive, of one square clipped to the image.

    Raises:
        ValueError: when ``side`` is not a whole number >= 1.
    """
    if not isinstance(side, int | np.integer) or isinstance(side, bool) or side < 1:
        raise ValueError(f"cutout side must be a whole number of pixels >= 1, got {side!r}")
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    top, left = cy - side // 2, cx - side // 2
    return (max(0, top), min(height, top + side), max(0, left), min(width, left + side))


def apply_box(image: Any, box: tuple[int, int, int, int], fill: float,
              channel_axis: int = 0) -> Any:
    """A copy of a CHW (``channel_axis=0``) or HWC (``-1``) array or tensor, ``box`` filled."""
    top, bottom, left, right = box
    out = image.clone() if hasattr(image, "clone") else image.copy()
    if channel_axis == 0:
        out[:, top:bottom, left:right] = fill
    else:
        out[top:bottom, left:right] = fill
    return out
