"""Hide-and-Seek (Singh & Lee, ICCV 2017): the framework-free core (numpy and torch).

HaS splits a training image into a grid of square cells of ``S`` pixels (``S`` drawn per image
from ``grid_sizes``; 0 = this image is not hidden), hides each cell independently with
probability ``hide_prob`` and sets the hidden pixels to ``fill`` (the dataset mean pixel, so
that they are 0 after mean/std normalization). For video it hides whole frames.

Randomness is kept apart from the pixel operations:

- sampling: :func:`sample_hidden_cells` draws a grid size and one boolean per cell (a few
  dozen numbers; :class:`CellSampler` does the same with its arguments checked once),
  :func:`sample_hidden_steps` one boolean per time step;
- pure operations: :func:`expand_hidden_cells` turns cells into a per-pixel mask,
  :func:`apply_hidden_cells` / :func:`apply_hide_mask` / :func:`apply_hidden_steps` apply them
  (``apply_hidden_cells(..., inplace=True)`` writes into the image itself, views included).
  The pixel write of cells has a small C kernel, ``benchmark/_hasfill.c``, built by
  ``make install`` where there is a C compiler; without it numpy writes the same bytes
  (slower; :func:`fill_kernel` says which one runs).

:func:`sample_hide_mask`, :func:`hide_patches`, :func:`hide_patches_batch` and
:func:`hide_frames` combine the two. The grid is anchored at pixel (0, 0); cells cut by the
right/bottom edge are kept (smaller) and hidden like the others.

Random numbers: ``rng`` may be a ``numpy.random.Generator``, a ``numpy.random.RandomState``,
an int seed, or None for numpy's global random state (so ``np.random.seed`` -- which
mmengine's ``randomness.seed`` and torchreid's ``set_random_seed`` call, per data-loader
worker too -- makes runs reproducible). The draws, in order, are: one uniform ``u`` in
[0, 1) choosing the grid size ``grid_sizes[int(u * len(grid_sizes))]`` (a scalar draw costs a
third of an integer draw), then, unless that size is 0, ``rng.random((rows, cols)) <
hide_prob`` for the cells in row-major order.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

try:  # the C fill, built by `make install` where there is a C compiler (same bytes as numpy)
    from benchmark import _hasfill
except ImportError:  # pragma: no cover - depends on the build
    _hasfill = None

#: The paper's grid sizes in pixels (for 224x224 inputs); 0 = the image is not hidden.
DEFAULT_GRID_SIZES: tuple[int, ...] = (0, 16, 32, 44, 56)

Array = np.ndarray | torch.Tensor
_ARRAY_TYPES = (np.ndarray, torch.Tensor)  # for isinstance: a tuple is 5x faster than a union


class HiddenCells(NamedTuple):
    """The random part of one HaS draw for one image.

    Attributes:
        grid_size_px: Side of the square cells in pixels; 0 = nothing hidden.
        cells: Bool array (rows, cols), True = hidden; ``rows = ceil(height / grid_size_px)``,
            ``cols = ceil(width / grid_size_px)``; shape (0, 0) when ``grid_size_px`` is 0.
    """

    grid_size_px: int
    cells: np.ndarray


# ----------------------------------------------------------------------------- validation


def check_hide_prob(hide_prob: Any) -> float:
    """``hide_prob`` as a float; ValueError naming it unless it is a number in [0, 1]."""
    if type(hide_prob) is float and 0.0 <= hide_prob <= 1.0:  # fast path
        return hide_prob
    if (
        isinstance(hide_prob, bool)
        or not isinstance(hide_prob, numbers.Real)
        or not 0.0 <= float(hide_prob) <= 1.0
    ):
        raise ValueError(f"hide_prob must be a number in [0, 1], got {hide_prob!r}")
    return float(hide_prob)


def check_grid_sizes(grid_sizes: Any) -> tuple[int, ...]:
    """``grid_sizes`` as a tuple; ValueError naming it unless non-empty non-negative ints."""
    if type(grid_sizes) is tuple and grid_sizes and all(
        type(s) is int and s >= 0 for s in grid_sizes
    ):  # fast path
        return grid_sizes
    example = "e.g. (0, 16, 32, 44, 56)"
    if isinstance(grid_sizes, str | bytes) or not isinstance(grid_sizes, Sequence | np.ndarray):
        raise ValueError(
            f"grid_sizes must be a non-empty sequence of non-negative ints ({example}), "
            f"got {grid_sizes!r}"
        )
    sizes = list(grid_sizes)
    if not sizes:
        raise ValueError(f"grid_sizes is empty; give at least one size in pixels ({example})")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 0:
            raise ValueError(
                f"grid_sizes must hold non-negative ints (pixels; 0 = no hiding), "
                f"got {size!r} in {grid_sizes!r}"
            )
    return tuple(int(s) for s in sizes)


def _check_size(value: Any, name: str) -> int:
    if type(value) is int and value > 0:  # fast path
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive int (pixels), got {value!r}")
    return int(value)


def _check_seq(seq: Any, time_axis: Any) -> None:
    """ValueError unless ``seq`` is an array/tensor and ``time_axis`` one of its axes."""
    if not isinstance(seq, _ARRAY_TYPES):
        raise ValueError(
            f"seq must be a numpy array or a torch tensor, got {type(seq).__name__} "
            "(stack a list of frames first)"
        )
    if seq.ndim == 0 or isinstance(time_axis, bool) or not isinstance(time_axis, numbers.Integral) \
            or not -seq.ndim <= time_axis < seq.ndim:
        raise ValueError(f"time_axis {time_axis!r} is not an axis of seq with shape "
                         f"{tuple(seq.shape)}")


def _check_segment_len(segment_len: Any) -> int:
    if isinstance(segment_len, bool) or not isinstance(segment_len, numbers.Integral) or (
        segment_len < 1
    ):
        raise ValueError(f"segment_len must be an int >= 1 (time steps), got {segment_len!r}")
    return int(segment_len)


class _Draws:
    """Uniform draws from a Generator, a RandomState or numpy's global random state."""

    def __init__(self, rng: Any):
        if rng is None:
            self.uniform = np.random.random_sample
        elif isinstance(rng, np.random.Generator):
            self.uniform = rng.random
        elif isinstance(rng, np.random.RandomState):
            self.uniform = rng.random_sample
        elif isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
            self.uniform = np.random.default_rng(int(rng)).random
        else:
            raise ValueError(
                "rng must be a numpy Generator, a numpy RandomState, an int seed or None "
                f"(numpy's global state), got {type(rng).__name__}"
            )


#: Draws from numpy's global random state (``np.random.seed`` reseeds it in place).
_GLOBAL_DRAWS = _Draws(None)


def _spatial_axes(ndim: int, channel_axis: Any) -> tuple[int, int, int | None]:
    """(height axis, width axis, channel axis or None) of an image with ``ndim`` dims."""
    if ndim == 2:
        return 0, 1, None
    if ndim != 3:
        raise ValueError(
            f"img must be 2-D (H, W) or 3-D (H, W, C with channel_axis=-1; C, H, W with "
            f"channel_axis=0), got {ndim} dims; use hide_patches_batch for N x C x H x W"
        )
    if channel_axis in (-1, 2):
        return 0, 1, 2
    if channel_axis in (0, -3):
        return 1, 2, 0
    raise ValueError(f"channel_axis must be 0 (C, H, W) or -1 (H, W, C), got {channel_axis!r}")


@functools.lru_cache(maxsize=64)
def _numpy_dtype(dtype: Any) -> np.dtype:
    """The numpy dtype of a numpy or torch dtype (torch types numpy lacks count as float)."""
    if isinstance(dtype, torch.dtype):
        try:
            return torch.empty(0, dtype=dtype).numpy().dtype
        except TypeError:
            return np.dtype(np.float32)
    return np.dtype(dtype)


@functools.lru_cache(maxsize=64)
def _int_limits(dtype: np.dtype) -> np.iinfo:
    """The value range of an integer (or bool, as uint8) dtype."""
    return np.iinfo(dtype) if dtype.kind != "b" else np.iinfo(np.uint8)


#: Checked conversions of plain fills (numbers, tuples of numbers), read-only, by
#: (fill, channels, dtype): consecutive images reuse them.
_FILL_CACHE: dict[tuple, np.ndarray] = {}


def _fill_values(fill: Any, n_channels: int | None, dtype: Any) -> np.ndarray:
    """``fill`` as a numpy array in ``dtype``: shape () for one number, (C,) per channel.

    Integer images get the fill rounded to the nearest integer; it must fit the dtype.
    """
    key = (fill, n_channels, dtype)
    try:
        return _FILL_CACHE[key]
    except (KeyError, TypeError):  # not converted yet, or not hashable (an array, a list)
        pass
    values = _convert_fill(fill, n_channels, dtype)
    if len(_FILL_CACHE) < 256 and (type(fill) in (int, float) or (
        type(fill) is tuple and all(type(v) in (int, float) for v in fill)
    )):  # only plain values: a tensor hashes by identity and may change
        values.flags.writeable = False
        _FILL_CACHE[key] = values
    return values


def _convert_fill(fill: Any, n_channels: int | None, dtype: Any) -> np.ndarray:
    if isinstance(fill, torch.Tensor):
        fill = fill.detach().cpu().numpy()
    if isinstance(fill, numbers.Real):
        items, one_number = [float(fill)], True
    else:
        values = np.asarray(fill)
        if values.dtype.kind not in "biuf" or values.ndim > 1:
            raise ValueError(
                f"fill must be a number or a 1-D sequence with one value per channel, got {fill!r}"
            )
        items, one_number = [float(v) for v in values.reshape(-1).tolist()], values.size == 1
        if n_channels is None and not one_number:
            raise ValueError(
                f"fill has {values.size} values but the image has no channel axis; give one "
                "number"
            )
        if n_channels is not None and values.size not in (1, n_channels):
            raise ValueError(
                f"fill has {values.size} values but the image has {n_channels} channels; give "
                f"one number or {n_channels} values in the image's channel order"
            )
    target = _numpy_dtype(dtype)
    if target.kind in "iub":
        limits = _int_limits(target)
        if not all(math.isfinite(v) and limits.min <= round(v) <= limits.max for v in items):
            raise ValueError(
                f"fill {fill!r} does not fit a {target} image (range {limits.min}..{limits.max});"
                " pass a float image to fill with other values"
            )
        items = [round(v) for v in items]
    values = np.array(items, dtype=target)
    return values.reshape(()) if one_number else values


# ----------------------------------------------------------------------------- sampling


def sample_hidden_cells(
    height: int,
    width: int,
    grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
    hide_prob: float = 0.5,
    rng: Any = None,
) -> HiddenCells:
    """Draw a grid size and which of its cells are hidden (the random part of HaS).

    Args:
        height: Image height in pixels.
        width: Image width in pixels.
        grid_sizes: Candidate cell sides in pixels, one drawn uniformly; 0 = no hiding.
        hide_prob: Probability that each cell is hidden.
        rng: numpy Generator or RandomState, int seed, or None (numpy's global state).

    Returns:
        The drawn :class:`HiddenCells`.

    Raises:
        ValueError: naming the bad argument.
    """
    height, width = _check_size(height, "height"), _check_size(width, "width")
    draws = _GLOBAL_DRAWS if rng is None else _Draws(rng)
    return _draw_cells(height, width, check_grid_sizes(grid_sizes), check_hide_prob(hide_prob),
                       draws)


#: numpy's bool dtype: comparing to it with ``is`` costs a tenth of ``==`` (cells drawn by
#: comparison have it; any other cells array takes the numpy writer).
_BOOL = np.dtype(bool)

#: A draw that hides nothing (shared: its empty, read-only cells cannot be changed).
_NOTHING_HIDDEN = HiddenCells(0, np.zeros((0, 0), dtype=bool))
_NOTHING_HIDDEN.cells.flags.writeable = False


def _draw_cells(
    height: int, width: int, sizes: tuple[int, ...], hide_prob: float, draws: _Draws
) -> HiddenCells:
    """:func:`sample_hidden_cells` on checked arguments (the per-image hot path)."""
    size = sizes[int(draws.uniform() * len(sizes))]
    if size == 0:
        return _NOTHING_HIDDEN
    return HiddenCells(size, draws.uniform((-(-height // size), -(-width // size))) < hide_prob)


class CellSampler:
    """:func:`sample_hidden_cells` with its arguments checked once, for many images.

    ``CellSampler(grid_sizes, hide_prob, rng)(height, width)`` draws exactly what
    ``sample_hidden_cells(height, width, grid_sizes, hide_prob, rng)`` draws, without checking
    the arguments again on every image (pipeline stages call it once per training image).

    Args:
        grid_sizes: Candidate cell sides in pixels, one drawn uniformly; 0 = no hiding.
        hide_prob: Probability that each cell is hidden.
        rng: numpy Generator or RandomState, int seed, or None (numpy's global state, read
            at each call).

    Raises:
        ValueError: naming the bad argument.
    """

    def __init__(
        self, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES, hide_prob: float = 0.5,
        rng: Any = None,
    ):
        self.grid_sizes = check_grid_sizes(grid_sizes)
        self.hide_prob = check_hide_prob(hide_prob)
        self._draws = _GLOBAL_DRAWS if rng is None else _Draws(rng)

    def __call__(self, height: int, width: int) -> HiddenCells:
        """Draw the cells of one ``height`` x ``width`` image (sizes in pixels)."""
        if type(height) is not int or type(width) is not int or height <= 0 or width <= 0:
            height, width = _check_size(height, "height"), _check_size(width, "width")
        return _draw_cells(height, width, self.grid_sizes, self.hide_prob, self._draws)


def sample_hide_mask(
    height: int,
    width: int,
    grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
    hide_prob: float = 0.5,
    rng: Any = None,
) -> np.ndarray:
    """Draw a HaS mask for one image.

    Args:
        height: Image height in pixels.
        width: Image width in pixels.
        grid_sizes: Candidate cell sides in pixels, one drawn uniformly per call; 0 = no hiding.
        hide_prob: Probability that each cell is hidden.
        rng: numpy Generator or RandomState, int seed, or None (numpy's global state).

    Returns:
        Bool array (height, width), True = hidden.

    Raises:
        ValueError: naming the bad argument.
    """
    return expand_hidden_cells(
        sample_hidden_cells(height, width, grid_sizes, hide_prob, rng), height, width
    )


def sample_hidden_steps(
    length: int, hide_prob: float = 0.5, rng: Any = None, segment_len: int = 1
) -> np.ndarray:
    """Draw which time steps HaS hides: segments of ``segment_len`` steps from step 0.

    Each segment (the last one may be shorter) is hidden independently with probability
    ``hide_prob``; the draws are ``rng.random(n_segments) < hide_prob``.

    Args:
        length: Number of time steps (0 allowed).
        hide_prob: Probability that each segment is hidden.
        rng: numpy Generator or RandomState, int seed, or None (numpy's global state).
        segment_len: Time steps per segment.

    Returns:
        Bool array (length,), True = hidden.

    Raises:
        ValueError: naming the bad argument.
    """
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
        raise ValueError(f"length must be a non-negative int (time steps), got {length!r}")
    hide_prob = check_hide_prob(hide_prob)
    segment_len = _check_segment_len(segment_len)
    segments = _Draws(rng).uniform(math.ceil(length / segment_len)) < hide_prob
    return np.repeat(segments, segment_len)[:length]


def sample_hide_mask_batch(
    n: int,
    height: int,
    width: int,
    grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
    hide_prob: float = 0.5,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Draw independent HaS masks for a batch, with torch, on ``device``.

    Each sample gets its own grid size and cells. Cells are drawn for the smallest non-zero
    grid size; a sample with a larger size uses the top-left part of its draws.

    Args:
        n: Batch size.
        height: Image height in pixels.
        width: Image width in pixels.
        grid_sizes: Candidate cell sides in pixels; 0 = that sample is not hidden.
        hide_prob: Probability that each cell is hidden.
        generator: torch Generator on ``device``, or None for torch's global one.
        device: Where the mask is built.

    Returns:
        Bool tensor (n, height, width), True = hidden.

    Raises:
        ValueError: naming the bad argument.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n must be a non-negative int (batch size), got {n!r}")
    height, width = _check_size(height, "height"), _check_size(width, "width")
    sizes = check_grid_sizes(grid_sizes)
    hide_prob = check_hide_prob(hide_prob)
    positive = [s for s in sizes if s > 0]
    if n == 0 or not positive:
        return torch.zeros((n, height, width), dtype=torch.bool, device=device)
    rows, cols = math.ceil(height / min(positive)), math.ceil(width / min(positive))
    size_table = torch.tensor(sizes, device=device)
    size = size_table[torch.randint(len(sizes), (n,), generator=generator, device=device)]
    cells = torch.rand((n, rows, cols), generator=generator, device=device) < hide_prob
    cells &= (size > 0)[:, None, None]
    # Samples that hide nothing index cell 0 everywhere (it is False for them).
    step = torch.where(size > 0, size, height + width)
    row_cell = torch.arange(height, device=device)[None, :] // step[:, None]  # (n, H)
    col_cell = torch.arange(width, device=device)[None, :] // step[:, None]  # (n, W)
    col_mask = torch.gather(cells, 2, col_cell[:, None, :].expand(n, rows, width))
    flat_rows = (row_cell + torch.arange(n, device=device)[:, None] * rows).reshape(-1)
    return col_mask.reshape(n * rows, width).index_select(0, flat_rows).view(n, height, width)


# ----------------------------------------------------------------------------- pure operations


def _check_cells(hidden: HiddenCells, height: int, width: int) -> None:
    size, cells = hidden
    if size == 0:
        return
    expected = (-(-height // size), -(-width // size))  # ceil, in integers
    if cells.shape != expected:
        raise ValueError(
            f"hidden cells of shape {cells.shape} (grid {size} px) do not fit a "
            f"{height}x{width} image, which needs {expected}; sample them for this image size"
        )


def _cell_rows_to_pixels(cell_rows: np.ndarray, size: int, height: int) -> np.ndarray:
    """Repeat each row of ``cell_rows`` ``size`` times and keep the first ``height`` rows."""
    return np.repeat(cell_rows, size, axis=0)[:height]


def expand_hidden_cells(hidden: HiddenCells, height: int, width: int) -> np.ndarray:
    """The per-pixel mask of drawn cells: bool (height, width), True = hidden."""
    _check_cells(hidden, height, width)
    size = hidden.grid_size_px
    if size == 0:
        return np.zeros((height, width), dtype=bool)
    cols = np.repeat(hidden.cells, size, axis=1)[:, :width]
    return _cell_rows_to_pixels(cols, size, height)


def _apply_cells_numpy(
    img: np.ndarray, hidden: HiddenCells, fill_values: np.ndarray, c_axis: int | None
) -> np.ndarray:
    """Fill the hidden cells of a copy of ``img``, exactly (bits are copied, not computed)."""
    out = img.copy()  # C-contiguous
    _fill_cells_into(out, hidden, fill_values, c_axis)
    return out


def _fill_cells_into(
    img: np.ndarray, hidden: HiddenCells, fill_values: np.ndarray, c_axis: int | None
) -> None:
    """Write the fill into the hidden cells of ``img`` itself (``img`` must be writeable).

    Each cell's part of a pixel row is one run of memory (forwards, or backwards in a flipped
    view). Views are written through their memory (flips: ``np.flip``, mmcv's ``imflip``;
    crops such as ``RandomCrop``'s; a channel-first view of HWC memory); any other view
    (pixels apart within a row) takes a slower per-pixel masked copy. Two writers give the
    same bytes: the C kernel ``benchmark._hasfill`` (built by ``make install`` where there is
    a C compiler; one ``memcpy`` per run of neighbouring hidden cells in each pixel row), and
    numpy through void views (:func:`_fill_numpy_blocks`) where it is not built.
    """
    buffer, offset = (img, 0) if img.flags.c_contiguous else _root_buffer(img)
    fill = fill_values.tobytes()
    layout = None if buffer is None else _row_layout(img.shape, img.strides, img.dtype,
                                                     c_axis, fill)
    if layout is None and c_axis == 0 and buffer is not None:  # (C, H, W) view of HWC memory
        img, c_axis = img.transpose(1, 2, 0), 2
        layout = _row_layout(img.shape, img.strides, img.dtype, 2, fill)
    if layout is None:
        _fill_cells_strided(img, hidden, fill_values, c_axis)
        return
    cells = hidden.cells
    if _hasfill is not None and cells.dtype is _BOOL and cells.flags.c_contiguous:
        _hasfill.fill_cells(buffer, offset + layout.pixel_low, cells, hidden.grid_size_px,
                            layout.dims, layout.pattern)
        return
    _fill_numpy_blocks(buffer, offset, cells, _fill_plan(layout, hidden.grid_size_px))


def fill_kernel() -> str:
    """Which writer fills hidden cells: ``"c"`` (the built C kernel) or ``"numpy"``."""
    return "numpy" if _hasfill is None else "c"


def _fill_numpy_blocks(
    buffer: np.ndarray, offset: int, cells: np.ndarray, plan: tuple[_CellBlock, ...]
) -> None:
    """Write the blocks of a :func:`_fill_plan` with numpy.

    The image is seen through void views of shape ([channel planes,] cell rows, cell cols,
    pixel rows of a cell) whose elements are runs of one cell's pixel row (48 bytes for
    16-pixel cells of a uint8 RGB image) -- one view per block of equally sized cells: the
    full cells, and the cells cut by the right and the bottom edge. The full cells are written
    by indexing their view with the drawn cells (only hidden runs are touched); the thin edge
    blocks by a masked copy, whose fixed cost is lower. No per-pixel mask, no loop over cells.
    Measured on 224x224x3 uint8 (one core), 16-pixel cells: 5.7 us, against 10.6 us for a
    masked copy over every run and 3.1 us for a plain copy of the image.
    """
    for block in plan:
        view = np.ndarray(block.shape, block.unit, buffer, offset + block.offset, block.strides)
        chosen = cells if block.cells is None else cells[block.cells]
        if block.masked_copy:
            np.copyto(view, block.fill, where=chosen)
        elif view.ndim == 4:  # channel planes first
            view[:, chosen] = block.fill
        else:  # no leading axis to slice: ~1 us cheaper per block
            view[chosen] = block.fill


def _root_buffer(img: np.ndarray) -> tuple[np.ndarray | None, int]:
    """A C-contiguous array holding ``img``'s memory, and the byte offset of ``img[0, ..., 0]``.

    A flipped image (``np.flip``, mmcv's ``imflip``) is its unflipped view; other views (a
    crop) are found through their owner. (None, 0) when there is none (the caller falls back).
    """
    unflip, offset = _unflip(img.shape, img.strides)
    if unflip is not None:
        unflipped = img[unflip]
        if unflipped.flags.c_contiguous:
            return unflipped, offset
    root = img
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not root.flags.c_contiguous:
        return None, 0
    return root, img.ctypes.data - root.ctypes.data  # two pointer reads: ~1 us each


@functools.lru_cache(maxsize=256)
def _unflip(shape: tuple[int, ...], strides: tuple[int, ...]) -> tuple[tuple | None, int]:
    """How to unflip a view: the index reversing its axes with negative strides, or None.

    Also returns the bytes from the unflipped view's first (lowest) element to element
    [0, ..., 0] of the flipped one.
    """
    if all(stride >= 0 for stride in strides):
        return None, 0
    index = tuple(slice(None, None, -1) if stride < 0 else slice(None) for stride in strides)
    pairs = zip(shape, strides, strict=True)
    return index, sum((n - 1) * -stride for n, stride in pairs if stride < 0)


class _RowLayout(NamedTuple):
    """An image whose pixel rows are runs of memory, in bytes (see :func:`_row_layout`)."""

    # (planes, plane stride, height, width, row stride, pixel stride, pixel bytes); strides
    # are signed, |pixel stride| == pixel bytes. One plane unless the image is (C, H, W).
    dims: tuple[int, int, int, int, int, int, int]
    pixel_low: int  # bytes from img[0, ..., 0] to the lowest byte of pixel (0, 0)
    pattern: bytes  # one fill pixel per plane, in memory order (channels of a pixel reversed
    # when the view stores them backwards)


@functools.lru_cache(maxsize=256)
def _row_layout(
    shape: tuple[int, ...], strides: tuple[int, ...], dtype: np.dtype, c_axis: int | None,
    fill_bytes: bytes,
) -> _RowLayout | None:
    """How an image's memory holds its pixel rows (cached per layout and fill).

    ``fill_bytes`` hold one value or one per channel. None when a pixel row is not one run of
    memory (a view with pixels apart).
    """
    itemsize = dtype.itemsize
    fill = np.frombuffer(fill_bytes, dtype=dtype)
    if c_axis == 0:
        (planes, height, width), (s_plane, s_row, s_px), channels, s_chan = shape, strides, 1, 0
        if abs(s_px) != itemsize:
            return None
        pattern = np.broadcast_to(fill, (planes,))  # one value per plane
    else:
        (height, width), (s_row, s_px), planes, s_plane = shape[:2], strides[:2], 1, 0
        channels, s_chan = (shape[2], strides[2]) if c_axis is not None else (1, itemsize)
        if (channels > 1 and abs(s_chan) != itemsize) or abs(s_px) != channels * itemsize:
            return None
        pattern = np.broadcast_to(fill, (channels,))
        if s_chan < 0:  # channels stored backwards within a pixel
            pattern = pattern[::-1]
    return _RowLayout((planes, s_plane, height, width, s_row, s_px, channels * itemsize),
                      min(0, (channels - 1) * s_chan), pattern.tobytes())


class _CellBlock(NamedTuple):
    """Cells of one size seen as runs of memory (see :func:`_fill_plan`)."""

    cells: tuple | None  # index into the cells array: (rows, cols), for a masked copy
    # ([None,] rows, cols, None) to broadcast against the view, or None: all of them
    shape: tuple[int, ...]  # ([planes,] cell rows, cell cols, pixel rows per cell)
    strides: tuple[int, ...]  # in bytes
    offset: int  # bytes from img[0, ..., 0] to the lowest byte of the first run
    unit: np.dtype  # one run of one cell's pixel row: V(pixels * pixel bytes)
    fill: np.ndarray  # runs of the fill, read-only, shaped to broadcast where they are written
    masked_copy: bool  # a thin edge block: np.copyto(where=...) rather than indexing


def _edge_segments(n_px: int, size: int) -> list[tuple[slice, int, int, int]]:
    """(cells slice, first pixel, number of cells, pixels per cell) along one axis."""
    n_full = n_px // size
    segments = [(slice(0, n_full), 0, n_full, size)] if n_full else []
    if n_px % size:
        segments.append((slice(n_full, n_full + 1), n_full * size, 1, n_px % size))
    return segments


@functools.lru_cache(maxsize=256)
def _fill_plan(layout: _RowLayout, size: int) -> tuple[_CellBlock, ...]:
    """How :func:`_fill_numpy_blocks` writes an image: its blocks (cached per layout)."""
    planes, s_plane, height, width, s_row, s_px, pixel_bytes = layout.dims
    pixel = np.frombuffer(layout.pattern, dtype=np.uint8).reshape(planes, 1, pixel_bytes)
    lead, lead_stride = ((planes,), (s_plane,)) if planes > 1 else ((), ())  # channel planes
    blocks = []
    for rows, row0, n_rows, run_rows in _edge_segments(height, size):
        for cols, col0, n_cols, run_px in _edge_segments(width, size):
            unit = np.dtype(f"V{run_px * pixel_bytes}")
            masked_copy = n_rows == 1 or n_cols == 1
            runs = np.repeat(pixel, run_px, axis=1).reshape(planes, -1)  # a new array
            # Shaped to broadcast against the view (masked copy) or its indexed runs.
            runs = runs.view(unit).reshape((*lead, *((1, 1, 1) if masked_copy else (1, 1))))
            runs.flags.writeable = False
            whole = n_rows * run_rows == height and n_cols * run_px == width
            blocks.append(_CellBlock(
                (*(None,) * len(lead), rows, cols, None) if masked_copy
                else None if whole else (rows, cols),
                (*lead, n_rows, n_cols, run_rows),
                (*lead_stride, size * s_row, size * s_px, s_row),
                row0 * s_row + min(col0 * s_px, (col0 + run_px - 1) * s_px) + layout.pixel_low,
                unit, runs, masked_copy))
    return tuple(blocks)


def _fill_cells_strided(
    img: np.ndarray, hidden: HiddenCells, fill_values: np.ndarray, c_axis: int | None
) -> None:
    """:func:`_fill_cells_into` for any strided view: a per-pixel masked copy."""
    height, width = img.shape[1:] if c_axis == 0 else img.shape[:2]
    mask = expand_hidden_cells(hidden, height, width)
    if c_axis == 0:
        values = fill_values.reshape(-1, 1, 1) if fill_values.ndim else fill_values
        np.copyto(img, values, where=mask[None])
    else:
        np.copyto(img, fill_values, where=mask[..., None] if c_axis is not None else mask)


def apply_hidden_cells(
    img: Array, hidden: HiddenCells, fill: Any = 0, channel_axis: int = -1,
    inplace: bool = False,
) -> Array:
    """Set the pixels of the hidden cells to ``fill`` (no randomness).

    Args:
        img: numpy (H, W), (H, W, C) or (C, H, W); or a torch tensor of those shapes.
        hidden: Cells drawn by :func:`sample_hidden_cells` for this image size.
        fill: Number or per-channel sequence (in the image's channel order and pixel units;
            rounded to the nearest integer for integer images).
        channel_axis: -1 for (H, W, C), 0 for (C, H, W); ignored for 2-D images.
        inplace: Write into ``img`` itself (any writeable numpy array or tensor, views
            included) instead of a copy; nothing is copied when nothing is hidden.

    Returns:
        A new array/tensor of the same type, shape, dtype (and device); ``img`` itself when
        ``inplace``.

    Raises:
        ValueError: naming the bad argument.
    """
    if not isinstance(img, _ARRAY_TYPES):
        raise ValueError(f"img must be a numpy array or a torch tensor, got {type(img).__name__}")
    h_axis, w_axis, c_axis = _spatial_axes(img.ndim, channel_axis)
    height, width = img.shape[h_axis], img.shape[w_axis]
    _check_cells(hidden, height, width)
    n_channels = None if c_axis is None else img.shape[c_axis]
    fill_values = _fill_values(fill, n_channels, img.dtype)
    if hidden.grid_size_px == 0:
        return img if inplace else (img.clone() if isinstance(img, torch.Tensor) else img.copy())
    if isinstance(img, np.ndarray):
        if not inplace:
            return _apply_cells_numpy(img, hidden, fill_values, c_axis)
        if not img.flags.writeable:
            raise ValueError("inplace=True needs a writeable array; pass inplace=False or a copy")
        _fill_cells_into(img, hidden, fill_values, c_axis)
        return img
    if img.device.type == "cpu" and img.dtype == _torch_dtype(fill_values.dtype):
        # The numpy path, on a zero-copy numpy view of the tensor.
        if not inplace:
            return torch.from_numpy(_apply_cells_numpy(img.detach().numpy(), hidden,
                                                       fill_values, c_axis))
        _fill_cells_into(img.detach().numpy(), hidden, fill_values, c_axis)
        return img
    out = apply_hide_mask(img, expand_hidden_cells(hidden, height, width), fill, channel_axis)
    return img.copy_(out) if inplace else out


def _fill_tensor(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """Fill values as a tensor on ``like``'s device and dtype.

    Made from a copy: cached fills are read-only, which torch warns about.
    """
    return torch.as_tensor(np.array(values), device=like.device).to(like.dtype)


@functools.lru_cache(maxsize=64)
def _torch_dtype(dtype: np.dtype) -> torch.dtype | None:
    """The torch dtype of a numpy dtype, or None when torch has no such dtype."""
    try:
        return torch.from_numpy(np.empty(0, dtype=dtype)).dtype
    except TypeError:
        return None


def apply_hide_mask(img: Array, mask: Any, fill: Any = 0, channel_axis: int = -1) -> Array:
    """Set the pixels where ``mask`` is True to ``fill`` in a copy of ``img`` (no randomness).

    Args:
        img: numpy (H, W), (H, W, C) or (C, H, W); or a torch tensor of those shapes.
        mask: Bool (H, W) numpy array or tensor, True = hidden.
        fill: Number or per-channel sequence (in the image's channel order and pixel units).
        channel_axis: -1 for (H, W, C), 0 for (C, H, W); ignored for 2-D images.

    Returns:
        A new array/tensor of the same type, shape, dtype (and device).

    Raises:
        ValueError: naming the bad argument.
    """
    if not isinstance(img, _ARRAY_TYPES):
        raise ValueError(f"img must be a numpy array or a torch tensor, got {type(img).__name__}")
    h_axis, w_axis, c_axis = _spatial_axes(img.ndim, channel_axis)
    spatial = (img.shape[h_axis], img.shape[w_axis])
    if tuple(mask.shape) != spatial or mask.dtype not in (bool, np.bool_, torch.bool):
        raise ValueError(f"mask must be bool {spatial} to match img {tuple(img.shape)}, got "
                         f"{mask.dtype} {tuple(mask.shape)}")
    n_channels = None if c_axis is None else img.shape[c_axis]
    values = _fill_values(fill, n_channels, img.dtype)
    if c_axis == 0:
        values = values.reshape(-1, 1, 1) if values.ndim else values
    if isinstance(img, torch.Tensor):
        mask_t = torch.as_tensor(mask, device=img.device)
        fill_t = _fill_tensor(values, img)
        return torch.where(mask_t[..., None] if c_axis == 2 else mask_t, fill_t, img)
    mask_np = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else mask
    return np.where(mask_np[..., None] if c_axis == 2 else mask_np, values, img).astype(
        img.dtype, copy=False
    )


def apply_hidden_steps(seq: Array, hidden: Any, fill: Any = 0.0, time_axis: int = 0) -> Array:
    """Set the time steps where ``hidden`` is True to ``fill`` in a copy of ``seq``.

    Args:
        seq: numpy array or torch tensor with a time axis.
        hidden: Bool (T,) array, True = hidden.
        fill: Number, or an array broadcastable to one time step (e.g. per-channel for
            (T, H, W, C) frames).
        time_axis: The time axis of ``seq``.

    Returns:
        A new array/tensor of the same type, shape, dtype (and device).

    Raises:
        ValueError: naming the bad argument.
    """
    _check_seq(seq, time_axis)
    length = seq.shape[time_axis]
    hidden_np = np.asarray(hidden.cpu() if isinstance(hidden, torch.Tensor) else hidden)
    if hidden_np.shape != (length,) or hidden_np.dtype != bool:
        raise ValueError(f"hidden must be bool ({length},), got {hidden_np.dtype} "
                         f"{hidden_np.shape}")
    step_shape = tuple(np.delete(np.array(seq.shape, dtype=int), time_axis))
    values = np.asarray(fill.cpu() if isinstance(fill, torch.Tensor) else fill)
    try:
        ok = np.broadcast_shapes(values.shape, step_shape) == step_shape
    except ValueError:
        ok = False
    if not ok or values.dtype.kind not in "biuf":
        raise ValueError(f"fill of shape {values.shape} does not broadcast to one time step of "
                         f"shape {step_shape}")
    if values.size:  # round/range-check like an image fill, keeping the broadcast shape
        values = _fill_values(values.reshape(-1), values.size, seq.dtype).reshape(values.shape)
    if isinstance(seq, torch.Tensor):
        out = seq.clone()
        out.movedim(time_axis, 0)[torch.as_tensor(hidden_np, device=seq.device)] = _fill_tensor(
            values, seq)
        return out
    out = seq.copy()
    np.moveaxis(out, time_axis, 0)[hidden_np] = values
    return out


# ----------------------------------------------------------------------------- sample + apply


def hide_patches(
    img: Array,
    grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
    hide_prob: float = 0.5,
    fill: Any = 0,
    rng: Any = None,
    channel_axis: int = -1,
) -> Array:
    """Hide-and-Seek one image: hide random grid cells in a copy of it.

    Args:
        img: numpy (H, W) or (H, W, C) (uint8 or float), or a torch tensor; (C, H, W) with
            ``channel_axis=0``.
        grid_sizes: Candidate cell sides in pixels, one drawn uniformly; 0 = no hiding.
        hide_prob: Probability that each cell is hidden.
        fill: Number or per-channel sequence, in the image's channel order and pixel units
            (rounded to the nearest integer for integer images).
        rng: numpy Generator or RandomState, int seed, or None (numpy's global state).
        channel_axis: -1 for (H, W, C), 0 for (C, H, W); ignored for 2-D images.

    Returns:
        A new array/tensor of the same type, shape, dtype and device; the input is not modified.

    Raises:
        ValueError: naming the bad argument.
    """
    if not isinstance(img, _ARRAY_TYPES):
        raise ValueError(f"img must be a numpy array or a torch tensor, got {type(img).__name__}")
    h_axis, w_axis, _ = _spatial_axes(img.ndim, channel_axis)
    hidden = sample_hidden_cells(img.shape[h_axis], img.shape[w_axis], grid_sizes, hide_prob, rng)
    return apply_hidden_cells(img, hidden, fill, channel_axis)


def hide_patches_batch(
    x: torch.Tensor,
    grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
    hide_prob: float = 0.5,
    fill: Any = 0.0,
    generator: torch.Generator | None = None,
    inplace: bool = False,
) -> torch.Tensor:
    """Hide-and-Seek a batch: an independent mask per sample, vectorized on ``x``'s device.

    Args:
        x: N x C x H x W tensor.
        grid_sizes: Candidate cell sides in pixels, one drawn per sample; 0 = not hidden.
        hide_prob: Probability that each cell is hidden.
        fill: Number or per-channel sequence (C values), in the tensor's units.
        generator: torch Generator on ``x``'s device, or None for torch's global one.
        inplace: Write into ``x`` (no second batch in memory) instead of a new tensor.

    Returns:
        A new tensor (same shape, dtype, device), ``x`` unmodified; ``x`` itself when
        ``inplace``.

    Raises:
        ValueError: naming the bad argument.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"x must be an N x C x H x W torch tensor, got {shape}")
    n, channels, height, width = x.shape
    values = _fill_values(fill, channels, x.dtype)
    mask = sample_hide_mask_batch(
        n, height, width, grid_sizes, hide_prob, generator=generator, device=x.device
    )
    if inplace and not values.ndim:
        return x.masked_fill_(mask[:, None], values.item())
    fill_t = _fill_tensor(values, x)
    if fill_t.ndim:
        fill_t = fill_t.view(1, channels, 1, 1)
    out = torch.where(mask[:, None], fill_t, x)
    return x.copy_(out) if inplace else out


def hide_frames(
    seq: Array,
    hide_prob: float = 0.5,
    fill: Any = 0.0,
    rng: Any = None,
    time_axis: int = 0,
    segment_len: int = 1,
) -> Array:
    """Hide-and-Seek along time: hide whole time steps (frames, feature vectors) in segments.

    The time axis is cut into segments of ``segment_len`` steps from step 0 (the last may be
    shorter); each segment is hidden independently with probability ``hide_prob``.

    Args:
        seq: numpy array or torch tensor, e.g. (T, H, W, C) frames or (T, D) features.
        hide_prob: Probability that each segment is hidden.
        fill: Number, or an array broadcastable to one time step.
        rng: numpy Generator or RandomState, int seed, or None (numpy's global state).
        time_axis: The time axis of ``seq``.
        segment_len: Time steps per segment.

    Returns:
        A new array/tensor of the same type, shape, dtype and device.

    Raises:
        ValueError: naming the bad argument.
    """
    _check_seq(seq, time_axis)
    hidden = sample_hidden_steps(seq.shape[time_axis], hide_prob, rng, segment_len)
    return apply_hidden_steps(seq, hidden, fill, time_axis)
