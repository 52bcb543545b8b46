"""GridMask as an OpenMMLab pipeline stage, registered in mmpretrain, mmseg and mmaction2.

``dict(type='mmpretrain.GridMask')`` (``'mmseg.GridMask'``, ``'mmaction.GridMask'``) builds
:class:`GridMask`; the mask is drawn by :func:`benchmark.erasing.gridmask.sample_gridmask` and
written by :func:`benchmark.erasing.gridmask.apply_mask`. Importing ``benchmark.pipelines``
registers it. Training pipelines only; labels (``gt_seg_map``) are never changed.

:class:`GridMaskProbRampHook` (mmengine ``HOOKS``, the root registry, so every OpenMMLab scope
finds it) ramps the stages' probability at the start of every training epoch, as the authors'
``set_prob(epoch, max_epoch)`` does (github.com/dvlab-research/GridMask,
imagenet_grid/utils/grid.py: ``prob = st_prob * min(1, epoch / max_epoch)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from benchmark.erasing.gridmask import (
    IMAGENET_SETTING,
    apply_mask,
    check_gridmask_args,
    sample_gridmask,
)
from benchmark.pipelines.registries import register_transform


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
        prob: Probability of masking an image (paper: 0.8, its upper bound; the method ramps
            it up to there by :class:`GridMaskProbRampHook`). Held in shared memory, so a
            change made in the main process reaches the (persistent) data-loader workers.
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

    @property
    def prob(self) -> float:
        """Probability of masking an image, in [0, 1]."""
        return float(self._shared_prob[0])

    @prob.setter
    def prob(self, value: float) -> None:
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"GridMask: prob must be in [0, 1], got {value!r}")
        if not hasattr(self, "_shared_prob"):  # one float64 that worker processes share
            self._shared_prob = torch.zeros(1, dtype=torch.float64).share_memory_()
        self._shared_prob.fill_(float(value))

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


def pipeline_gridmasks(dataset: Any) -> list[GridMask]:
    """The :class:`GridMask` stages of a built dataset's pipeline (wrappers unwrapped).

    RepeatDataset & co. (``dataset``) are unwrapped; a ConcatDataset (``datasets``) gives the
    stages of every part.
    """
    pending, found = [dataset], []
    while pending:
        current = pending.pop(0)
        transforms = getattr(getattr(current, "pipeline", None), "transforms", None)
        if transforms is not None:
            found.extend(t for t in transforms if isinstance(t, GridMask) and t not in found)
        elif hasattr(current, "datasets"):
            pending.extend(current.datasets)
        elif hasattr(current, "dataset"):
            pending.append(current.dataset)
    return found


@HOOKS.register_module()
class GridMaskProbRampHook(Hook):
    """Ramp GridMask's probability linearly from 0 to ``max_prob`` (the paper's schedule).

    At the start of epoch ``e`` (0 for the first) every :class:`GridMask` stage of the training
    dataset gets ``prob = max_prob * min(1, e / ramp_epochs)``: 0 in the first epoch, then up
    by ``max_prob / ramp_epochs`` per epoch, ``max_prob`` from epoch ``ramp_epochs`` on.

    Data-loader workers hold copies of the dataset, but :attr:`GridMask.prob` lives in shared
    memory (a one-element torch tensor), so the value set here in the main process is the one
    every worker reads, persistent workers included, and their random streams go on unbroken.

    Args:
        max_prob: The probability reached at the ramp's end (paper: 0.8).
        ramp_fraction: The ramp's length as a fraction of the run's ``max_epochs`` (paper:
            240 of 300 epochs); ``ramp_epochs = max(1, round(ramp_fraction * max_epochs))``.
        ramp_epochs: The ramp's length in epochs; overrides ``ramp_fraction`` when given.

    Raises:
        ValueError: on a probability outside [0, 1], a fraction outside (0, 1] or fewer than 1
            ramp epoch; at ``before_train``, for an iteration-based loop; at
            ``before_train_epoch``, for a dataset without GridMask.
    """

    def __init__(self, max_prob: float = IMAGENET_SETTING["prob"],
                 ramp_fraction: float = IMAGENET_SETTING["prob_ramp_epochs_fraction"],
                 ramp_epochs: int | None = None):
        if not 0.0 <= max_prob <= 1.0:
            raise ValueError(f"GridMaskProbRampHook: max_prob must be in [0, 1], got {max_prob!r}")
        if not 0.0 < ramp_fraction <= 1.0:
            raise ValueError(f"GridMaskProbRampHook: ramp_fraction must be in (0, 1] (of the "
                             f"training epochs), got {ramp_fraction!r}")
        if ramp_epochs is not None and int(ramp_epochs) < 1:
            raise ValueError(f"GridMaskProbRampHook: ramp_epochs must be at least 1, got "
                             f"{ramp_epochs!r}")
        self.max_prob = float(max_prob)
        self.ramp_fraction = float(ramp_fraction)
        self.ramp_epochs = None if ramp_epochs is None else int(ramp_epochs)

    def ramp_length(self, max_epochs: int) -> int:
        """The ramp's length in epochs for a run of ``max_epochs``."""
        if self.ramp_epochs is not None:
            return self.ramp_epochs
        return max(1, round(self.ramp_fraction * max_epochs))

    def prob_at(self, epoch: int, max_epochs: int) -> float:
        """The probability of epoch ``epoch`` (0-based) of a run of ``max_epochs``."""
        return self.max_prob * min(1.0, epoch / self.ramp_length(max_epochs))

    def before_train(self, runner: Any) -> None:
        """Refuse an iteration-based loop (the ramp counts epochs)."""
        from mmengine.runner import IterBasedTrainLoop

        if isinstance(runner.train_loop, IterBasedTrainLoop):
            raise ValueError("GridMaskProbRampHook ramps per epoch; this run's train loop is "
                             "iteration-based (use an EpochBasedTrainLoop)")

    def before_train_epoch(self, runner: Any) -> None:
        """Set the epoch's probability on every GridMask stage of the training dataset."""
        stages = pipeline_gridmasks(runner.train_dataloader.dataset)
        if not stages:
            raise ValueError("GridMaskProbRampHook: the training dataset's pipeline holds no "
                             "GridMask stage (use the hook with method 'gridmask')")
        prob = self.prob_at(runner.epoch, runner.max_epochs)
        for stage in stages:
            stage.prob = prob
        runner.logger.info(f"gridmask: prob {prob:.4f} in epoch {runner.epoch + 1} (ramp to "
                           f"{self.max_prob} over {self.ramp_length(runner.max_epochs)} epochs)")


#: The scopes whose TRANSFORMS hold GridMask.
REGISTERED_SCOPES = register_transform(GridMask)
