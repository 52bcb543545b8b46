"""Hide-and-Seek inside OpenMMLab data preprocessors: the batch, on the model's device.

:class:`HideAndSeekClsDataPreprocessor` (mmpretrain), :class:`HideAndSeekSegDataPreProcessor`
(mmsegmentation) and :class:`HideAndSeekActionDataPreprocessor` (mmaction2) are the libraries'
own data preprocessors with one step added: after their normalization, in training only,
:func:`benchmark.hide_and_seek.hide_patches_batch` hides cells of every sample with fill 0 --
exactly the mean pixel, on the GPU when the model is there. The data-loader workers then do
what the baseline does (uint8 images, no HaS stage); the price is one masked fill of the
normalized batch on the device. Choose it with the run option ``has_placement=preprocessor``
(``benchmark.methods``); the default places the per-image ``HideAndSeek`` stage in the
pipeline, which is cheaper on a CPU.

Each is defined and registered in its library's ``MODELS`` registry when that library imports
(:mod:`benchmark.pipelines.registries`: the compat shims are applied first, and a library that
is not installed is left out); importing this module does it.
Video clips (mmaction2 ``N x clips x C x T x H x W``) get one mask per clip, shared by its
channels and frames, like the pipeline stage's ``share_mask_across_frames``.
Random numbers come from a generator of HaS's own on the batch's device, seeded from torch's
initial seed (the run's seed: mmengine's ``randomness.seed`` sets it on every rank) and the
process's rank: reruns draw the same masks, DDP ranks different ones, and the model's own
random draws (dropout, batch augments) stay those of the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.dist import get_rank

from benchmark.hide_and_seek import (
    DEFAULT_GRID_SIZES,
    check_grid_sizes,
    check_hide_prob,
    hide_patches_batch,
)
from benchmark.hide_fill import random_fill_batch
from benchmark.pipelines.registries import installed_scopes, registry


class BatchHideAndSeek:
    """Hide cells of every sample of a normalized batch in place (fill 0 = the mean pixel).

    Args:
        grid_sizes: Candidate cell sides in pixels (0 = not hidden), one drawn per sample.
        hide_prob: Probability that each cell is hidden.
        sample_dims: Leading dims that index samples: 1 for N x C x H x W images, 2 for
            N x clips x C x T x H x W video (one mask per clip).
        fill: The hidden value in normalized units: a number, or one per channel (e.g. the
            training set's mean pixel normalized with the preprocessor's mean and std, where
            that mean is another dataset's; ``has_fill=zero``: ``-mean / std``, black). 0 is
            the preprocessor's own mean pixel. ``'random'``: each hidden value its own uniform
            draw over pixel values [0, 255], normalized with ``noise_mean`` / ``noise_std``
            (:func:`benchmark.hide_fill.random_fill_batch`).
        noise_mean: Per-channel mean (pixel units, the batch's channel order) for
            ``fill='random'``.
        noise_std: Per-channel std (pixel units) for ``fill='random'``.

    Raises:
        ValueError: naming the bad argument.
    """

    def __init__(self, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES, hide_prob: float = 0.5,
                 sample_dims: int = 1, fill: float | Sequence[float] | str = 0.0,
                 noise_mean: Sequence[float] | None = None,
                 noise_std: Sequence[float] | None = None):
        self.grid_sizes = check_grid_sizes(grid_sizes)
        if isinstance(fill, str):
            if fill != "random" or noise_mean is None or noise_std is None:
                raise ValueError(f"fill must be a number, one per channel, or 'random' with "
                                 f"noise_mean and noise_std (pixel units); got {fill!r}")
            self.noise = (tuple(map(float, noise_mean)), tuple(map(float, noise_std)))
            self.fill = fill
        else:
            self.fill = float(fill) if np.ndim(fill) == 0 else tuple(float(v) for v in fill)
        self.hide_prob = check_hide_prob(hide_prob)
        if sample_dims not in (1, 2):
            raise ValueError(f"sample_dims must be 1 (images) or 2 (video clips), got "
                             f"{sample_dims!r}")
        self.sample_dims = sample_dims
        self._generators: dict[torch.device, torch.Generator] = {}

    def generator(self, device: torch.device) -> torch.Generator:
        """This process's generator on ``device``, made on first use (see the module doc)."""
        generator = self._generators.get(device)
        if generator is None:
            seed = np.random.SeedSequence([torch.initial_seed(), get_rank()]).generate_state(1)
            generator = torch.Generator(device=device).manual_seed(int(seed[0]))
            self._generators[device] = generator
        return generator

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """Hide cells of ``inputs`` (..., H, W) in place and return it.

        A non-contiguous batch is copied to a contiguous one first (and that is returned).
        """
        if not isinstance(inputs, torch.Tensor) or inputs.ndim < self.sample_dims + 3:
            shape = tuple(inputs.shape) if hasattr(inputs, "shape") else type(inputs).__name__
            raise ValueError(f"BatchHideAndSeek needs a batch tensor with {self.sample_dims} "
                             f"sample dims, channels, H and W; got {shape}")
        inputs = inputs.contiguous()
        samples = inputs.shape[: self.sample_dims].numel()
        view = inputs.view(samples, -1, *inputs.shape[-2:])
        fill = self.fill
        if fill == "random":
            mean, std = (np.repeat(v, view.shape[1] // len(v)).tolist() for v in self.noise)
            random_fill_batch(view, self.grid_sizes, self.hide_prob, mean, std,
                              generator=self.generator(inputs.device))
            return inputs
        if isinstance(fill, tuple) and view.shape[1] != len(fill):  # C x T planes of a clip
            fill = np.repeat(fill, view.shape[1] // len(fill)).tolist()
        hide_patches_batch(view, self.grid_sizes, self.hide_prob, fill=fill,
                           generator=self.generator(inputs.device), inplace=True)
        return inputs

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(grid_sizes={self.grid_sizes}, "
                f"hide_prob={self.hide_prob}, sample_dims={self.sample_dims}, "
                f"fill={self.fill})")


class _HidesTrainingInputs:
    """Mixin before an OpenMMLab data preprocessor: takes ``hide_and_seek`` and hides outputs.

    Args:
        hide_and_seek: :class:`BatchHideAndSeek` arguments (``grid_sizes``, ``hide_prob``,
            ``fill`` ...), and ``at_test``: also hide evaluation batches (True only for the
            ``dropout-traintest`` baseline, which hides at test time too).
        **kwargs: The data preprocessor's own arguments.
    """

    SAMPLE_DIMS = 1

    def __init__(self, hide_and_seek: dict | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        settings = dict(hide_and_seek or {})
        settings.setdefault("sample_dims", self.SAMPLE_DIMS)
        self.hides_at_test = bool(settings.pop("at_test", False))
        self.hide_and_seek = BatchHideAndSeek(**settings)

    def forward(self, data: Any, training: bool = False) -> Any:
        """The library's own forward, then (training only) its ``inputs`` hidden.

        mmaction2 returns a tuple of batches for a tuple of inputs: each is hidden in turn.
        Evaluation is hidden only with ``at_test`` (``dropout-traintest``).
        """
        out = super().forward(data, training)
        if training or self.hides_at_test:
            for batch in out if isinstance(out, tuple | list) else (out,):
                batch["inputs"] = self.hide_and_seek(batch["inputs"])
        return out


_SCOPES = installed_scopes()

if "mmpretrain" in _SCOPES:
    from mmpretrain.models import ClsDataPreprocessor

    @registry("mmpretrain", "MODELS").register_module()
    class HideAndSeekClsDataPreprocessor(_HidesTrainingInputs, ClsDataPreprocessor):
        """mmpretrain's ``ClsDataPreprocessor``, then (training only) :class:`BatchHideAndSeek`.

        Args:
            hide_and_seek: ``BatchHideAndSeek`` arguments (``grid_sizes``, ``hide_prob``).
            **kwargs: ``ClsDataPreprocessor``'s (mean, std, to_rgb, num_classes, ...).
        """

if "mmseg" in _SCOPES:
    from mmseg.models.data_preprocessor import SegDataPreProcessor

    @registry("mmseg", "MODELS").register_module()
    class HideAndSeekSegDataPreProcessor(_HidesTrainingInputs, SegDataPreProcessor):
        """mmseg's ``SegDataPreProcessor``, then (training only) :class:`BatchHideAndSeek`.

        The grid is anchored at the image's top-left pixel, so padding to ``size`` (bottom and
        right) does not move it; padded pixels may be hidden too (they carry no label).

        Args:
            hide_and_seek: ``BatchHideAndSeek`` arguments (``grid_sizes``, ``hide_prob``).
            **kwargs: ``SegDataPreProcessor``'s (mean, std, size, bgr_to_rgb, ...).
        """

if "mmaction" in _SCOPES:
    from mmaction.models.data_preprocessors import ActionDataPreprocessor

    @registry("mmaction", "MODELS").register_module()
    class HideAndSeekActionDataPreprocessor(_HidesTrainingInputs, ActionDataPreprocessor):
        """mmaction2's ``ActionDataPreprocessor``, then (training only) :class:`BatchHideAndSeek`.

        Inputs are ``N x clips x C x T x H x W`` (``NCTHW``) or ``N x clips*T x C x H x W``
        (``NCHW``); one mask per clip (``NCTHW``) or per frame (``NCHW``).

        Args:
            hide_and_seek: ``BatchHideAndSeek`` arguments (``grid_sizes``, ``hide_prob``).
            **kwargs: ``ActionDataPreprocessor``'s (mean, std, format_shape, ...).
        """

        SAMPLE_DIMS = 2
