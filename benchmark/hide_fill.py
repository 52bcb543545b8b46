"""Hidden pixels filled with noise (``has_fill=random``): the core's cells, per-value draws.

:mod:`benchmark.hide_and_seek` fills hidden cells with one value per channel. Here each hidden
value (every channel of every hidden pixel) gets its own draw, uniform over the pixel range
``[low, high]`` in **pixel space** (default ``[0, 255]``, uint8's range; integer images get
integers ``low..high``, each equally likely). Where the image is already normalized (torchreid's
tensors, a data preprocessor's batch) pass ``mean`` / ``std`` (per channel, in those pixel
units): the draw is then ``(noise - mean) / std``, the same noise expressed in normalized units.
Visible pixels are never written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from benchmark.hide_and_seek import HiddenCells, expand_hidden_cells, hide_patches_batch
from benchmark.hide_and_seek_args import RANDOM_FILL_RANGE_PX, check_image

Array = np.ndarray | torch.Tensor


def _noise(rng: Any, n: int, integer: bool, low: float, high: float) -> np.ndarray:
    """``n`` uniform draws in ``[low, high]`` from ``rng`` (a Generator, RandomState or None)."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(int(low), int(high) + 1, n) if integer else rng.uniform(low, high, n)
    source = np.random if rng is None else rng  # numpy's global state, or a RandomState
    return source.randint(int(low), int(high) + 1, n) if integer else source.uniform(low, high, n)


def apply_random_fill(img: Array, hidden: HiddenCells, rng: Any = None, channel_axis: int = -1,
                      low: float = RANDOM_FILL_RANGE_PX[0], high: float = RANDOM_FILL_RANGE_PX[1],
                      mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                      inplace: bool = False) -> Array:
    """Give every value of the ``hidden`` cells of ``img`` its own uniform draw.

    Args:
        img: numpy array or torch tensor (H, W), (H, W, C), or (C, H, W) with
            ``channel_axis=0``.
        hidden: The image's draw (:class:`benchmark.hide_and_seek.HiddenCells`).
        rng: numpy Generator or RandomState; None: numpy's global state.
        channel_axis: -1 (channels last) or 0 (channels first).
        low: Lowest noise value, pixel space.
        high: Highest noise value, pixel space (integer images: included).
        mean: Per-channel mean in pixel units when ``img`` is normalized; with ``std``.
        std: Per-channel std in pixel units when ``img`` is normalized.
        inplace: Write into ``img`` (else a copy).

    Returns:
        The image with its hidden values replaced; visible values are untouched.
    """
    height, width, c_axis, _ = check_image(img, channel_axis, 0)
    mask = expand_hidden_cells(hidden, height, width)
    out = img if inplace else (img.copy() if isinstance(img, np.ndarray) else img.clone())
    if not mask.any():
        return out
    if isinstance(out, torch.Tensor):
        view = out[None] if c_axis is None else (out if c_axis == 0 else out.permute(2, 0, 1))
        integer = not view.is_floating_point()
    else:
        view = out[None] if c_axis is None else (out if c_axis == 0 else np.moveaxis(out, 2, 0))
        integer = out.dtype.kind in "iub"
    integer = integer and mean is None
    noise = _noise(rng, view.shape[0] * int(mask.sum()), integer, low, high).reshape(
        view.shape[0], -1)
    if mean is not None:
        noise = (noise - np.asarray(mean, float)[:, None]) / np.asarray(std, float)[:, None]
    if isinstance(view, torch.Tensor):
        view[:, torch.as_tensor(mask, device=view.device)] = torch.as_tensor(noise).to(view)
    else:
        view[:, mask] = noise.astype(view.dtype)
    return out


def random_fill_batch(x: torch.Tensor, grid_sizes: Sequence[int], hide_prob: float,
                      mean: Sequence[float], std: Sequence[float],
                      generator: torch.Generator | None = None,
                      low: float = RANDOM_FILL_RANGE_PX[0],
                      high: float = RANDOM_FILL_RANGE_PX[1]) -> torch.Tensor:
    """:func:`benchmark.hide_and_seek.hide_patches_batch` with noise: ``x`` (N, C, H, W), in place.

    The cells are drawn as ``hide_patches_batch`` draws them (same ``generator``), then one
    ``torch.rand`` per value of the batch gives the noise, ``(U(low, high) - mean) / std`` per
    channel (``mean``/``std`` in pixel units, one per channel of ``x``).
    """
    hidden = hide_patches_batch(torch.ones_like(x[:, :1]), grid_sizes, hide_prob, fill=0.0,
                                generator=generator) == 0
    shape = (1, -1, 1, 1)
    noise = torch.rand(x.shape, generator=generator, device=x.device) * (high - low) + low
    noise = (noise - torch.tensor(mean, device=x.device).view(shape)) / torch.tensor(
        std, device=x.device).view(shape)
    return x.copy_(torch.where(hidden, noise.to(x.dtype), x))
