"""Property-based tests of the HaS core (hypothesis): any shape, dtype, layout, grid and rate."""

from __future__ import annotations

import os

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.hide_and_seek import (
    apply_hidden_cells,
    expand_hidden_cells,
    hide_frames,
    hide_patches,
    hide_patches_batch,
    sample_hidden_cells,
    sample_hidden_steps,
)

DTYPES = [np.uint8, np.int16, np.float16, np.float32, np.float64]
#: Examples per property (``make mutation`` runs fewer: each mutant runs these tests again).
SETTINGS = settings(max_examples=int(os.environ.get("HASBENCH_PROPERTY_EXAMPLES", "50")),
                    deadline=None)


@st.composite
def images(draw):
    """(image, channel_axis, fill): numpy or torch, (H, W) / (H, W, C) / (C, H, W), any view."""
    height, width = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    layout = draw(st.sampled_from(["hw", "hwc", "chw"]))
    channels = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(DTYPES))
    shape = {"hw": (height, width), "hwc": (height, width, channels),
             "chw": (channels, height, width)}[layout]
    seed = draw(st.integers(0, 2**16))
    img = (np.random.default_rng(seed).random(shape) * 200).astype(dtype)
    flips = draw(st.sampled_from([(), (0,), (1,), (0, 1)]))
    img = np.flip(img, axis=tuple(a + (layout == "chw") for a in flips)) if flips else img
    if layout != "hw" and draw(st.booleans()):
        fill = tuple(draw(st.integers(0, 255)) for _ in range(channels))
    else:
        fill = draw(st.integers(0, 255) | st.floats(0, 255)) if dtype != np.int16 else 7
    if draw(st.booleans()):
        img = torch.from_numpy(img.copy())
    return img, 0 if layout == "chw" else -1, fill


def expected(img, axis, hidden, fill):
    """The rule, spelled out with numpy: the cells' pixels take the (rounded) fill."""
    array = img.numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    hwc = np.moveaxis(array, 0, -1) if axis == 0 else array if array.ndim == 3 else array[..., None]
    size, cells = hidden
    mask = np.zeros(hwc.shape[:2], bool)
    if size:
        rows, cols = np.indices(hwc.shape[:2])
        mask = cells[rows // size, cols // size]
    value = np.asarray(fill, dtype=np.float64)
    if hwc.dtype.kind in "iu":
        value = np.rint(value)
    out = hwc.copy()
    out[mask] = value.astype(hwc.dtype)
    return (np.moveaxis(out, -1, 0) if axis == 0 else out if array.ndim == 3 else out[..., 0]), mask


@given(images(), st.lists(st.integers(0, 80), min_size=1, max_size=4),
       st.floats(0, 1), st.integers(0, 2**31))
@SETTINGS
def test_hidden_pixels_take_the_fill_and_the_rest_is_untouched(case, grid_sizes, hide_prob, seed):
    img, axis, fill = case
    before = img.clone() if isinstance(img, torch.Tensor) else img.copy()
    out = hide_patches(img, tuple(grid_sizes), hide_prob, fill, rng=seed, channel_axis=axis)
    height, width = (img.shape[1:] if axis == 0 else img.shape[:2])
    hidden = sample_hidden_cells(height, width, tuple(grid_sizes), hide_prob, rng=seed)
    want, mask = expected(img, axis, hidden, fill)
    got = out.numpy() if isinstance(out, torch.Tensor) else out
    assert type(out) is type(img) and got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(expand_hidden_cells(hidden, height, width), mask)
    np.testing.assert_array_equal(np.asarray(img), np.asarray(before))  # input untouched
    again = hide_patches(img, tuple(grid_sizes), hide_prob, fill, rng=seed, channel_axis=axis)
    np.testing.assert_array_equal(np.asarray(again), got)  # same seed, same result


@given(images(), st.integers(1, 40), st.integers(0, 2**31))
@SETTINGS
def test_in_place_writes_exactly_what_a_copy_gets_through_any_view(case, size, seed):
    img, axis, fill = case
    height, width = (img.shape[1:] if axis == 0 else img.shape[:2])
    hidden = sample_hidden_cells(height, width, (size,), 0.5, rng=seed)
    copy = apply_hidden_cells(img, hidden, fill, axis)
    target = img.clone() if isinstance(img, torch.Tensor) else np.flip(np.flip(img, 0).copy(), 0)
    assert apply_hidden_cells(target, hidden, fill, axis, inplace=True) is target
    np.testing.assert_array_equal(np.asarray(target), np.asarray(copy))


@given(st.integers(0, 6), st.integers(1, 3), st.integers(1, 40), st.integers(1, 40),
       st.lists(st.integers(0, 24), min_size=1, max_size=4), st.floats(0, 1),
       st.integers(0, 2**31), st.sampled_from([torch.float32, torch.uint8, torch.bfloat16]))
@SETTINGS
def test_batch_hides_each_sample_by_the_torch_draws(n, channels, height, width, grid_sizes,
                                                    hide_prob, seed, dtype):
    x = (torch.rand(n, channels, height, width, generator=torch.Generator().manual_seed(1))
         * 100).to(dtype)
    sizes = tuple(grid_sizes)
    out = hide_patches_batch(x, sizes, hide_prob, fill=3,
                             generator=torch.Generator().manual_seed(seed))
    want = x.clone()
    if n and any(sizes):
        draws = torch.Generator().manual_seed(seed)
        drawn = torch.randint(len(sizes), (n,), generator=draws).tolist()
        smallest = min(s for s in sizes if s)
        cells = torch.rand((n, -(-height // smallest), -(-width // smallest)), generator=draws)
        for i, pick in enumerate(drawn):
            size = sizes[pick]
            if size:
                rows, cols = np.indices((height, width))
                mask = (cells[i].numpy() < hide_prob)[rows // size, cols // size]
                want[i][:, torch.from_numpy(mask)] = 3
    assert out.dtype == dtype and torch.equal(out, want)


@given(st.integers(0, 30), st.integers(1, 5), st.floats(0, 1), st.integers(0, 2**31))
@SETTINGS
def test_frames_hide_whole_segments(length, segment_len, hide_prob, seed):
    seq = np.random.default_rng(0).random((length, 3)).astype(np.float32) + 1
    hidden = sample_hidden_steps(length, hide_prob, seed, segment_len)
    out = hide_frames(seq, hide_prob, 0.0, rng=seed, segment_len=segment_len)
    assert hidden.shape == (length,)
    for start in range(0, length, segment_len):  # one draw per segment
        assert len(set(hidden[start:start + segment_len].tolist())) <= 1
    np.testing.assert_array_equal(out[hidden], 0)
    np.testing.assert_array_equal(out[~hidden], seq[~hidden])
