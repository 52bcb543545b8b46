"""Cutout for clips: one square per clip, the same in every frame (mmaction2 ships none).

:class:`ClipCutout` draws the square with :func:`benchmark.erasing.cutout.sample_cutout_box`
(centre uniform over the pixels, cut where it passes an edge, as in DeVries & Taylor 2017)
and fills it in every frame of ``imgs`` (or in ``img``). Importing ``benchmark.pipelines``
registers it in the ``TRANSFORMS`` of each installed OpenMMLab library. Training pipelines
only; labels are never changed.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from benchmark.erasing.cutout import sample_cutout_box
from benchmark.pipelines.registries import register_transform


class ClipCutout(BaseTransform):
    """Blank one ``side_px`` square of a clip: the same pixels in all its frames.

    Required Keys:

    - imgs (list of H, W, C frames, or a T, H, W, C array) or img (H, W[, C] array)

    Modified Keys:

    - imgs or img (a new array or list; the input frames are not written)

    Args:
        side_px: The square's side in pixels (Cutout's per-dataset size).
        fill: Value of the blanked pixels: a number or one per channel (the mean pixel).
        prob: Probability of cutting a clip (Cutout: 1).

    Raises:
        ValueError: naming the argument outside its range.
    """

    def __init__(self, side_px: int, fill: float | Sequence[float] = 0.0, prob: float = 1.0):
        if isinstance(side_px, bool) or not isinstance(side_px, numbers.Integral) or side_px < 1:
            raise ValueError(f"ClipCutout: side_px must be a whole number >= 1, got {side_px!r}")
        if isinstance(prob, bool) or not isinstance(prob, numbers.Real) or not 0 <= prob <= 1:
            raise ValueError(f"ClipCutout: prob must be a number in [0, 1], got {prob!r}")
        values = [fill] if isinstance(fill, numbers.Real) else list(fill)
        if not values or not all(isinstance(v, numbers.Real) for v in values):
            raise ValueError(f"ClipCutout: fill must be a number or a sequence of numbers (the "
                             f"mean pixel), got {fill!r}")
        self.side_px, self.fill, self.prob = int(side_px), fill, float(prob)

    @cache_randomness
    def _sample(self, height: int, width: int) -> tuple[int, int, int, int] | None:
        """The square (top, bottom, left, right), or None when this clip is left as is."""
        rng = np.random.default_rng(np.random.randint(0, 2**31))
        if rng.random() >= self.prob:
            return None
        return sample_cutout_box(height, width, self.side_px, rng)

    def _cut(self, image: np.ndarray, box: tuple[int, int, int, int],
             clip: bool = False) -> np.ndarray:
        """A copy of an H, W[, C] image (``clip``: a T, H, W, C array) with ``box`` filled."""
        top, bottom, left, right = box
        out = image.copy()
        window = out[:, top:bottom, left:right] if clip else out[top:bottom, left:right]
        window[...] = np.asarray(self.fill, dtype=out.dtype)
        return out

    def transform(self, results: dict) -> dict:
        """Blank one square of ``results['imgs']`` (every frame) or ``results['img']``.

        Raises:
            KeyError: when neither ``imgs`` nor ``img`` is in the results.
        """
        key = "imgs" if "imgs" in results else "img" if "img" in results else None
        if key is None:
            raise KeyError(f"ClipCutout: the results hold neither 'imgs' nor 'img' (keys: "
                           f"{sorted(results)})")
        value: Any = results[key]
        frames = list(value) if isinstance(value, list | tuple) else None
        first = frames[0] if frames else value[0] if key == "imgs" else value
        box = self._sample(int(first.shape[0]), int(first.shape[1]))
        if box is None:
            return results
        if frames is not None:
            results[key] = [self._cut(frame, box) for frame in frames]
        else:
            results[key] = self._cut(value, box, clip=key == "imgs")
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(side_px={self.side_px}, fill={self.fill!r}, "
                f"prob={self.prob})")


#: The scopes whose TRANSFORMS hold ClipCutout.
REGISTERED_SCOPES = register_transform(ClipCutout)
