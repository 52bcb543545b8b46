"""Hide-and-Seek (Singh & Lee, ICCV 2017): the framework-free core, on numpy and torch.

HaS cuts a training image into square cells of ``S`` pixels (``S`` drawn per image from
``grid_sizes``; 0 = not hidden), hides each cell with probability ``hide_prob`` and sets its
pixels to ``fill`` (the mean pixel: 0 after normalization). The grid starts at pixel (0, 0);
cells cut by the right or bottom edge are smaller and hidden alike. Video: whole time steps.
Sampling (``sample_*``, :class:`CellSampler`) is apart from the pure ``expand_*``/``apply_*``;
``hide_*`` and :func:`sample_hide_mask` do both. Throughout: ``height``, ``width`` and
``grid_sizes`` are pixels; ``img`` is a numpy array or torch tensor (H, W), (H, W, C), or
(C, H, W) with ``channel_axis=0``; ``fill`` is a number or one value per channel, in the image's
channel order and units (rounded for integer images, whose range it must fit); ``rng`` is a
numpy Generator or RandomState, an int seed, or None: numpy's global state (``np.random.seed``,
which mmengine and torchreid call per data-loader worker). Results are new, like the input
(type, shape, dtype, device), unless ``inplace=True``; bad arguments raise ValueError naming
them. The draws, in order: a uniform ``u`` in [0, 1) picks ``grid_sizes[int(u * len(sizes))]``,
then (unless it is 0) ``rng.random((rows, cols)) < hide_prob`` the hidden cells, row-major.
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
#: The torch dtypes numpy has too (tensors of others, e.g. bfloat16, are written by torch).
_NUMPY_OF = {t: torch.empty(0, dtype=t).numpy().dtype for t in (torch.bool, torch.uint8, torch.int8,
             torch.int16, torch.int32, torch.int64, torch.float16, torch.float32, torch.float64)}
#: The last immutable fill converted, found by identity (a stage passes one for every image).
_last_fill: tuple = (None, None, None, None)  # (fill, channels, dtype, values)

class HiddenCells(NamedTuple):
    """One image's draw: ``cells`` (bool, True = hidden) of ``grid_size_px`` pixels (0: none)."""

    grid_size_px: int
    cells: np.ndarray  # (ceil(height / grid_size_px), ceil(width / grid_size_px)), or (0, 0)

def check_hide_prob(hide_prob: Any) -> float:
    """``hide_prob`` as a float; ValueError naming it unless it is a number in [0, 1]."""
    if (type(hide_prob) is not float and (isinstance(hide_prob, bool) or not isinstance(
            hide_prob, numbers.Real))) or not 0.0 <= hide_prob <= 1.0:
        raise ValueError(f"hide_prob must be a number in [0, 1], got {hide_prob!r}")
    return float(hide_prob)

def check_grid_sizes(grid_sizes: Any) -> tuple[int, ...]:
    """``grid_sizes`` as a tuple; ValueError naming it unless non-empty non-negative ints."""
    if type(grid_sizes) is tuple and grid_sizes and all(type(s) is int and s >= 0
                                                        for s in grid_sizes):
        return grid_sizes  # (the common case, checked fast)
    if isinstance(grid_sizes, str | bytes) or np.ndim(grid_sizes) != 1 or not len(grid_sizes):
        raise ValueError("grid_sizes must be a non-empty sequence of sizes in pixels, e.g. "
                         f"(0, 16, 32, 44, 56), got {grid_sizes!r}")
    return tuple(_int(size, "grid_sizes", 0, "pixels; 0 = not hidden") for size in grid_sizes)

def _int(value: Any, name: str, low: int, unit: str) -> int:
    if type(value) is not int or value < low:  # (plain ints pass fast)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} must be an int >= {low} ({unit}), got {value!r}")
    return int(value)

def _uniform(rng: Any) -> Any:
    """``rng``'s draws: ``f()`` a float in [0, 1), ``f(shape)`` an array of them."""
    if rng is None or isinstance(rng, np.random.RandomState | np.random.Generator):
        return (rng or np.random).random  # None: numpy's global state, read at each call
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral | np.random.Generator):
        raise ValueError("rng must be a numpy Generator or RandomState, an int seed or None "
                         f"(numpy's global state), got {type(rng).__name__}")
    return np.random.default_rng(rng).random

def _image(img: Any, channel_axis: Any, fill: Any) -> tuple[int, int, int | None, np.ndarray]:
    """(height, width, channel axis or None, fill values) of ``img``."""
    if not isinstance(img, (np.ndarray, torch.Tensor)) or img.ndim not in (2, 3) or (
            img.ndim == 3 and channel_axis not in (-1, 2, 0, -3)):
        raise ValueError("img must be a numpy array or torch tensor (H, W), (H, W, C) with "
                         "channel_axis=-1 or (C, H, W) with channel_axis=0, got "
                         f"{getattr(img, 'shape', type(img).__name__)}, {channel_axis=}")
    c_axis = None if img.ndim == 2 else 2 if channel_axis in (-1, 2) else 0
    n_channels = None if c_axis is None else img.shape[c_axis]
    return *img.shape[int(c_axis == 0):][:2], c_axis, _fill_values(fill, n_channels, img.dtype)

def _fill_values(fill: Any, n_channels: int | None, dtype: Any) -> np.ndarray:
    """``fill`` in ``dtype``: shape () for one number, (C,) per channel; rounded for integers."""
    global _last_fill
    if fill is _last_fill[0] and n_channels == _last_fill[1] and dtype is _last_fill[2]:
        return _last_fill[3]
    values = np.asarray(fill.detach().cpu() if isinstance(fill, torch.Tensor) else fill)
    if values.dtype.kind not in "biuf" or values.size not in (1, n_channels) or values.ndim > 1:
        raise ValueError(f"fill must be a number or one value per channel ({n_channels or 0} "
                         f"here), got {fill!r}")
    target = np.dtype(_NUMPY_OF.get(dtype, np.float32) if isinstance(dtype, torch.dtype) else dtype)
    if target.kind in "iub":
        values, info = np.rint(values), np.iinfo(target if target.kind != "b" else np.uint8)
        if not all(info.min <= v <= info.max for v in values.reshape(-1).tolist()):  # and NaN
            raise ValueError(f"fill {fill!r} does not fit a {target} image (range {info.min}.."
                             f"{info.max}); pass a float image to fill with other values")
    values = values.astype(target).reshape(-1 if values.size > 1 else ())
    if all(type(v) in (int, float) for v in (fill if type(fill) is tuple else (fill,))):
        _last_fill = (fill, n_channels, dtype, values)
    return values

def sample_hidden_cells(height: int, width: int, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
                        hide_prob: float = 0.5, rng: Any = None) -> HiddenCells:
    """Draw a grid size and which of its cells are hidden, for one image."""
    return CellSampler(grid_sizes, hide_prob, rng)(height, width)

class CellSampler:
    """:func:`sample_hidden_cells` for many images (``sampler(height, width)``), checked once."""

    def __init__(self, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES, hide_prob: float = 0.5,
                 rng: Any = None):
        self.grid_sizes, self.hide_prob = check_grid_sizes(grid_sizes), check_hide_prob(hide_prob)
        self._uniform = _uniform(rng)

    def __call__(self, height: int, width: int) -> HiddenCells:
        """Draw the cells of one ``height`` x ``width`` image."""
        height, width = _int(height, "height", 1, "pixels"), _int(width, "width", 1, "pixels")
        size = self.grid_sizes[int(self._uniform() * len(self.grid_sizes))]
        if size == 0:
            return HiddenCells(0, np.zeros((0, 0), dtype=bool))
        rows_cols = (-(-height // size), -(-width // size))
        return HiddenCells(size, self._uniform(rows_cols) < self.hide_prob)

def sample_hide_mask(height: int, width: int, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
                     hide_prob: float = 0.5, rng: Any = None) -> np.ndarray:
    """Draw a HaS mask: bool (height, width), True = hidden."""
    hidden = sample_hidden_cells(height, width, grid_sizes, hide_prob, rng)
    return expand_hidden_cells(hidden, height, width)

def sample_hidden_steps(length: int, hide_prob: float = 0.5, rng: Any = None,
                        segment_len: int = 1) -> np.ndarray:
    """Draw hidden time steps, bool (length,), as segments of ``segment_len`` from step 0.

    The segments (the last may be shorter) are drawn as ``rng.random(n) < hide_prob``.
    """
    length, seg = _int(length, "length", 0, "time steps"), _int(segment_len, "segment_len", 1,
                                                                 "time steps")
    return np.repeat(_uniform(rng)(-(-length // seg)) < check_hide_prob(hide_prob), seg)[:length]

def _batch_cells(n: Any, height: Any, width: Any, grid_sizes: Any, hide_prob: Any,
                 generator: Any, device: Any) -> tuple[list[int], torch.Tensor]:
    """Per sample a grid size (``torch.randint``), then cells for the smallest (``torch.rand``)."""
    n, height = _int(n, "n", 0, "batch size"), _int(height, "height", 1, "pixels")
    sizes, width = check_grid_sizes(grid_sizes), _int(width, "width", 1, "pixels")
    hide_prob = check_hide_prob(hide_prob)
    if n == 0 or not any(sizes):
        return [0] * n, torch.zeros((n, 1, 1), dtype=torch.bool, device=device)
    drawn = torch.randint(len(sizes), (n,), generator=generator, device=device).tolist()
    shape = (n, *(-(-px // min(s for s in sizes if s)) for px in (height, width)))
    return [sizes[i] for i in drawn], torch.rand(shape, generator=generator,
                                                 device=device) < hide_prob

def sample_hide_mask_batch(n: int, height: int, width: int,
                           grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES, hide_prob: float = 0.5,
                           generator: torch.Generator | None = None,
                           device: torch.device | str | None = None) -> torch.Tensor:
    """Draw a mask per sample, bool (n, H, W), with torch (``generator`` on ``device``)."""
    sizes, cells = _batch_cells(n, height, width, grid_sizes, hide_prob, generator, device)
    size = torch.tensor(sizes, dtype=torch.long, device=device)[:, None, None]
    cells[size[:, 0, 0] == 0] = False  # and read at cell 0 only: their step is the whole image
    step, px = torch.where(size > 0, size, height + width), torch.arange(height + width,
                                                                           device=device)
    return cells[torch.arange(len(sizes), device=device)[:, None, None],
                 px[None, :height, None] // step, px[None, None, :width] // step]

def expand_hidden_cells(hidden: HiddenCells, height: int, width: int) -> np.ndarray:
    """The per-pixel mask of drawn cells: bool (height, width), True = hidden."""
    size, cells = _checked(hidden, height, width)
    if size == 0:
        return np.zeros((height, width), dtype=bool)
    return np.repeat(np.repeat(cells, size, axis=0)[:height], size, axis=1)[:, :width]

def _checked(hidden: HiddenCells, height: int, width: int) -> HiddenCells:
    if hidden[0] and hidden[1].shape != (-(-height // hidden[0]), -(-width // hidden[0])):
        raise ValueError(f"hidden cells of shape {hidden[1].shape} (grid {hidden[0]} px) do not "
                         f"fit a {height}x{width} image; sample them for this image size")
    return hidden

def _blocks(n_px: int, size: int) -> list[tuple[slice, int, int, int]]:
    """Equal cells along an axis: (their cells, first pixel, number, pixels each)."""
    full, rest = divmod(n_px, size)
    return [(slice(0, full), 0, full, size)] * (full > 0) + [
        (slice(full, full + 1), full * size, 1, rest)] * (rest > 0)

def _fill_cells(img: np.ndarray, hidden: HiddenCells, values: np.ndarray, c_axis: Any) -> None:
    """Write ``values`` into the hidden cells of ``img`` itself (any writeable view).

    ``img``, seen as (planes, H, W, values per pixel), is cut into blocks of equal cells (full;
    cut by an edge), each viewed in memory order as (cell rows, cell cols, planes, pixel rows)
    of one cell's pixel row (a void of its bytes) and written by one assignment indexed by the
    cells; where that row is not one run of memory (pixels apart), by a masked copy.
    """
    size, cells = hidden
    planes = img[..., None] if c_axis == 0 else img[None] if c_axis else img[None, ..., None]
    ys, xs, cs = [-1 if stride < 0 else 1 for stride in planes.strides[1:]]  # memory order
    flipped = ys < 0 or xs < 0 or cs < 0
    pixels = ([v.tobytes() for v in values] if values.ndim else [values.tobytes()] * len(img)) \
        if c_axis == 0 else [values[::cs].tobytes() if values.ndim else
                             values.tobytes() * planes.shape[3]]  # the fill's bytes per plane
    col_blocks = [(*block, np.frombuffer(b"".join(pixel * block[3] for pixel in pixels),
                                         f"V{block[3] * len(pixels[0])}").reshape(-1, 1, 1))
                  for block in _blocks(planes.shape[2], size)]  # run: a cell's pixel row
    try:
        for rows, y0, n_rows, h in _blocks(planes.shape[1], size):
            for cols, x0, n_cols, w, run in col_blocks:
                block = planes[:, y0:y0 + n_rows * h, x0:x0 + n_cols * w]
                block = block[:, ::ys, ::xs, ::cs] if flipped else block
                block = block.reshape(len(pixels), n_rows, h, n_cols, -1, copy=False)
                hidden_here = cells[rows, cols][::ys, ::xs] if flipped else cells[rows, cols]
                block.view(run.dtype).transpose(1, 3, 0, 2, 4)[hidden_here] = run
    except ValueError:  # a cell's pixel row is not one run of memory
        mask = expand_hidden_cells(hidden, *planes.shape[1:3])[None, :, :, None]
        np.copyto(planes, values.reshape(-1, 1, 1, 1) if c_axis == 0 and values.ndim else values,
                  where=mask)

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
        _fill_cells(out if isinstance(out, np.ndarray) else out.detach().numpy(), hidden, values,
                    c_axis)
    return out

def apply_hide_mask(img: Array, mask: Any, fill: Any = 0, channel_axis: int = -1) -> Array:
    """Set the pixels of ``img`` where ``mask`` (bool (H, W)) is True to ``fill``."""
    height, width, c_axis, values = _image(img, channel_axis, fill)
    if tuple(mask.shape) != (height, width) or mask.dtype not in (np.bool_, torch.bool):
        raise ValueError(f"mask must be bool ({height}, {width}), got {mask.dtype} "
                         f"{tuple(mask.shape)}")
    values = values.reshape(-1, 1, 1) if c_axis == 0 and values.ndim else values
    if isinstance(img, torch.Tensor):
        mask = torch.as_tensor(mask, device=img.device)
        return torch.where(mask[..., None] if c_axis == 2 else mask, torch.as_tensor(values).to(
            img), img)
    mask = mask.cpu().numpy() if isinstance(mask, torch.Tensor) else mask
    return np.where(mask[..., None] if c_axis == 2 else mask, values, img)

def apply_hidden_steps(seq: Array, hidden: Any, fill: Any = 0.0, time_axis: int = 0) -> Array:
    """Set the time steps of ``seq`` where ``hidden`` (bool (T,)) is True to ``fill``.

    ``fill``: a number or an array broadcasting to one time step, rounded like an image's.
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
        out, hidden, values = seq.clone(), torch.as_tensor(hidden), torch.as_tensor(values)
        out.movedim(time_axis, 0)[hidden.to(seq.device)] = values.to(seq)
    else:
        out = seq.copy()
        np.moveaxis(out, time_axis, 0)[hidden] = values
    return out

def _check_seq(seq: Any, time_axis: Any) -> int:
    if not isinstance(seq, np.ndarray | torch.Tensor):
        raise ValueError(f"seq must be a numpy array or a torch tensor, got "
                         f"{type(seq).__name__} (stack a list of frames first)")
    if isinstance(time_axis, bool) or not isinstance(time_axis, numbers.Integral) or not (
            -seq.ndim <= time_axis < seq.ndim):
        raise ValueError(f"time_axis {time_axis!r} is not an axis of seq {tuple(seq.shape)}")
    return int(time_axis) % seq.ndim

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
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be an N x C x H x W torch tensor, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    n, channels, height, width = x.shape
    values = _fill_values(fill, channels, x.dtype)
    if x.device.type != "cpu" or x.dtype not in _NUMPY_OF:  # a mask, on x's device
        mask = sample_hide_mask_batch(n, height, width, grid_sizes, hide_prob, generator,
                                      x.device)[:, None]
        if inplace and not values.ndim:
            return x.masked_fill_(mask, values.item())
        out = torch.where(mask, torch.as_tensor(values.reshape(-1, 1, 1)).to(x), x)
        return x.copy_(out) if inplace else out
    sizes, cells = _batch_cells(n, height, width, grid_sizes, hide_prob, generator, "cpu")
    out = x if inplace else x.clone()
    for image, size, image_cells in zip(out.detach().numpy(), sizes, cells.numpy(), strict=True):
        if size:  # only the hidden cells are written, through numpy views
            hidden = HiddenCells(size, image_cells[:-(-height // size), :-(-width // size)])
            _fill_cells(image, hidden, values, 0)
    return out

def hide_frames(seq: Array, hide_prob: float = 0.5, fill: Any = 0.0, rng: Any = None,
                time_axis: int = 0, segment_len: int = 1) -> Array:
    """Hide-and-Seek along time: hide whole time steps (:func:`sample_hidden_steps`) of ``seq``."""
    time_axis = _check_seq(seq, time_axis)
    hidden = sample_hidden_steps(seq.shape[time_axis], hide_prob, rng, segment_len)
    return apply_hidden_steps(seq, hidden, fill, time_axis)
