"""Hide-and-Seek (Singh & Lee, ICCV 2017): the framework-free core, on numpy and torch.

An image is cut into square cells of ``S`` pixels from pixel (0, 0) (``S`` drawn per image from
``grid_sizes``, 0 = not hidden; edge cells are smaller) and each cell is hidden with probability
``hide_prob``: its pixels get ``fill``, a number or one value per channel in the image's units
(the mean pixel, 0 after normalization; rounded for integer images). Video hides time steps.

``sample_*`` and :class:`CellSampler` draw from ``rng`` (a numpy Generator or RandomState, an
int seed, or None: numpy's global state, which mmengine and torchreid seed per data worker),
in this order: a uniform ``u`` in [0, 1) picks ``grid_sizes[int(u * len(grid_sizes))]``, then
(unless 0) ``rng.random((rows, cols)) < hide_prob`` the hidden cells. ``expand_*`` and
``apply_*`` are pure (``apply_*`` write into a copy unless ``inplace=True``); ``hide_*`` do
both. Argument checks live in :mod:`benchmark.hide_and_seek_args`; bad arguments raise
ValueError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from benchmark.hide_and_seek_args import (  # the defaults and checks, re-exported
    DEFAULT_GRID_SIZES,
    check_cells,
    check_grid_sizes,
    check_hide_prob,
    check_image,
    check_int,
    check_seq,
    check_steps,
    fill_values,
    numpy_dtype,
    uniform,
)

Array = np.ndarray | torch.Tensor


class HiddenCells(NamedTuple):
    """One image's draw: ``cells`` (bool, True = hidden) of ``grid_size_px`` pixels (0: none)."""

    grid_size_px: int
    cells: np.ndarray  # (ceil(height / grid_size_px), ceil(width / grid_size_px)), or (0, 0)


class CellSampler:
    """Draws :class:`HiddenCells` for many images (``sampler(height, width)``), checked once."""

    def __init__(self, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES, hide_prob: float = 0.5,
                 rng: Any = None):
        self.grid_sizes, self.hide_prob = check_grid_sizes(grid_sizes), check_hide_prob(hide_prob)
        self._uniform = uniform(rng)

    def __call__(self, height: int, width: int) -> HiddenCells:
        """Draw a grid size and which of its cells are hidden, for one image."""
        height, width = check_int(height, "height", 1, "pixels"), check_int(width, "width", 1,
                                                                              "pixels")
        size = self.grid_sizes[int(self._uniform() * len(self.grid_sizes))]
        if size == 0:
            return HiddenCells(0, np.zeros((0, 0), dtype=bool))
        shape = (-(-height // size), -(-width // size))
        return HiddenCells(size, self._uniform(shape) < self.hide_prob)


def sample_hidden_cells(height: int, width: int, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
                        hide_prob: float = 0.5, rng: Any = None) -> HiddenCells:
    """Draw a grid size and which of its cells are hidden, for one image."""
    return CellSampler(grid_sizes, hide_prob, rng)(height, width)


def sample_hide_mask(height: int, width: int, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
                     hide_prob: float = 0.5, rng: Any = None) -> np.ndarray:
    """Draw a HaS mask: bool (height, width), True = hidden."""
    hidden = sample_hidden_cells(height, width, grid_sizes, hide_prob, rng)
    return expand_hidden_cells(hidden, height, width)


def sample_hidden_steps(length: int, hide_prob: float = 0.5, rng: Any = None,
                        segment_len: int = 1) -> np.ndarray:
    """Draw hidden time steps, bool (length,): segments of ``segment_len`` steps from step 0.

    Each segment (the last may be shorter) is hidden if ``rng.random(n_segments) < hide_prob``.
    """
    length = check_int(length, "length", 0, "time steps")
    segment_len = check_int(segment_len, "segment_len", 1, "time steps")
    segments = uniform(rng)(-(-length // segment_len)) < check_hide_prob(hide_prob)
    return np.repeat(segments, segment_len)[:length]


def expand_hidden_cells(hidden: HiddenCells, height: int, width: int) -> np.ndarray:
    """The per-pixel mask of drawn cells: bool (height, width), True = hidden."""
    size, cells = hidden
    check_cells(size, cells, height, width)
    if size == 0:
        return np.zeros((height, width), dtype=bool)
    return np.repeat(np.repeat(cells, size, axis=0)[:height], size, axis=1)[:, :width]


def _blocks(n_px: int, size: int) -> list[tuple[slice, int, int, int]]:
    """Equal cells along one axis: (their cells, first pixel, count, pixels each)."""
    full, rest = divmod(n_px, size)
    return ([(slice(0, full), 0, full, size)] if full else []) + (
        [(slice(full, full + 1), full * size, 1, rest)] if rest else [])


def _fill_cells(planes: np.ndarray, cells: np.ndarray, size: int, pixels: list[bytes]) -> None:
    """Write one pixel's bytes per plane into the hidden ``cells`` (N, rows, cols) of ``planes``.

    ``planes`` is (N samples, P planes, H, W, values per pixel). Cells along an axis are of one
    size but the edge one, so this is at most four blocks, each viewed as (samples, cell rows,
    cell cols, planes, pixel rows) whose items are a cell's pixel row as raw bytes (read
    forwards) and written by one assignment indexed with its cells. ValueError where such a
    row is not one run of memory.
    """
    n, p, height, width, v = planes.shape
    ys, xs = [-1 if stride < 0 else 1 for stride in planes.strides[2:4]]
    for rows, y0, n_rows, h in _blocks(height, size):
        for cols, x0, n_cols, w in _blocks(width, size):
            run = np.frombuffer(b"".join(px * w for px in pixels), f"V{w * len(pixels[0])}")
            block = planes[:, :, y0:y0 + n_rows * h, x0:x0 + n_cols * w]
            hidden = cells[:, rows, cols]
            if ys < 0 or xs < 0:  # flipped axes are read forwards
                block, hidden = block[:, :, ::ys, ::xs], hidden[:, ::ys, ::xs]
            block = block.reshape(n, p, n_rows, h, n_cols, w * v, copy=False).view(run.dtype)
            block.transpose(0, 2, 4, 1, 3, 5)[hidden] = run[:, None, None]


def _write(img: Array, cells: Any, size: int, values: np.ndarray, channels_first: bool) -> None:
    """Write ``values`` into the hidden ``cells`` (N, rows, cols) of ``img`` itself (any view).

    ``img`` is (N, C, H, W) if ``channels_first``, else (N, H, W, C); arrays and CPU tensors of
    numpy's dtypes are written through numpy, other tensors by torch on their device.
    """
    if isinstance(img, torch.Tensor) and (
            img.device.type != "cpu" or numpy_dtype(img.dtype) is None):
        height, width = img.shape[2:] if channels_first else img.shape[1:3]
        mask = torch.as_tensor(cells, device=img.device).repeat_interleave(size, 1)[:, :height]
        mask = mask.repeat_interleave(size, 2)[:, :, :width]
        mask, fill = (mask[:, None], values.reshape(-1, 1, 1)) if channels_first else (
            mask[..., None], values)
        img.copy_(torch.where(mask, torch.tensor(fill).to(img), img))
        return
    array = img.detach().numpy() if isinstance(img, torch.Tensor) else img
    cells = cells.numpy() if isinstance(cells, torch.Tensor) else cells
    if not channels_first and array.strides[-1] < 0:  # a pixel's values in memory order
        array, values = array[..., ::-1], values[::-1] if values.ndim else values
    planes = array[..., None] if channels_first else array[:, None]
    if channels_first:  # a value per plane
        per_plane = values if values.ndim else [values] * planes.shape[1]
        pixels = [x.tobytes() for x in per_plane]
    else:  # one plane of pixels
        pixels = [values.tobytes() * (1 if values.ndim else planes.shape[4])]
    try:
        _fill_cells(planes, cells, size, pixels)
    except ValueError:  # a cell's pixel row is not one run of memory: write a compact copy back
        compact = np.ascontiguousarray(planes)
        _fill_cells(compact, cells, size, pixels)
        planes[...] = compact


def apply_hidden_cells(img: Array, hidden: HiddenCells, fill: Any = 0, channel_axis: int = -1,
                       inplace: bool = False) -> Array:
    """Set the pixels of the ``hidden`` cells of ``img`` to ``fill`` (``inplace``: in ``img``).

    ``img`` is a numpy array or torch tensor (H, W), (H, W, C), or (C, H, W) with
    ``channel_axis=0``; any view of one (flipped, sliced) is written exactly.
    """
    height, width, c_axis, values = check_image(img, channel_axis, fill)
    size, cells = hidden
    check_cells(size, cells, height, width)
    if inplace and size and isinstance(img, np.ndarray) and not img.flags.writeable:
        raise ValueError("inplace=True needs a writeable array; pass inplace=False or a copy")
    out = img if inplace else img.copy() if isinstance(img, np.ndarray) else img.clone(
        memory_format=torch.contiguous_format)
    if size:
        _write(out[None] if c_axis is not None else out[None, ..., None], cells[None], size,
               values, c_axis == 0)
    return out


def apply_hidden_steps(seq: Array, hidden: Any, fill: Any = 0.0, time_axis: int = 0) -> Array:
    """Set the time steps of ``seq`` where ``hidden`` (bool (T,)) is True to ``fill``.

    ``fill`` is a number or one value per channel (a time step's last axis), as for images.
    """
    time_axis = check_seq(seq, time_axis)
    hidden = check_steps(hidden, seq.shape[time_axis])
    step = tuple(seq.shape[:time_axis] + seq.shape[time_axis + 1:])
    values = fill_values(fill, step[-1] if step else None, seq.dtype)
    if isinstance(seq, torch.Tensor):
        hidden, values = torch.as_tensor(hidden, device=seq.device), torch.tensor(values).to(seq)
        out = seq.clone()
        out.movedim(time_axis, 0)[hidden] = values
    else:
        out = seq.copy()
        np.moveaxis(out, time_axis, 0)[hidden] = values
    return out


def hide_patches(img: Array, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
                 hide_prob: float = 0.5, fill: Any = 0, rng: Any = None,
                 channel_axis: int = -1) -> Array:
    """Hide-and-Seek one image: hide random grid cells in a copy of ``img``."""
    height, width, _, _ = check_image(img, channel_axis, fill)
    hidden = sample_hidden_cells(height, width, grid_sizes, hide_prob, rng)
    return apply_hidden_cells(img, hidden, fill, channel_axis)


def hide_patches_batch(x: torch.Tensor, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
                       hide_prob: float = 0.5, fill: Any = 0.0,
                       generator: torch.Generator | None = None,
                       inplace: bool = False) -> torch.Tensor:
    """Hide-and-Seek an N x C x H x W batch (``inplace``: in ``x``, with no second batch).

    Drawn on ``x``'s device with ``generator``: a grid size per sample (``torch.randint``),
    then the cells of the smallest (``torch.rand``), whose top-left part a larger one uses.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be an N x C x H x W torch tensor, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    (n, channels, height, width), sizes = x.shape, check_grid_sizes(grid_sizes)
    values, hide_prob = fill_values(fill, channels, x.dtype), check_hide_prob(hide_prob)
    out = x if inplace else x.clone()
    if n == 0 or not any(sizes):
        return out
    drawn = torch.randint(len(sizes), (n,), generator=generator, device=x.device)
    smallest = min(s for s in sizes if s)
    cells = torch.rand((n, -(-height // smallest), -(-width // smallest)), generator=generator,
                       device=x.device) < hide_prob
    for size in sorted(set(sizes) - {0}):
        mine = torch.tensor([s == size for s in sizes], device=x.device)[drawn]
        hidden = cells[:, :-(-height // size), :-(-width // size)] & mine[:, None, None]
        _write(out, hidden, size, values, channels_first=True)
    return out


def hide_frames(seq: Array, hide_prob: float = 0.5, fill: Any = 0.0, rng: Any = None,
                time_axis: int = 0, segment_len: int = 1) -> Array:
    """Hide-and-Seek along time: hide whole time steps (:func:`sample_hidden_steps`) of ``seq``."""
    time_axis = check_seq(seq, time_axis)
    hidden = sample_hidden_steps(seq.shape[time_axis], hide_prob, rng, segment_len)
    return apply_hidden_steps(seq, hidden, fill, time_axis)
