"""GridMask as an OpenMMLab pipeline stage, registered in mmpretrain, mmseg and mmaction2.

``dict(type='mmpretrain.GridMask')`` (``'mmseg.GridMask'``, ``'mmaction.GridMask'``) builds
:class:`GridMask`; the mask is drawn by :func:`benchmark.erasing.gridmask.sample_gridmask` and
written by :func:`benchmark.erasing.gridmask.apply_mask`. Importing ``benchmark.pipelines``
registers it. Training pipelines only; labels (``gt_seg_map``) are never changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from benchmark.erasing.gridmask import (
    IMAGENET_SETTING,
    apply_mask,
    check_gridmask_args,
    sample_gridmask,
)
from benchmark.pipelines.registries import installed_scopes, registry


class GridMask(BaseTransform):
    """Drop a rotated regular grid of squares from the training image (Chen et al. 2020).

    With probability ``prob`` a mask is drawn (see :mod:`benchmark.erasing.gridmask`) and its pixels
    are set to ``fill``; for a clip (``imgs``) one mask is shared by all frames.

    Required Keys:

    - img (H, W[, C] array) or imgs (list of H, W, C frames, or a T, H, W, C array)

    Modified Keys:

    - img or imgs

    Args:
        d_range: Unit sizes ``(d_min, d_max)`` in pixels, ``d`` drawn from ``[d_min, d_max)``
            (the paper's ImageNet setting: (96, 224)).
        ratio: Kept band width over ``d`` (paper: 0.6; dropped fraction ``(1 - ratio) ** 2``).
        rotate_deg: Rotation drawn from ``[0, rotate_deg)`` degrees (paper: 360).
        prob: Probability of masking an image (paper: 0.8, its upper bound).
        fill: Value of dropped pixels: a number or one per channel (the mean pixel).

    Raises:
        ValueError: for an argument outside its range, naming it.
    """

    def __init__(self, d_range: Sequence[int] = IMAGENET_SETTING["d_range_px"],
                 ratio: float = IMAGENET_SETTING["ratio"],
                 rotate_deg: float = IMAGENET_SETTING["rotate_deg"],
                 prob: float = IMAGENET_SETTING["prob"], fill: float | Sequence[float] = 0.0):
        self.d_range, self.ratio, self.rotate_deg, self.prob = check_gridmask_args(
            tuple(d_range), ratio, rotate_deg, prob)
        values = [fill] if isinstance(fill, int | float) else list(fill)
        if not values or not all(isinstance(v, int | float) for v in values):
            raise ValueError(f"GridMask: fill must be a number or a sequence of numbers (the "
                             f"mean pixel), got {fill!r}")
        self.fill = fill

    @cache_randomness
    def _sample(self, height: int, width: int) -> np.ndarray | None:
        """The mask to apply, or None when this image is left as is."""
        rng = np.random.default_rng(np.random.randint(0, 2**31))
        if rng.random() >= self.prob:
            return None
        return sample_gridmask(height, width, self.d_range, self.ratio, self.rotate_deg, rng)

    def transform(self, results: dict) -> dict:
        """Mask ``results['img']`` (or every frame of ``results['imgs']``) with one mask.

        Raises:
            KeyError: when neither ``img`` nor ``imgs`` is in the results.
        """
        key = "img" if "img" in results else "imgs" if "imgs" in results else None
        if key is None:
            raise KeyError(f"GridMask: the results hold neither 'img' nor 'imgs' (keys: "
                           f"{sorted(results)})")
        value: Any = results[key]
        if isinstance(value, list | tuple):
            height, width = value[0].shape[:2]
        elif key == "imgs" and value.ndim == 4:
            height, width = value.shape[1:3]
        else:
            height, width = value.shape[:2]
        mask = self._sample(int(height), int(width))
        if mask is None:
            return results
        if isinstance(value, list | tuple):
            results[key] = [apply_mask(frame, mask, self.fill) for frame in value]
        else:
            results[key] = apply_mask(value, mask, self.fill)
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(d_range={self.d_range}, ratio={self.ratio}, "
                f"rotate_deg={self.rotate_deg}, prob={self.prob}, fill={self.fill!r})")


def register() -> tuple[str, ...]:
    """Register :class:`GridMask` in each installed library's TRANSFORMS; return the scopes."""
    scopes = installed_scopes()
    for scope in scopes:
        transforms = registry(scope, "TRANSFORMS")
        if transforms.module_dict.get(GridMask.__name__) is not GridMask:
            transforms.register_module(module=GridMask, force=True)
    return scopes


#: The scopes whose TRANSFORMS hold GridMask.
REGISTERED_SCOPES = register()
