"""Hide-and-Seek as OpenMMLab pipeline stages (mmcv ``BaseTransform``s).

:class:`HideAndSeek` and :class:`HideAndSeekFrames` are registered, as the same classes, in
the ``TRANSFORMS`` registries of mmpretrain, mmsegmentation and mmaction2, so
``dict(type='mmpretrain.HideAndSeek')``, ``'mmseg.HideAndSeek'`` and ``'mmaction.HideAndSeek'``
(or the bare names under that default scope) build inside each library's own ``Compose``.
Importing this module (or ``benchmark.pipelines``) registers them, into each of the three
libraries that imports (:mod:`benchmark.pipelines.registries`; :data:`REGISTERED_SCOPES`
names them, and is empty when none does).

They belong in training pipelines only (``benchmark.methods.apply_method_to_mm_config`` puts
them there, before the packing/format stage) and change the image(s), never labels; the one
exception is the paper's ``dropout-traintest`` baseline, which hides evaluation images too.

Filling and normalization: ``fill='mean'`` fills with ``mean``, the data preprocessor's mean
pixel in the *pipeline's* channel order (``benchmark.methods.mean_in_pipeline_order`` reverses
it when the preprocessor flips BGR/RGB), so that hidden pixels are 0 after the preprocessor's
``(x - mean) / std``. A uint8 image cannot hold a non-integer mean such as 123.675:

- ``keep_dtype=True`` (default) keeps the image uint8 and fills the mean rounded to the nearest
  integer -- the fill every uint8 random-erasing transform uses (mmpretrain's ``RandomErasing``
  with ``fill_color``, ours too). Hidden pixels are then within ``0.5 / std`` of 0 after
  normalization (at most 0.0087 with ImageNet's std 57.12..58.40), and the data loader moves
  uint8, as the baseline does.
- ``keep_dtype=False`` converts such images to float32 (always, hidden or not, so that a
  batch has one dtype) and hidden pixels are exactly 0 after normalization; it moves 4x the
  bytes through packing, collation and the data preprocessor (its cost per image in
  mmpretrain's loader: ``results/perf/pipeline_throughput.csv``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from benchmark.hide_and_seek import (
    DEFAULT_GRID_SIZES,
    CellSampler,
    HiddenCells,
    apply_hidden_cells,
    apply_hidden_steps,
    check_grid_sizes,
    check_hide_prob,
    sample_hidden_cells,
    sample_hidden_steps,
)
from benchmark.hide_and_seek_args import RANDOM_FILL_RANGE_PX
from benchmark.hide_fill import apply_random_fill
from benchmark.pipelines.registries import installed_scopes, registry


def _resolve_fill(fill: Any, mean: Any, stage: str) -> tuple[float, ...]:
    """The fill values (one, or one per channel) from ``fill`` and ``mean``."""
    if isinstance(fill, str):
        if fill == "random" and stage == "HideAndSeek":
            return RANDOM_FILL_RANGE_PX
        if fill != "mean":
            kinds = "'mean', 'random'" if stage == "HideAndSeek" else "'mean'"
            raise ValueError(f"{stage}: fill must be {kinds}, a number or a per-channel "
                             f"sequence, got {fill!r}")
        if mean is None:
            raise ValueError(
                f"{stage}: fill='mean' needs mean= (the data_preprocessor's mean in the "
                "pipeline's channel order; benchmark.methods.mean_in_pipeline_order gives it), "
                "or pass a number as fill"
            )
        return _numbers(mean, "mean", stage)
    return _numbers(fill, "fill", stage)


def _numbers(value: Any, name: str, stage: str) -> tuple[float, ...]:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return (float(value),)
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str) and len(value) \
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
        return tuple(float(v) for v in value)
    raise ValueError(f"{stage}: {name} must be a number or a non-empty sequence of numbers, "
                     f"got {value!r}")


def _fits(values: tuple[float, ...], dtype: np.dtype) -> bool:
    """Whether every fill value is exactly representable in ``dtype``."""
    if dtype.kind not in "iu":
        return True
    limits = np.iinfo(dtype)
    return all(v == round(v) and limits.min <= v <= limits.max for v in values)


def _as_fill_dtype(array: Any, values: tuple[float, ...]) -> Any:
    """``array`` converted to float32 when its integer dtype cannot hold the fill."""
    if isinstance(array, np.ndarray) and not _fits(values, array.dtype):
        return array.astype(np.float32)
    if isinstance(array, torch.Tensor) and not array.is_floating_point() and not _fits(
        values, torch.empty(0, dtype=array.dtype).numpy().dtype
    ):
        return array.to(torch.float32)
    return array


def _check_bool(value: Any, name: str, stage: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{stage}: {name} must be True or False, got {value!r}")
    return bool(value)


#: The hidden-steps mask of a single time step that is hidden.
_ONE_HIDDEN_STEP = np.ones(1, dtype=bool)


def _fill_arg(values: tuple[float, ...]) -> float | tuple[float, ...]:
    return values[0] if len(values) == 1 else values


class HideAndSeek(BaseTransform):
    """Hide random grid cells of the training image(s) (Hide-and-Seek, Singh & Lee 2017).

    Per image, a cell size ``S`` is drawn from ``grid_sizes`` (0 = leave the image as is); the
    image is cut into ``S``x``S``-pixel cells from its top-left corner (edge cells may be
    smaller) and each cell is hidden with probability ``hide_prob``: its pixels are set to the
    fill. For a clip (``imgs``), one mask is drawn for all its frames by default.

    **Required Keys:**

    - img (np.ndarray, H x W x C or H x W) -- or --
    - imgs (list of H x W x C frames, or a T x H x W x C array; mmaction2 clips before
      ``FormatShape``)

    **Modified Keys:**

    - img / imgs: hidden pixels set to the fill, written into the array itself (as
      mmpretrain's ``RandomErasing`` does: each sample's results are its own; views such as
      a flipped image keep their layout, so the packing stage costs what it costs without
      HaS). A read-only array is copied first. An integer image keeps its dtype and gets the
      fill rounded to the nearest integer; with ``keep_dtype=False`` an integer image that
      cannot hold the fill exactly (uint8 with a mean such as 123.675) becomes a new float32
      array instead, whether or not a cell was hidden.

    Labels (``gt_label``, ``gt_seg_map``, boxes) and all other keys are left untouched.

    Args:
        grid_sizes: Candidate cell sides in pixels (0 = no hiding), one drawn per image.
        hide_prob: Probability that each cell is hidden.
        fill: ``'mean'`` (fill with ``mean``), ``'random'`` (each hidden value its own uniform
            draw over pixel values 0..255, from numpy's global state:
            :func:`benchmark.hide_fill.apply_random_fill`), a number (``0``: black), or one
            number per channel, in pixel units and the pipeline's channel order.
        mean: The data preprocessor's mean pixel in the pipeline's channel order; required
            when ``fill='mean'``. With it, hidden pixels are 0 after normalization.
        share_mask_across_frames: For ``imgs``, draw one mask for all frames (True) or one
            per frame (False).
        keep_dtype: Integer images keep their dtype, with the fill rounded to the nearest
            integer (True), or become float32 when they cannot hold the fill exactly, so that
            hidden pixels are exactly 0 after normalization (False).

    Raises:
        ValueError: naming the bad argument.
    """

    def __init__(
        self,
        grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
        hide_prob: float = 0.5,
        fill: Any = "mean",
        mean: Sequence[float] | None = None,
        share_mask_across_frames: bool = True,
        keep_dtype: bool = True,
    ):
        self.grid_sizes = check_grid_sizes(grid_sizes)
        self.hide_prob = check_hide_prob(hide_prob)
        self.fill = fill
        self.mean = None if mean is None else _numbers(mean, "mean", "HideAndSeek")
        self.share_mask_across_frames = bool(share_mask_across_frames)
        self.keep_dtype = _check_bool(keep_dtype, "keep_dtype", "HideAndSeek")
        self._fill_values = _resolve_fill(fill, mean, "HideAndSeek")
        self._fill = _fill_arg(self._fill_values)
        self._sampler = CellSampler(self.grid_sizes, self.hide_prob)  # numpy's global state

    @cache_randomness
    def _sample_cells(self, height: int, width: int) -> HiddenCells:
        """Grid size and hidden cells for one image (numpy's global random state)."""
        return self._sampler(height, width)

    def _draw(self, height: int, width: int) -> HiddenCells:
        """:meth:`_sample_cells`, skipping its decorator unless mmcv caches random params.

        Inside ``mmcv.transforms.utils.cache_random_params`` the decorated method returns the
        cached draw; otherwise the draw is the same, without the decorator's per-call copy of
        itself (a large part of the stage's time on a small image).
        """
        if getattr(self, "_cache_enabled", False):
            return self._sample_cells(height, width)
        return self._sampler(height, width)

    @cache_randomness
    def _sample_cells_per_frame(self, shapes: tuple[tuple[int, int], ...]) -> list[HiddenCells]:
        """One independent draw per frame."""
        return [sample_hidden_cells(h, w, self.grid_sizes, self.hide_prob) for h, w in shapes]

    def _hide(self, img: Any, hidden: HiddenCells) -> Any:
        if not self.keep_dtype:
            img = _as_fill_dtype(img, self._fill_values)
        writeable = not isinstance(img, np.ndarray) or img.flags.writeable
        if isinstance(self.fill, str) and self.fill == "random":
            return apply_random_fill(img, hidden, inplace=writeable)
        return apply_hidden_cells(img, hidden, self._fill, inplace=writeable)

    def _hide_clip(self, imgs: Any) -> Any:
        frames = list(imgs)
        if not frames:
            return imgs
        if len({id(f) for f in frames}) < len(frames):  # one array twice: hide copies
            frames = [f.copy() if isinstance(f, np.ndarray) else f.clone() for f in frames]
        shapes = tuple((f.shape[0], f.shape[1]) for f in frames)
        if self.share_mask_across_frames:
            if len(set(shapes)) > 1:
                raise ValueError(
                    f"HideAndSeek: frames of different sizes {sorted(set(shapes))} cannot "
                    "share one mask; resize them first or set share_mask_across_frames=False"
                )
            cells = [self._draw(*shapes[0])] * len(frames)
        else:
            cells = self._sample_cells_per_frame(shapes)
        hidden = [self._hide(f, c) for f, c in zip(frames, cells, strict=True)]
        if isinstance(imgs, np.ndarray):
            return np.stack(hidden)
        if isinstance(imgs, torch.Tensor):
            return torch.stack(hidden)
        return hidden

    def transform(self, results: dict) -> dict:
        """Hide cells of ``results['img']`` and/or ``results['imgs']``.

        Raises:
            KeyError: when neither ``img`` nor ``imgs`` is in ``results``.
        """
        img = results.get("img")
        if img is not None:
            shape = img.shape
            results["img"] = self._hide(img, self._draw(shape[0], shape[1]))
        if "imgs" in results:
            results["imgs"] = self._hide_clip(results["imgs"])
        elif img is None:
            raise KeyError(
                f"HideAndSeek needs 'img' or 'imgs' in the results, got keys {sorted(results)}; "
                "put it after the loading stages"
            )
        return results

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(grid_sizes={self.grid_sizes}, "
            f"hide_prob={self.hide_prob}, fill={self.fill!r}, mean={self.mean}, "
            f"share_mask_across_frames={self.share_mask_across_frames}, "
            f"keep_dtype={self.keep_dtype})"
        )


class HideAndSeekFrames(BaseTransform):
    """Hide whole time steps of a clip or feature sequence (Hide-and-Seek for video).

    The time axis is cut into segments of ``segment_len`` steps from the first step (the last
    may be shorter); each segment is hidden with probability ``hide_prob``: all its values are
    set to the fill. For an mmaction2 clip list whose length is a multiple of
    ``results['clip_len']`` (``num_clips`` clips one after another), segments start afresh at
    each clip.

    **Required Keys:**

    - each of ``keys``: a list of frames (mmaction2 ``imgs`` before ``FormatShape``), or a
      numpy array / torch tensor with time on ``time_axis`` (e.g. T x D snippet features)
    - clip_len (optional; int, to restart segments at each clip of ``imgs``)

    **Modified Keys:**

    - each of ``keys``: hidden steps set to the fill. An integer array keeps its dtype and
      gets the fill rounded to the nearest integer; with ``keep_dtype=False`` one that cannot
      hold the fill exactly (uint8 frames with a mean such as 123.675) becomes float32, always.

    Args:
        hide_prob: Probability that each segment is hidden.
        fill: ``'mean'`` (fill with ``mean``), a number, or one number per channel (the last
            axis of each step), in the data's units and channel order. Use 0 for features
            that are already normalized.
        mean: The data preprocessor's mean pixel in the pipeline's channel order; required
            when ``fill='mean'``.
        segment_len: Time steps per segment.
        keys: Results keys to hide along time; each must be present.
        time_axis: Time axis of array/tensor values (lists are always time-first).
        keep_dtype: Integer data keep their dtype, with the fill rounded (True), or become
            float32 when they cannot hold the fill exactly (False), as in :class:`HideAndSeek`.

    Raises:
        ValueError: naming the bad argument.
    """

    def __init__(
        self,
        hide_prob: float = 0.5,
        fill: Any = "mean",
        mean: Sequence[float] | None = None,
        segment_len: int = 1,
        keys: Sequence[str] = ("imgs",),
        time_axis: int = 0,
        keep_dtype: bool = True,
    ):
        self.hide_prob = check_hide_prob(hide_prob)
        self.fill = fill
        self.mean = None if mean is None else _numbers(mean, "mean", "HideAndSeekFrames")
        if isinstance(segment_len, bool) or not isinstance(segment_len, numbers.Integral) or (
            segment_len < 1
        ):
            raise ValueError(f"HideAndSeekFrames: segment_len must be an int >= 1, "
                             f"got {segment_len!r}")
        self.segment_len = int(segment_len)
        if isinstance(keys, str) or not keys or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"HideAndSeekFrames: keys must be a non-empty sequence of results "
                             f"keys, e.g. ('imgs',), got {keys!r}")
        self.keys = tuple(keys)
        if isinstance(time_axis, bool) or not isinstance(time_axis, numbers.Integral):
            raise ValueError(f"HideAndSeekFrames: time_axis must be an int, got {time_axis!r}")
        self.time_axis = int(time_axis)
        self.keep_dtype = _check_bool(keep_dtype, "keep_dtype", "HideAndSeekFrames")
        self._fill_values = _resolve_fill(fill, mean, "HideAndSeekFrames")

    @cache_randomness
    def _sample_steps(self, key: str, length: int, group_len: int) -> np.ndarray:
        """Hidden steps of one key: segments restart every ``group_len`` steps."""
        del key  # part of the cache key only
        groups = [
            sample_hidden_steps(min(group_len, length - start), self.hide_prob, None,
                                self.segment_len)
            for start in range(0, length, group_len)
        ]
        return np.concatenate(groups) if groups else np.zeros(0, dtype=bool)

    def _fill_for(self, step_shape: tuple[int, ...]) -> Any:
        values = self._fill_values
        if len(values) == 1:
            return values[0]
        if not step_shape or step_shape[-1] != len(values):
            raise ValueError(
                f"HideAndSeekFrames: fill has {len(values)} values (one per channel) but a time "
                f"step has shape {step_shape}; its last axis must have {len(values)} channels"
            )
        return np.asarray(values)

    def _hide_list(self, frames: list, hidden: np.ndarray) -> list:
        out = []
        for frame, is_hidden in zip(frames, hidden.tolist(), strict=True):
            if not self.keep_dtype:
                frame = _as_fill_dtype(frame, self._fill_values)
            if is_hidden:  # the core's fill (rounded, range-checked) on a one-step sequence
                frame = apply_hidden_steps(frame[None], _ONE_HIDDEN_STEP,
                                           self._fill_for(tuple(frame.shape)))[0]
            out.append(frame)
        return out

    def transform(self, results: dict) -> dict:
        """Hide time steps of each of ``results[key]`` for ``key`` in ``keys``.

        Raises:
            KeyError: when a key is missing.
        """
        for key in self.keys:
            if key not in results:
                raise KeyError(f"HideAndSeekFrames: key {key!r} is not in the results "
                               f"(keys: {sorted(results)}); set keys= to the sequence to hide")
            value = results[key]
            if isinstance(value, list | tuple):
                length, step_shape = len(value), None
            else:
                length = value.shape[self.time_axis]
            clip_len = results.get("clip_len")
            group_len = clip_len if (
                key == "imgs" and isinstance(clip_len, numbers.Integral) and clip_len > 0
                and length % clip_len == 0
            ) else max(length, 1)
            hidden = self._sample_steps(key, length, int(group_len))
            if isinstance(value, list | tuple):
                results[key] = self._hide_list(list(value), hidden)
                continue
            if not self.keep_dtype:
                value = _as_fill_dtype(value, self._fill_values)
            step_shape = tuple(np.delete(np.array(value.shape, dtype=int), self.time_axis))
            results[key] = apply_hidden_steps(value, hidden, self._fill_for(step_shape),
                                              self.time_axis)
        return results

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(hide_prob={self.hide_prob}, fill={self.fill!r}, "
            f"mean={self.mean}, segment_len={self.segment_len}, keys={self.keys}, "
            f"time_axis={self.time_axis}, keep_dtype={self.keep_dtype})"
        )


def _register(registry: Any, cls: type) -> None:
    """Register ``cls`` under its name unless it already is (re-imports are harmless)."""
    if registry.module_dict.get(cls.__name__) is not cls:
        registry.register_module(module=cls, force=True)


def register_all() -> tuple[str, ...]:
    """Register both stages in the TRANSFORMS of each library that imports; return its scopes."""
    scopes = installed_scopes()
    for scope in scopes:
        for cls in (HideAndSeek, HideAndSeekFrames):
            _register(registry(scope, "TRANSFORMS"), cls)
    return scopes


#: The scopes whose TRANSFORMS hold the stages (empty when none of the libraries imports).
REGISTERED_SCOPES = register_all()
