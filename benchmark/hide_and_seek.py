"""Hide-and-Seek (Singh & Lee, ICCV 2017): the framework-free core, on numpy and torch.

A training image is cut into square cells of ``S`` pixels from pixel (0, 0) (``S`` drawn per
image from ``grid_sizes``; 0 = not hidden; edge cells are smaller), each cell is hidden with
probability ``hide_prob``, hidden pixels get ``fill`` (the mean pixel: 0 after normalization).
Video hides whole time steps. Sampling (``sample_*``, :class:`CellSampler`) is apart from the
pure operations (``expand_*``, ``apply_*``); ``hide_*`` do both. Sizes are pixels; ``img`` is
a numpy array or torch tensor (H, W), (H, W, C) or, with ``channel_axis=0``, (C, H, W);
``fill`` is a number or one value per channel in the image's units (rounded for integer
images); ``rng`` is a numpy Generator or RandomState, an int seed, or None (numpy's global
state, which mmengine and torchreid seed per data worker). Results are new unless
``inplace=True``; bad arguments raise ValueError. The draws, in order: a uniform ``u`` in
[0, 1) picks ``grid_sizes[int(u * len(grid_sizes))]``, then (unless 0)
``rng.random((rows, cols)) < hide_prob`` the hidden cells.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

#: The paper's grid sizes in pixels (for 224x224 inputs); 0 = the image is not hidden.
DEFAULT_GRID_SIZES: tuple[int, ...] = (0, 16, 32, 44, 56)

Array = np.ndarray | torch.Tensor
#: Torch dtypes numpy shares: such CPU tensors are written through numpy (others by torch).
_NUMPY_OF = {t: torch.empty(0, dtype=t).numpy().dtype for t in (
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
    torch.float32, torch.float64)}
#: The last fill converted by :func:`_fill_values`: (fill, channels, dtype, values).
_last_fill: tuple = (None, None, None, None)


class HiddenCells(NamedTuple):
    """One image's draw: ``cells`` (bool, True = hidden) of ``grid_size_px`` pixels (0: none)."""

    grid_size_px: int
    cells: np.ndarray  # (ceil(height / grid_size_px), ceil(width / grid_size_px)), or (0, 0)


def check_hide_prob(hide_prob: Any) -> float:
    """``hide_prob`` as a float; ValueError unless it is a number in [0, 1]."""
    if isinstance(hide_prob, bool) or not isinstance(hide_prob, numbers.Real) or not (
            0.0 <= hide_prob <= 1.0):
        raise ValueError(f"hide_prob must be a number in [0, 1], got {hide_prob!r}")
    return float(hide_prob)


def check_grid_sizes(grid_sizes: Any) -> tuple[int, ...]:
    """``grid_sizes`` as a tuple; ValueError unless a non-empty sequence of ints >= 0."""
    if type(grid_sizes) is tuple and grid_sizes and all(type(s) is int and s >= 0
                                                        for s in grid_sizes):
        return grid_sizes  # the common case, checked first
    if isinstance(grid_sizes, str | bytes) or np.ndim(grid_sizes) != 1 or not len(grid_sizes):
        raise ValueError("grid_sizes must be a non-empty sequence of sizes in pixels, e.g. "
                         f"(0, 16, 32, 44, 56), got {grid_sizes!r}")
    return tuple(_int(size, "grid_sizes", 0, "pixels; 0 = not hidden") for size in grid_sizes)


def _int(value: Any, name: str, low: int, unit: str) -> int:
    """``value`` as an int; ValueError unless it is an integer >= ``low``."""
    if type(value) is int and value >= low:  # the common case, checked first
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low} ({unit}), got {value!r}")
    return int(value)


def _uniform(rng: Any) -> Any:
    """``rng``'s draws: ``f()`` one float in [0, 1), ``f(shape)`` an array of them."""
    if rng is None or isinstance(rng, np.random.RandomState | np.random.Generator):
        return np.random.random if rng is None else rng.random  # None: read at each call
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise ValueError("rng must be a numpy Generator or RandomState, an int seed or None "
                         f"(numpy's global state), got {type(rng).__name__}")
    return np.random.default_rng(rng).random


def _image(img: Any, channel_axis: Any, fill: Any) -> tuple[int, int, int | None, np.ndarray]:
    """(height, width, channel axis or None, fill values in the image's dtype) of ``img``."""
    if not isinstance(img, np.ndarray | torch.Tensor) or img.ndim not in (2, 3) or (
            img.ndim == 3 and channel_axis not in (-1, 2, 0, -3)):
        raise ValueError("img must be a numpy array or torch tensor (H, W), (H, W, C) with "
                         "channel_axis=-1 or (C, H, W) with channel_axis=0, got "
                         f"{getattr(img, 'shape', type(img).__name__)}, {channel_axis=}")
    c_axis = None if img.ndim == 2 else 2 if channel_axis in (-1, 2) else 0
    height, width = img.shape[1:] if c_axis == 0 else img.shape[:2]
    n_channels = None if c_axis is None else img.shape[c_axis]
    return height, width, c_axis, _fill_values(fill, n_channels, img.dtype)


def _fill_values(fill: Any, n_channels: int | None, dtype: Any) -> np.ndarray:
    """``fill`` in ``dtype``: shape () for one number, (C,) per channel; rounded for integers.

    The last conversion of a number or tuple of numbers is kept: a stage passes the same fill
    for every image.
    """
    global _last_fill
    if fill is _last_fill[0] and n_channels == _last_fill[1] and dtype == _last_fill[2]:
        return _last_fill[3]
    values = np.asarray(fill.detach().cpu() if isinstance(fill, torch.Tensor) else fill)
    if values.dtype.kind not in "biuf" or values.size not in (1, n_channels) or values.ndim > 1:
        raise ValueError(f"fill must be a number or one value per channel ({n_channels or 0} "
                         f"here), got {fill!r}")
    target = np.dtype(_NUMPY_OF.get(dtype, np.float32) if isinstance(dtype, torch.dtype) else dtype)
    if target.kind in "iub":
        values, info = np.rint(values), np.iinfo(target if target.kind != "b" else np.uint8)
        if not np.all((values >= info.min) & (values <= info.max)):  # NaN fails too
            raise ValueError(f"fill {fill!r} does not fit a {target} image (range {info.min}.."
                             f"{info.max}); pass a float image to fill with other values")
    values = values.astype(target).reshape(-1 if values.size > 1 else ())
    if all(type(v) in (int, float) for v in (fill if type(fill) is tuple else (fill,))):
        _last_fill = (fill, n_channels, dtype, values)
    return values


def _checked(hidden: HiddenCells, height: int, width: int) -> HiddenCells:
    """``hidden``; ValueError unless its cells fit a ``height`` x ``width`` image."""
    size, cells = hidden
    if size and cells.shape != (-(-height // size), -(-width // size)):
        raise ValueError(f"hidden cells of shape {cells.shape} (grid {size} px) do not fit a "
                         f"{height}x{width} image; sample them for this image size")
    return hidden


def _check_seq(seq: Any, time_axis: Any) -> int:
    """``time_axis`` as a non-negative axis of ``seq``; ValueError otherwise."""
    if not isinstance(seq, np.ndarray | torch.Tensor):
        raise ValueError(f"seq must be a numpy array or a torch tensor, got "
                         f"{type(seq).__name__} (stack a list of frames first)")
    if isinstance(time_axis, bool) or not isinstance(time_axis, numbers.Integral) or not (
            -seq.ndim <= time_axis < seq.ndim):
        raise ValueError(f"time_axis {time_axis!r} is not an axis of seq {tuple(seq.shape)}")
    return int(time_axis) % seq.ndim


class CellSampler:
    """Draws :class:`HiddenCells` for many images (``sampler(height, width)``), checked once."""

    def __init__(self, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES, hide_prob: float = 0.5,
                 rng: Any = None):
        self.grid_sizes, self.hide_prob = check_grid_sizes(grid_sizes), check_hide_prob(hide_prob)
        self._uniform = _uniform(rng)

    def __call__(self, height: int, width: int) -> HiddenCells:
        """Draw a grid size and which of its cells are hidden, for one image."""
        height, width = _int(height, "height", 1, "pixels"), _int(width, "width", 1, "pixels")
        size = self.grid_sizes[int(self._uniform() * len(self.grid_sizes))]
        if size == 0:
            return HiddenCells(0, np.zeros((0, 0), dtype=bool))
        return HiddenCells(size, self._uniform((-(-height // size), -(-width // size)))
                           < self.hide_prob)


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

    Each segment (the last may be shorter) is hidden with probability ``hide_prob``, drawn as
    ``rng.random(n_segments) < hide_prob``.
    """
    length = _int(length, "length", 0, "time steps")
    segment_len = _int(segment_len, "segment_len", 1, "time steps")
    segments = _uniform(rng)(-(-length // segment_len)) < check_hide_prob(hide_prob)
    return np.repeat(segments, segment_len)[:length]


def _batch_cells(n: Any, height: Any, width: Any, grid_sizes: Any, hide_prob: Any,
                 generator: Any, device: Any) -> tuple[list[int], torch.Tensor]:
    """A grid size per sample (``torch.randint``), then cells for the smallest (``torch.rand``).

    A sample with a larger grid size uses the top-left part of its cells.
    """
    n, sizes = _int(n, "n", 0, "batch size"), check_grid_sizes(grid_sizes)
    height, width = _int(height, "height", 1, "pixels"), _int(width, "width", 1, "pixels")
    hide_prob = check_hide_prob(hide_prob)
    if n == 0 or not any(sizes):
        return [0] * n, torch.zeros((n, 1, 1), dtype=torch.bool, device=device)
    drawn = torch.randint(len(sizes), (n,), generator=generator, device=device).tolist()
    smallest = min(s for s in sizes if s)
    shape = (n, -(-height // smallest), -(-width // smallest))
    return [sizes[i] for i in drawn], torch.rand(shape, generator=generator,
                                                 device=device) < hide_prob


def sample_hide_mask_batch(n: int, height: int, width: int,
                           grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES, hide_prob: float = 0.5,
                           generator: torch.Generator | None = None,
                           device: torch.device | str | None = None) -> torch.Tensor:
    """Draw a HaS mask per sample, bool (n, height, width), with torch on ``device``."""
    sizes, cells = _batch_cells(n, height, width, grid_sizes, hide_prob, generator, device)
    size = torch.tensor(sizes, dtype=torch.long, device=device)[:, None, None]
    cells[size[:, 0, 0] == 0] = False  # samples not hidden read cell (0, 0) only
    step = torch.where(size > 0, size, height + width)
    px = torch.arange(height + width, device=device)
    return cells[torch.arange(len(sizes), device=device)[:, None, None],
                 px[None, :height, None] // step, px[None, None, :width] // step]


def expand_hidden_cells(hidden: HiddenCells, height: int, width: int) -> np.ndarray:
    """The per-pixel mask of drawn cells: bool (height, width), True = hidden."""
    size, cells = _checked(hidden, height, width)
    if size == 0:
        return np.zeros((height, width), dtype=bool)
    return np.repeat(np.repeat(cells, size, axis=0)[:height], size, axis=1)[:, :width]


def _blocks(n_px: int, size: int) -> list[tuple[slice, int, int, int]]:
    """Equal cells along one axis: (their cells, first pixel, count, pixels each)."""
    full, rest = divmod(n_px, size)
    return ([(slice(0, full), 0, full, size)] if full else []) + (
        [(slice(full, full + 1), full * size, 1, rest)] if rest else [])


def _fill_cells(img: np.ndarray, hidden: HiddenCells, values: np.ndarray, c_axis: Any) -> None:
    """Write ``values`` into the hidden cells of ``img`` itself (any writeable view).

    ``img`` is seen as (planes, H, W, values per pixel): C planes when channel-first, else one.
    Along each axis the cells are of one size but for the one cut by the edge, so the image is
    at most four blocks of equal cells. A block is viewed as (cell rows, cell cols, planes,
    pixel rows) whose items are one cell's pixel row as raw bytes, and written by one
    assignment indexed with its cells (axes with negative strides are read forwards). Where a
    pixel row is not one run of memory (pixels apart in a view), a per-pixel masked copy.
    """
    size, cells = hidden
    planes = img[..., None] if c_axis == 0 else img[None] if c_axis else img[None, ..., None]
    ys, xs, cs = [-1 if stride < 0 else 1 for stride in planes.strides[1:]]
    if c_axis == 0:  # one value per plane
        pixels = [v.tobytes() for v in values] if values.ndim else [values.tobytes()] * len(img)
    else:  # one plane: a pixel's values in memory order
        pixels = [values[::cs].tobytes() if values.ndim else values.tobytes() * planes.shape[3]]
    try:
        for rows, y0, n_rows, h in _blocks(planes.shape[1], size):
            for cols, x0, n_cols, w in _blocks(planes.shape[2], size):
                run = np.frombuffer(b"".join(p * w for p in pixels), f"V{w * len(pixels[0])}")
                block = planes[:, y0:y0 + n_rows * h, x0:x0 + n_cols * w][:, ::ys, ::xs, ::cs]
                block = block.reshape(len(pixels), n_rows, h, n_cols, -1, copy=False)
                block = block.view(run.dtype).transpose(1, 3, 0, 2, 4)
                block[cells[rows, cols][::ys, ::xs]] = run.reshape(-1, 1, 1)
    except ValueError:  # a cell's pixel row is not one run of memory
        mask = expand_hidden_cells(hidden, *planes.shape[1:3])[None, :, :, None]
        per_plane = c_axis == 0 and values.ndim
        np.copyto(planes, values.reshape(-1, 1, 1, 1) if per_plane else values, where=mask)


def apply_hidden_cells(img: Array, hidden: HiddenCells, fill: Any = 0, channel_axis: int = -1,
                       inplace: bool = False) -> Array:
    """Set the pixels of the ``hidden`` cells to ``fill`` (``inplace``: in ``img``, views too)."""
    height, width, c_axis, values = _image(img, channel_axis, fill)
    size = _checked(hidden, height, width).grid_size_px
    if isinstance(img, torch.Tensor) and (img.device.type != "cpu" or img.dtype not in _NUMPY_OF):
        out = apply_hide_mask(img, expand_hidden_cells(hidden, height, width), fill, channel_axis)
        return img.copy_(out) if inplace else out
    if inplace and size and isinstance(img, np.ndarray) and not img.flags.writeable:
        raise ValueError("inplace=True needs a writeable array; pass inplace=False or a copy")
    out = img if inplace else img.copy() if isinstance(img, np.ndarray) else img.clone(
        memory_format=torch.contiguous_format)
    if size:
        array = out if isinstance(out, np.ndarray) else out.detach().numpy()
        _fill_cells(array, hidden, values, c_axis)
    return out


def apply_hide_mask(img: Array, mask: Any, fill: Any = 0, channel_axis: int = -1) -> Array:
    """Set the pixels of ``img`` where ``mask`` (bool (H, W)) is True to ``fill``, in a copy."""
    height, width, c_axis, values = _image(img, channel_axis, fill)
    if tuple(mask.shape) != (height, width) or mask.dtype not in (np.bool_, torch.bool):
        raise ValueError(f"mask must be bool ({height}, {width}), got {mask.dtype} "
                         f"{tuple(mask.shape)}")
    values = values.reshape(-1, 1, 1) if c_axis == 0 and values.ndim else values
    if isinstance(img, torch.Tensor):
        mask = torch.as_tensor(mask, device=img.device)
        where = mask[..., None] if c_axis == 2 else mask
        return torch.where(where, torch.as_tensor(values).to(img), img)
    mask = mask.cpu().numpy() if isinstance(mask, torch.Tensor) else mask
    return np.where(mask[..., None] if c_axis == 2 else mask, values, img)


def apply_hidden_steps(seq: Array, hidden: Any, fill: Any = 0.0, time_axis: int = 0) -> Array:
    """Set the time steps of ``seq`` where ``hidden`` (bool (T,)) is True to ``fill``.

    ``fill`` is a number or an array broadcasting to one time step, rounded like an image's.
    """
    time_axis = _check_seq(seq, time_axis)
    hidden = np.asarray(hidden.cpu() if isinstance(hidden, torch.Tensor) else hidden)
    if hidden.shape != (seq.shape[time_axis],) or hidden.dtype != bool:
        raise ValueError(f"hidden must be bool ({seq.shape[time_axis]},), got {hidden.dtype} "
                         f"{hidden.shape}")
    step = tuple(seq.shape[:time_axis] + seq.shape[time_axis + 1:])
    values = np.asarray(fill.cpu() if isinstance(fill, torch.Tensor) else fill)
    if values.ndim > len(step) or any(a not in (1, b) for a, b in zip(
            values.shape[::-1], step[::-1], strict=False)):
        raise ValueError(f"fill of shape {values.shape} does not broadcast to a time step {step}")
    values = _fill_values(values.reshape(-1), values.size, seq.dtype).reshape(values.shape)
    if isinstance(seq, torch.Tensor):
        out = seq.clone()
        out.movedim(time_axis, 0)[torch.as_tensor(hidden).to(seq.device)] = torch.as_tensor(
            values).to(seq)
    else:
        out = seq.copy()
        np.moveaxis(out, time_axis, 0)[hidden] = values
    return out


def hide_patches(img: Array, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
                 hide_prob: float = 0.5, fill: Any = 0, rng: Any = None,
                 channel_axis: int = -1) -> Array:
    """Hide-and-Seek one image: hide random grid cells in a copy of ``img``."""
    height, width, _, _ = _image(img, channel_axis, fill)
    hidden = sample_hidden_cells(height, width, grid_sizes, hide_prob, rng)
    return apply_hidden_cells(img, hidden, fill, channel_axis)


def hide_patches_batch(x: torch.Tensor, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
                       hide_prob: float = 0.5, fill: Any = 0.0,
                       generator: torch.Generator | None = None,
                       inplace: bool = False) -> torch.Tensor:
    """Hide-and-Seek an N x C x H x W batch, drawn as by :func:`sample_hide_mask_batch`.

    ``generator`` is on ``x``'s device; ``inplace=True`` writes into ``x`` (no second batch).
    On the CPU each sample's hidden cells are written through numpy views; elsewhere by a mask.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be an N x C x H x W torch tensor, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    n, channels, height, width = x.shape
    values = _fill_values(fill, channels, x.dtype)
    if x.device.type != "cpu" or x.dtype not in _NUMPY_OF:
        mask = sample_hide_mask_batch(n, height, width, grid_sizes, hide_prob, generator,
                                      x.device)[:, None]
        if inplace and not values.ndim:
            return x.masked_fill_(mask, values.item())
        out = torch.where(mask, torch.as_tensor(values.reshape(-1, 1, 1)).to(x), x)
        return x.copy_(out) if inplace else out
    sizes, cells = _batch_cells(n, height, width, grid_sizes, hide_prob, generator, "cpu")
    out = x if inplace else x.clone()
    for image, size, image_cells in zip(out.detach().numpy(), sizes, cells.numpy(), strict=True):
        if size:
            hidden = HiddenCells(size, image_cells[:-(-height // size), :-(-width // size)])
            _fill_cells(image, hidden, values, 0)
    return out


def hide_frames(seq: Array, hide_prob: float = 0.5, fill: Any = 0.0, rng: Any = None,
                time_axis: int = 0, segment_len: int = 1) -> Array:
    """Hide-and-Seek along time: hide whole time steps (:func:`sample_hidden_steps`) of ``seq``."""
    time_axis = _check_seq(seq, time_axis)
    hidden = sample_hidden_steps(seq.shape[time_axis], hide_prob, rng, segment_len)
    return apply_hidden_steps(seq, hidden, fill, time_axis)
