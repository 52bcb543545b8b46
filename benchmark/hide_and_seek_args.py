"""The defaults, argument checks and fill conversion of the Hide-and-Seek core.

Every check returns the value in the form the core uses or raises ValueError naming the
argument, what it must be and what was given. Nothing here imports torch (so that
:mod:`benchmark.methods` and the CLI start without it): a tensor can only be given once torch
is imported, and is recognized then. :mod:`benchmark.hide_and_seek` re-exports
:data:`DEFAULT_GRID_SIZES`, :func:`check_grid_sizes` and :func:`check_hide_prob`.
"""
from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np

#: The paper's grid sizes in pixels (for 224x224 inputs); 0 = the image is not hidden.
DEFAULT_GRID_SIZES: tuple[int, ...] = (0, 16, 32, 44, 56)
#: The hiding probabilities of the paper's ablation (Singh & Lee, ICCV 2017, Table 6
#: "probability of hiding"; arXiv 1811.02545, the same ablation): 0.5 everywhere else. The
#: values an ablation suite sweeps with ``--has-hide-prob``.
PAPER_HIDE_PROBS: tuple[float, ...] = (0.25, 0.33, 0.5, 0.66, 0.75)
#: What hidden pixels get (``--has-fill``): the dataset's mean pixel (the paper's choice),
#: 0 in pixel space (black), or uniform noise over the pixel range [0, 255], per value.
HAS_FILLS: tuple[str, ...] = ("mean", "zero", "random")
#: How the 224-px grid sizes meet a smaller input (``--has-grid-policy``): ``scaled`` keeps
#: the cell-to-image ratio, ``absolute`` keeps the pixels.
GRID_POLICIES: tuple[str, ...] = ("scaled", "absolute")
#: The pixel-space range of ``fill='random'`` noise (uint8 images' range).
RANDOM_FILL_RANGE_PX: tuple[float, float] = (0.0, 255.0)
#: The last fill converted by :func:`fill_values`: (fill, channels, dtype, values).
_last_fill: tuple = (None, None, None, None)


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (never, while torch is not imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def numpy_dtype(dtype: Any) -> np.dtype | None:
    """The numpy dtype of a numpy or torch dtype; None for a torch dtype numpy lacks."""
    if type(dtype).__module__ != "torch":
        return np.dtype(dtype)
    try:
        return sys.modules["torch"].empty(0, dtype=dtype).numpy().dtype
    except TypeError:  # bfloat16, and other dtypes numpy does not have
        return None


def check_hide_prob(hide_prob: Any) -> float:
    """``hide_prob`` as a float; ValueError unless it is a number in [0, 1]."""
    if isinstance(hide_prob, bool) or not isinstance(hide_prob, numbers.Real) or not (
            0.0 <= hide_prob <= 1.0):
        raise ValueError(f"hide_prob must be a number in [0, 1], got {hide_prob!r}")
    return float(hide_prob)


def check_choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    """``value`` unless it is not one of ``choices``: ValueError naming them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def check_grid_sizes(grid_sizes: Any) -> tuple[int, ...]:
    """``grid_sizes`` as a tuple; ValueError unless a non-empty sequence of ints >= 0 (pixels)."""
    if type(grid_sizes) is tuple and grid_sizes and all(type(s) is int and s >= 0
                                                        for s in grid_sizes):
        return grid_sizes  # the common case, checked first
    if isinstance(grid_sizes, str | bytes) or np.ndim(grid_sizes) != 1 or not len(grid_sizes):
        raise ValueError("grid_sizes must be a non-empty sequence of sizes in pixels, e.g. "
                         f"(0, 16, 32, 44, 56), got {grid_sizes!r}")
    return tuple(check_int(size, "grid_sizes", 0, "pixels; 0 = not hidden") for size in grid_sizes)


def check_int(value: Any, name: str, low: int, unit: str) -> int:
    """``value`` as an int; ValueError unless it is an integer >= ``low`` (in ``unit``)."""
    if type(value) is int and value >= low:  # the common case, checked first
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low} ({unit}), got {value!r}")
    return int(value)


def uniform(rng: Any) -> Any:
    """``rng``'s draws: ``f()`` one float in [0, 1), ``f(shape)`` an array of them.

    ``rng`` is a numpy Generator or RandomState, an int seed, or None: numpy's global state,
    read at each call.
    """
    if rng is None or isinstance(rng, np.random.RandomState | np.random.Generator):
        return np.random.random if rng is None else rng.random
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise ValueError("rng must be a numpy Generator or RandomState, an int seed or None "
                         f"(numpy's global state), got {type(rng).__name__}")
    return np.random.default_rng(rng).random


def check_image(img: Any, channel_axis: Any, fill: Any) -> tuple[int, int, int | None, Any]:
    """(height, width, channel axis: 0, 2 or None, :func:`fill_values`) of an image.

    ``img`` is a numpy array or torch tensor (H, W), (H, W, C) with ``channel_axis=-1`` (or 2),
    or (C, H, W) with ``channel_axis=0`` (or -3).
    """
    if not (isinstance(img, np.ndarray) or is_tensor(img)) or img.ndim not in (2, 3) or (
            img.ndim == 3 and channel_axis not in (-1, 2, 0, -3)):
        raise ValueError("img must be a numpy array or torch tensor (H, W), (H, W, C) with "
                         "channel_axis=-1 or (C, H, W) with channel_axis=0, got "
                         f"{getattr(img, 'shape', type(img).__name__)}, {channel_axis=}")
    c_axis = None if img.ndim == 2 else 2 if channel_axis in (-1, 2) else 0
    height, width = img.shape[1:] if c_axis == 0 else img.shape[:2]
    n_channels = None if c_axis is None else img.shape[c_axis]
    return height, width, c_axis, fill_values(fill, n_channels, img.dtype)


def fill_values(fill: Any, n_channels: int | None, dtype: Any) -> np.ndarray:
    """``fill`` in ``dtype`` (numpy's, or a torch dtype), rounded to the nearest for integers.

    Returns:
        Shape () for one number, (n_channels,) for one value per channel. The last
        conversion of a number or a tuple of numbers is kept (a stage passes the same fill
        for every image), found again by identity.
    """
    global _last_fill
    if fill is _last_fill[0] and n_channels == _last_fill[1] and dtype == _last_fill[2]:
        return _last_fill[3]
    values = np.asarray(fill.detach().cpu() if is_tensor(fill) else fill)
    if values.dtype.kind not in "biuf" or values.size not in (1, n_channels) or values.ndim > 1:
        raise ValueError(f"fill must be a number or one value per channel ({n_channels or 1} "
                         f"here), got {fill!r}")
    target = numpy_dtype(dtype) or np.dtype(np.float32)  # torch converts it to the rest
    if target.kind in "iub":
        low, high = (0, 1) if target.kind == "b" else (np.iinfo(target).min, np.iinfo(target).max)
        values = np.rint(values)
        if not np.all((values >= low) & (values <= high)):  # NaN fails too
            raise ValueError(f"fill {fill!r} does not fit a {target} image (range {low}..{high}); "
                             "pass a float image to fill with other values")
    values = values.astype(target).reshape(-1 if values.size > 1 else ())
    if all(type(v) in (int, float) for v in (fill if type(fill) is tuple else (fill,))):
        _last_fill = (fill, n_channels, dtype, values)
    return values


def check_cells(size: int, cells: Any, height: int, width: int) -> None:
    """ValueError unless ``cells`` of grid size ``size`` (pixels; 0: none) fit the image."""
    if size and tuple(cells.shape) != (-(-height // size), -(-width // size)):
        raise ValueError(f"hidden cells of shape {tuple(cells.shape)} (grid {size} px) do not "
                         f"fit a {height}x{width} image; sample them for this image size")


def check_seq(seq: Any, time_axis: Any) -> int:
    """``time_axis`` as a non-negative axis of ``seq`` (a numpy array or torch tensor)."""
    if not (isinstance(seq, np.ndarray) or is_tensor(seq)):
        raise ValueError(f"seq must be a numpy array or a torch tensor, got "
                         f"{type(seq).__name__} (stack a list of frames first)")
    if isinstance(time_axis, bool) or not isinstance(time_axis, numbers.Integral) or not (
            -seq.ndim <= time_axis < seq.ndim):
        raise ValueError(f"time_axis {time_axis!r} is not an axis of seq {tuple(seq.shape)}")
    return int(time_axis) % seq.ndim


def check_steps(hidden: Any, length: int) -> np.ndarray:
    """``hidden`` as a numpy bool (length,) array; ValueError unless it is one."""
    hidden = np.asarray(hidden.cpu() if is_tensor(hidden) else hidden)
    if hidden.shape != (length,) or hidden.dtype != bool:
        raise ValueError(f"hidden must be bool ({length},), got {hidden.dtype} {hidden.shape}")
    return hidden
