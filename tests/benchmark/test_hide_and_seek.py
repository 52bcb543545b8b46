"""Properties of the Hide-and-Seek core (benchmark/hide_and_seek.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.hide_and_seek import (
    DEFAULT_GRID_SIZES,
    CellSampler,
    HiddenCells,
    apply_hidden_cells,
    apply_hidden_steps,
    expand_hidden_cells,
    hide_frames,
    hide_patches,
    hide_patches_batch,
    sample_hidden_cells,
    sample_hidden_steps,
    sample_hide_mask,
)

SHAPES = [(224, 224), (256, 128), (37, 61), (61, 37), (16, 16), (1, 5)]
#: Deviations beyond this many binomial standard deviations fail a statistical check
#: (two-sided probability of a false alarm ~ 6e-7 per check).
Z = 5.0


def reference_mask(height, width, grid_sizes, hide_prob, seed):
    """The rule, written independently: draw a size, then one uniform per cell, row-major."""
    rng = np.random.default_rng(seed)
    size = grid_sizes[math.floor(rng.random() * len(grid_sizes))]
    mask = np.zeros((height, width), dtype=bool)
    if size == 0:
        return mask
    draws = rng.random((math.ceil(height / size), math.ceil(width / size)))
    for y in range(height):
        for x in range(width):
            mask[y, x] = draws[y // size, x // size] < hide_prob
    return mask


def batch_masks(n, height, width, grid_sizes, hide_prob, generator):
    """The pixels ``hide_patches_batch`` hides, bool (n, height, width), read off its output."""
    ones = torch.ones(n, 1, height, width)
    return hide_patches_batch(ones, grid_sizes, hide_prob, fill=0.0, generator=generator)[:, 0] == 0


def binomial_ok(successes, trials, p):
    std = math.sqrt(p * (1 - p) / trials)
    return abs(successes / trials - p) <= Z * std


# ----------------------------------------------------------------------------- masks


@pytest.mark.parametrize("shape", [(37, 61), (61, 37), (64, 48)])
@pytest.mark.parametrize("grid_sizes", [(16,), (5, 7), (0, 16, 32, 44, 56), (1,)])
def test_seeded_mask_matches_independent_reference(shape, grid_sizes):
    for seed in range(4):
        got = sample_hide_mask(*shape, grid_sizes=grid_sizes, hide_prob=0.5, rng=seed)
        want = reference_mask(*shape, grid_sizes, 0.5, seed)
        assert got.dtype == bool and got.shape == shape
        np.testing.assert_array_equal(got, want)


def test_large_images_match_reference_on_all_grid_sizes():
    for height, width in [(224, 224), (256, 128)]:
        for size in DEFAULT_GRID_SIZES:
            got = sample_hide_mask(height, width, (size,), 0.5, rng=size + 1)
            np.testing.assert_array_equal(got, reference_mask(height, width, (size,), 0.5,
                                                              size + 1))


def test_same_seed_same_mask_and_generators_work():
    a = sample_hide_mask(224, 224, rng=123)
    b = sample_hide_mask(224, 224, rng=np.random.default_rng(123))
    np.testing.assert_array_equal(a, b)
    masks = {sample_hide_mask(224, 224, (16,), rng=s).tobytes() for s in range(10)}
    assert len(masks) == 10
    np.random.seed(7)
    c = sample_hide_mask(50, 70, (8,))
    np.random.seed(7)
    np.testing.assert_array_equal(c, sample_hide_mask(50, 70, (8,)))
    state = np.random.RandomState(3)
    d = sample_hide_mask(50, 70, (8,), rng=state)
    np.testing.assert_array_equal(d, sample_hide_mask(50, 70, (8,), rng=np.random.RandomState(3)))


@pytest.mark.parametrize("shape", SHAPES)
def test_grid_anchored_at_origin_with_partial_edge_cells(shape):
    height, width = shape
    size = 16
    rows, cols = math.ceil(height / size), math.ceil(width / size)
    for r, c in [(0, 0), (rows - 1, cols - 1), (rows - 1, 0), (0, cols - 1)]:
        cells = np.zeros((rows, cols), dtype=bool)
        cells[r, c] = True
        mask = expand_hidden_cells(HiddenCells(size, cells), height, width)
        want = np.zeros(shape, dtype=bool)
        want[r * size:min((r + 1) * size, height), c * size:min((c + 1) * size, width)] = True
        np.testing.assert_array_equal(mask, want)
    # every pixel belongs to exactly one cell: all hidden -> whole image hidden
    full = expand_hidden_cells(HiddenCells(size, np.ones((rows, cols), bool)), height, width)
    assert full.all()


def test_partial_edge_cell_size_on_37x61():
    mask = sample_hide_mask(37, 61, (16,), hide_prob=1.0, rng=0)
    assert mask.all()
    hidden = sample_hidden_cells(37, 61, (16,), 0.5, rng=0)
    assert hidden.grid_size_px == 16 and hidden.cells.shape == (3, 4)  # 37 = 16+16+5, 61 = 3*16+13


def test_grid_zero_hides_nothing():
    img = np.arange(37 * 61 * 3, dtype=np.uint8).reshape(37, 61, 3)
    assert not sample_hide_mask(37, 61, (0,), hide_prob=1.0, rng=0).any()
    out = hide_patches(img, (0,), hide_prob=1.0, fill=255, rng=0)
    np.testing.assert_array_equal(out, img)
    assert out is not img and not np.shares_memory(out, img)
    assert sample_hidden_cells(37, 61, (0,), 1.0, rng=0).grid_size_px == 0


def test_hide_prob_extremes():
    assert not sample_hide_mask(64, 64, (16,), hide_prob=0.0, rng=1).any()
    assert sample_hide_mask(64, 64, (16,), hide_prob=1.0, rng=1).all()


@pytest.mark.parametrize("hide_prob", [0.5, 0.25])
def test_hidden_fraction_matches_hide_prob(hide_prob):
    rng = np.random.default_rng(0)
    hidden = trials = 0
    for _ in range(100):
        draw = sample_hidden_cells(224, 224, (16,), hide_prob, rng)
        hidden += int(draw.cells.sum())
        trials += draw.cells.size
    assert binomial_ok(hidden, trials, hide_prob), hidden / trials


def test_every_grid_size_drawn_uniformly():
    rng = np.random.default_rng(1)
    n = 1000
    sizes = [sample_hidden_cells(224, 224, rng=rng).grid_size_px for _ in range(n)]
    for size in DEFAULT_GRID_SIZES:
        assert binomial_ok(sizes.count(size), n, 1 / len(DEFAULT_GRID_SIZES)), (size, sizes.count(
            size))


# ----------------------------------------------------------------------------- images


def reference_hide(img, mask, fill):
    out = img.copy()
    out[mask] = fill
    return out


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int16])
@pytest.mark.parametrize("shape", [(224, 224), (256, 128), (37, 61)])
def test_fill_exact_per_channel_and_scalar(dtype, shape):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (*shape, 3)).astype(dtype)
    for fill in (0, 77, (10, 20, 30)):
        for seed in range(3):
            mask = sample_hide_mask(*shape, grid_sizes=(16, 44), rng=seed)
            out = hide_patches(img, (16, 44), fill=fill, rng=seed)
            assert type(out) is np.ndarray and out.dtype == img.dtype and out.shape == img.shape
            np.testing.assert_array_equal(out, reference_hide(img, mask, fill))


def test_float_fill_is_bit_exact_and_uint8_fill_rounds():
    img = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    mean = (123.675, 116.28, 103.53)
    out = hide_patches(img, (8,), hide_prob=1.0, fill=mean, rng=0)
    np.testing.assert_array_equal(out, np.broadcast_to(np.float32(mean), img.shape))
    out8 = hide_patches(img.astype(np.uint8), (8,), hide_prob=1.0, fill=mean, rng=0)
    np.testing.assert_array_equal(out8[0, 0], [124, 116, 104])


def test_input_never_modified_and_output_is_new():
    rng = np.random.default_rng(0)
    for img in (rng.integers(0, 256, (64, 48, 3), dtype=np.uint8),
                rng.random((64, 48)).astype(np.float32),
                np.asfortranarray(rng.random((64, 48, 3)))):
        before = img.copy()
        out = hide_patches(img, (8,), hide_prob=1.0, fill=3, rng=0)
        np.testing.assert_array_equal(img, before)
        assert not np.shares_memory(out, img)
    t = torch.rand(3, 64, 48)
    before_t = t.clone()
    out_t = hide_patches(t, (8,), hide_prob=1.0, fill=0.5, rng=0, channel_axis=0)
    assert torch.equal(t, before_t) and out_t.data_ptr() != t.data_ptr()


def test_grayscale_and_channel_first_numpy():
    img = np.random.default_rng(0).integers(0, 256, (37, 61, 3), dtype=np.uint8)
    mask = sample_hide_mask(37, 61, (8,), rng=5)
    gray = hide_patches(img[..., 0], (8,), fill=9, rng=5)
    np.testing.assert_array_equal(gray, reference_hide(img[..., 0], mask, 9))
    chw = hide_patches(np.ascontiguousarray(img.transpose(2, 0, 1)), (8,), fill=(1, 2, 3), rng=5,
                       channel_axis=0)
    np.testing.assert_array_equal(chw.transpose(1, 2, 0), reference_hide(img, mask, (1, 2, 3)))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float16])
def test_torch_chw_matches_numpy_path(dtype):
    img = np.random.default_rng(0).integers(0, 256, (37, 61, 3), dtype=np.uint8)
    chw = torch.from_numpy(img.transpose(2, 0, 1).copy()).to(dtype)
    for seed in range(3):
        out = hide_patches(chw, (8, 16), fill=(1, 2, 3), rng=seed, channel_axis=0)
        assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == chw.shape
        mask = sample_hide_mask(37, 61, (8, 16), rng=seed)
        want = reference_hide(img, mask, (1, 2, 3)).transpose(2, 0, 1)
        np.testing.assert_array_equal(out.to(torch.uint8).numpy(), want)
    hwc = hide_patches(torch.from_numpy(img), (8,), fill=7, rng=1)
    np.testing.assert_array_equal(hwc.numpy(), reference_hide(img, sample_hide_mask(37, 61, (8,),
                                                                                    rng=1), 7))


def test_apply_functions_are_pure():
    img = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    hidden = sample_hidden_cells(40, 30, (7,), 0.5, rng=2)
    a = apply_hidden_cells(img, hidden, fill=5)
    b = apply_hidden_cells(img, hidden, fill=5)
    c = np.where(expand_hidden_cells(hidden, 40, 30)[..., None], np.uint8(5), img)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


# ----------------------------------------------------------------------------- batch


def test_batch_preserves_type_and_input_and_fills_exactly():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 37, 61)
    before = x.clone()
    fill = (0.25, -1.0, 2.0)
    out = hide_patches_batch(x, (8, 16), fill=fill, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, before)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    hidden = out != x
    mask = hidden.any(1)
    # a hidden pixel is hidden in every channel, and holds exactly the fill
    for c, value in enumerate(fill):
        assert torch.all(out[:, c][mask] == value)
        assert torch.equal(out[:, c][~mask], x[:, c][~mask])


def test_batch_masks_are_independent_grid_masks():
    n, height, width = 64, 37, 61
    gen = torch.Generator().manual_seed(1)
    masks = batch_masks(n, height, width, (0, 5, 16), 0.5, gen)
    assert masks.shape == (n, height, width) and masks.dtype == torch.bool
    distinct = {m.numpy().tobytes() for m in masks}
    assert len(distinct) > n // 2  # independent draws per sample (not one shared mask)
    for m in masks.numpy():
        # each mask must be the expansion of its own cells for one of the grid sizes
        fits = [s for s in (0, 5, 16) if np.array_equal(
            m, expand_hidden_cells(HiddenCells(s, m[::s, ::s] if s else np.zeros((0, 0), bool)),
                                   height, width))]
        assert fits, "mask is not constant on a grid anchored at (0, 0)"


def test_batch_statistics_and_reproducibility():
    n = 400
    gen = torch.Generator().manual_seed(2)
    masks = batch_masks(n, 64, 64, (16,), 0.5, gen)
    hidden_cells = int(masks[:, ::16, ::16].sum())
    assert binomial_ok(hidden_cells, n * 16, 0.5)
    zero = batch_masks(n, 64, 64, (0, 16), 0.5, gen)
    assert binomial_ok(int((~zero.flatten(1).any(1)).sum()), n, 0.5 + 0.5 * 0.5 ** 16)
    a = hide_patches_batch(torch.ones(4, 3, 32, 32), generator=torch.Generator().manual_seed(9))
    b = hide_patches_batch(torch.ones(4, 3, 32, 32), generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)


def replayed_draws(device, seed, n, height, width, sizes, hide_prob):
    """The draws ``hide_patches_batch`` documents, from a ``device`` generator seeded ``seed``:
    (grid size index per sample, hidden cells of the smallest size), on the CPU."""
    generator = torch.Generator(device).manual_seed(seed)
    drawn = torch.randint(len(sizes), (n,), generator=generator, device=device)
    smallest = min(s for s in sizes if s)
    cells = torch.rand((n, -(-height // smallest), -(-width // smallest)), generator=generator,
                       device=device) < hide_prob
    return drawn.cpu().tolist(), cells.cpu().numpy()


@pytest.mark.parametrize("fill", [0.0, (1, 2, 3)], ids=["zero", "per-channel"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.uint8],
                         ids=["float32", "float16", "uint8"])
def test_batch_on_the_device_is_the_cpu_result_of_its_draws(device, dtype, fill):
    """On ``device`` (the ``device`` fixture: CPU, and CUDA where there is one) the batch is
    hidden there, and exactly as the per-image CPU path hides the cells it drew.

    The draws are replayed from a generator of the same seed on the device, in the order the
    docstring gives (a size per sample, then the cells of the smallest size); a CUDA generator
    draws other numbers than a CPU one, so the masks, not the seed, are what CPU and CUDA share.
    """
    n, height, width, sizes = 8, 37, 50, (0, 8, 16)
    # the first seed whose draws hold every grid size (0: a sample left whole)
    seed = next(s for s in range(100) if set(
        replayed_draws(device, s, n, height, width, sizes, 0.5)[0]) == {0, 1, 2})
    drawn, cells = replayed_draws(device, seed, n, height, width, sizes, 0.5)
    values = torch.randint(4, 256, (n, 3, height, width),
                           generator=torch.Generator().manual_seed(0))
    x = values.to(dtype).to(device)
    before = x.clone()
    out = hide_patches_batch(x, sizes, 0.5, fill=fill,
                             generator=torch.Generator(device).manual_seed(seed))
    assert out.device == x.device and out.dtype == dtype and torch.equal(x, before)
    again = hide_patches_batch(x, sizes, 0.5, fill=fill,
                               generator=torch.Generator(device).manual_seed(seed))
    assert torch.equal(again, out)  # same seed on the device: same batch
    x_cpu, out_cpu = x.cpu(), out.cpu()
    for i, k in enumerate(drawn):
        size = sizes[k]
        rows, cols = (-(-height // size), -(-width // size)) if size else (0, 0)
        want = apply_hidden_cells(x_cpu[i], HiddenCells(size, cells[i, :rows, :cols]), fill,
                                  channel_axis=0)
        assert torch.equal(out_cpu[i], want), f"sample {i} (grid {size} px) differs from the CPU"
    assert not torch.equal(out_cpu, x_cpu)


def test_batch_uint8():
    x = torch.randint(0, 255, (3, 3, 20, 20), dtype=torch.uint8)
    out = hide_patches_batch(x, (4,), hide_prob=1.0, fill=(1, 2, 3))
    assert out.dtype == torch.uint8 and out[:, 2].eq(3).all()


# ----------------------------------------------------------------------------- frames


def test_hide_frames_segments_match_reference():
    rng_ref = np.random.default_rng(4)
    length, seg = 10, 3
    want = np.repeat(rng_ref.random(math.ceil(length / seg)) < 0.5, seg)[:length]
    got = sample_hidden_steps(length, 0.5, rng=4, segment_len=seg)
    np.testing.assert_array_equal(got, want)
    for seed in range(20):
        steps = sample_hidden_steps(length, 0.5, rng=seed, segment_len=seg)
        for start in range(0, length, seg):
            assert len(set(steps[start:start + seg].tolist())) == 1


def test_hide_frames_numpy_clip_and_torch_features():
    frames = np.random.default_rng(0).integers(1, 256, (9, 8, 6, 3), dtype=np.uint8)
    before = frames.copy()
    out = hide_frames(frames, 0.5, fill=(1, 2, 3), rng=3, segment_len=2)
    hidden = sample_hidden_steps(9, 0.5, rng=3, segment_len=2)
    assert out.dtype == np.uint8 and out.shape == frames.shape
    np.testing.assert_array_equal(frames, before)
    np.testing.assert_array_equal(out[hidden], np.broadcast_to([1, 2, 3], out[hidden].shape))
    np.testing.assert_array_equal(out[~hidden], frames[~hidden])

    feats = torch.rand(12, 5)
    out_t = hide_frames(feats, 0.5, fill=0.0, rng=1)
    hidden_t = torch.from_numpy(sample_hidden_steps(12, 0.5, rng=1))
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == feats.dtype
    assert torch.all(out_t[hidden_t] == 0) and torch.equal(out_t[~hidden_t], feats[~hidden_t])

    d_t = hide_frames(feats.T.contiguous(), 0.5, fill=0.0, rng=1, time_axis=1)
    assert torch.equal(d_t, out_t.T)
    assert hide_frames(feats, 1.0).eq(0).all() and torch.equal(hide_frames(feats, 0.0), feats)


def test_hide_frames_statistics():
    n = 5000
    hidden = sample_hidden_steps(n, 0.3, rng=0)
    assert binomial_ok(int(hidden.sum()), n, 0.3)


# ----------------------------------------------------------------------------- bad arguments

IMG = np.zeros((32, 32, 3), dtype=np.uint8)


def read_only(array):
    """``array``, made read-only."""
    array.flags.writeable = False
    return array


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: sample_hide_mask(32, 32, hide_prob=-0.1), "hide_prob"),
        (lambda: sample_hide_mask(32, 32, hide_prob=1.5), "hide_prob"),
        (lambda: sample_hide_mask(32, 32, hide_prob="0.5"), "hide_prob"),
        (lambda: sample_hide_mask(32, 32, hide_prob=True), "hide_prob"),
        (lambda: sample_hide_mask(32, 32, grid_sizes=()), "grid_sizes"),
        (lambda: sample_hide_mask(32, 32, grid_sizes=(-16,)), "grid_sizes"),
        (lambda: sample_hide_mask(32, 32, grid_sizes=(16.5,)), "grid_sizes"),
        (lambda: sample_hide_mask(32, 32, grid_sizes=16), "grid_sizes"),
        (lambda: sample_hide_mask(32, 32, grid_sizes="16"), "grid_sizes"),
        (lambda: sample_hide_mask(0, 32), "height"),
        (lambda: sample_hide_mask(32, -1), "width"),
        (lambda: sample_hide_mask(32, 32, rng="seed"), "rng"),
        (lambda: hide_patches(IMG, fill=(1, 2)), "fill"),
        (lambda: hide_patches(IMG, fill=(1, 2, 3, 4)), "fill"),
        (lambda: hide_patches(IMG, fill="mean"), "fill"),
        (lambda: hide_patches(IMG, fill=300), "fill"),
        (lambda: hide_patches(IMG, fill=-1), "fill"),
        (lambda: hide_patches(IMG[..., 0], fill=(1, 2, 3)), "fill"),
        (lambda: hide_patches(IMG, channel_axis=1), "channel_axis"),
        (lambda: hide_patches(IMG[None]), "img"),
        (lambda: hide_patches([[1, 2]]), "img"),
        (lambda: hide_patches(IMG, hide_prob=2), "hide_prob"),
        (lambda: hide_patches_batch(torch.zeros(3, 8, 8)), "x"),
        (lambda: hide_patches_batch(torch.zeros(2, 3, 8, 8), fill=(1, 2)), "fill"),
        (lambda: hide_patches_batch(torch.zeros(2, 3, 8, 8), grid_sizes=()), "grid_sizes"),
        (lambda: hide_patches_batch(torch.zeros(2, 3, 8, 8), hide_prob=-1), "hide_prob"),
        (lambda: hide_frames(np.zeros((4, 3)), hide_prob=1.1), "hide_prob"),
        (lambda: hide_frames(np.zeros((4, 3)), segment_len=0), "segment_len"),
        (lambda: hide_frames(np.zeros((4, 3)), time_axis=2), "time_axis"),
        (lambda: hide_frames(np.zeros((4, 3)), fill=(1, 2)), "fill"),
        (lambda: hide_frames([np.zeros(3)] * 4), "seq"),
        (lambda: apply_hidden_cells(IMG, HiddenCells(16, np.ones((3, 3), bool))), "cells"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError) as caught:
        call()
    message = str(caught.value)
    assert name in message.split()[0] or message.startswith(f"hidden {name}") or (
        f"{name}=" in message), message
    assert " got " in message or "fit" in message or "not an axis" in message, message


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sample_hidden_steps(-1), "length must be an int >= 0 (time steps), got -1"),
    (lambda: sample_hidden_steps(4, segment_len=0),
     "segment_len must be an int >= 1 (time steps), got 0"),
    (lambda: sample_hide_mask(0, 32), "height must be an int >= 1 (pixels), got 0"),
    (lambda: sample_hide_mask(32, 32, grid_sizes=(-16,)),
     "grid_sizes must be an int >= 0 (pixels; 0 = not hidden), got -16"),
    (lambda: sample_hide_mask(32, 32, hide_prob=2), "hide_prob must be a number in [0, 1], got 2"),
    (lambda: sample_hide_mask(32, 32, rng="seed"), "rng must be a numpy Generator or "
     "RandomState, an int seed or None (numpy's global state), got str"),
    (lambda: hide_frames([np.zeros(3)] * 4),
     "seq must be a numpy array or a torch tensor, got list (stack a list of frames first)"),
    (lambda: hide_frames(np.zeros((4, 3)), time_axis=2),
     "time_axis 2 is not an axis of seq (4, 3)"),
    (lambda: apply_hidden_steps(np.zeros((4, 3)), np.ones(3, bool)),
     "hidden must be bool (4,), got bool (3,)"),
    (lambda: hide_patches(IMG, fill=300), "fill 300 does not fit a uint8 image (range 0..255); "
     "pass a float image to fill with other values"),
    (lambda: hide_patches(IMG, fill=(1, 2)),
     "fill must be a number or one value per channel (3 here), got (1, 2)"),
    (lambda: apply_hidden_cells(IMG, HiddenCells(16, np.ones((3, 3), bool))),
     "hidden cells of shape (3, 3) (grid 16 px) do not fit a 32x32 image; sample them for this "
     "image size"),
    (lambda: expand_hidden_cells(HiddenCells(16, np.ones((3, 3), bool)), 32, 32),
     "hidden cells of shape (3, 3) (grid 16 px) do not fit a 32x32 image; sample them for this "
     "image size"),
    (lambda: sample_hide_mask(32, 0), "width must be an int >= 1 (pixels), got 0"),
    (lambda: sample_hide_mask(32, 32, grid_sizes=()), "grid_sizes must be a non-empty sequence "
     "of sizes in pixels, e.g. (0, 16, 32, 44, 56), got ()"),
    (lambda: hide_patches(IMG[None]), "img must be a numpy array or torch tensor (H, W), "
     "(H, W, C) with channel_axis=-1 or (C, H, W) with channel_axis=0, got (1, 32, 32, 3), "
     "channel_axis=-1"),
    (lambda: hide_patches([[1, 2]]), "img must be a numpy array or torch tensor (H, W), "
     "(H, W, C) with channel_axis=-1 or (C, H, W) with channel_axis=0, got list, "
     "channel_axis=-1"),
    (lambda: hide_patches(IMG[..., 0], fill=(1, 2)),
     "fill must be a number or one value per channel (1 here), got (1, 2)"),
    (lambda: apply_hidden_cells(read_only(np.zeros((8, 8), np.uint8)),
                                HiddenCells(4, np.ones((2, 2), bool)), inplace=True),
     "inplace=True needs a writeable array; pass inplace=False or a copy"),
    (lambda: hide_patches_batch(torch.zeros(3, 8, 8)),
     "x must be an N x C x H x W torch tensor, got torch.Size([3, 8, 8])"),
    (lambda: hide_patches_batch([1, 2]), "x must be an N x C x H x W torch tensor, got list"),
])
def test_error_messages_say_what_is_wrong_and_what_to_do(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


def test_defaults_are_the_papers():
    """Grid sizes (0, 16, 32, 44, 56) px, hiding probability 0.5, fill 0 (the normalized mean)."""
    import inspect

    for function in (sample_hidden_cells, sample_hide_mask, hide_patches, hide_patches_batch,
                     CellSampler):
        params = inspect.signature(function).parameters
        assert params["grid_sizes"].default == DEFAULT_GRID_SIZES == (0, 16, 32, 44, 56)
        assert params["hide_prob"].default == 0.5
    for function in (sample_hidden_steps, hide_frames):
        assert inspect.signature(function).parameters["hide_prob"].default == 0.5
    for function in (hide_patches, hide_patches_batch, hide_frames, apply_hidden_cells,
                     apply_hidden_steps):
        assert inspect.signature(function).parameters["fill"].default == 0
    assert inspect.signature(sample_hidden_steps).parameters["segment_len"].default == 1


def test_frames_per_channel_fill_with_time_last():
    feats = np.ones((3, 7), dtype=np.float32)  # D x T: time on the last axis
    hidden = np.array([True, False, True, False, False, True, False])
    out = apply_hidden_steps(feats, hidden, fill=(5, 6, 7), time_axis=1)
    np.testing.assert_array_equal(out[:, hidden], np.array([[5] * 3, [6] * 3, [7] * 3]))
    np.testing.assert_array_equal(out[:, ~hidden], 1)
    with pytest.raises(ValueError, match="one value per channel"):
        apply_hidden_steps(feats, hidden, fill=(1,) * 7, time_axis=1)


def test_large_float_image_matches_reference():
    img = np.random.default_rng(0).random((1030, 1100, 3)).astype(np.float32)  # 13.6 MB
    mask = sample_hide_mask(1030, 1100, (56,), rng=3)
    out = hide_patches(img, (56,), fill=(0.5, 1.5, 2.5), rng=3)
    np.testing.assert_array_equal(out, reference_hide(img, mask, (0.5, 1.5, 2.5)))


# ----------------------------------------------------------------------------- in place


def _views(base):
    """Writeable views of ``base`` (H, W, 3) as a pipeline hands them over, with channel axis."""
    return {
        "contiguous": (base, -1),
        "flip_w": (np.flip(base, axis=1), -1),  # mmcv imflip horizontal
        "flip_h": (np.flip(base, axis=0), -1),
        "flip_hw_bgr": (base[::-1, ::-1, ::-1], -1),
        "crop": (base[3:-2, 5:-4], -1),  # rows apart (RandomCrop's view)
        "flipped_crop": (base[3:-2, 5:-4][:, ::-1], -1),
        "every_other_column": (base[:, ::2], -1),  # pixels apart: the per-pixel fallback
        "chw_view": (base.transpose(2, 0, 1), 0),  # channel-first view of HWC memory
        "chw_crop": (np.ascontiguousarray(base.transpose(2, 0, 1))[:, 2:-3, 1:-1], 0),
        # channels reversed (BGR <-> RGB) and flipped, channel first
        "chw_bgr_flip_w": (np.ascontiguousarray(base.transpose(2, 0, 1))[::-1, :, ::-1], 0),
    }


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("view", ["contiguous", "flip_w", "flip_h", "flip_hw_bgr", "crop",
                                  "flipped_crop", "every_other_column", "chw_view", "chw_crop",
                                  "chw_bgr_flip_w"])
def test_inplace_writes_through_any_view_exactly(dtype, view):
    rng = np.random.default_rng(1)
    for grid in ((16,), (7,), (44,), (64,)):  # 64: one cell, cut by both edges
        base = rng.integers(0, 256, (45, 58, 3)).astype(dtype)
        img, axis = _views(base)[view]
        before = img.copy()
        fill = (10, 20, 30)
        hidden = sample_hidden_cells(*(img.shape[1:] if axis == 0 else img.shape[:2]), grid,
                                     0.5, rng=3)
        mask = expand_hidden_cells(hidden, *(img.shape[1:] if axis == 0 else img.shape[:2]))
        fill_px = np.array(fill, dtype=dtype)
        want = (np.where(mask, fill_px[:, None, None], before) if axis == 0
                else np.where(mask[..., None], fill_px, before))
        owner = img
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        owner_before = owner.copy()
        out = apply_hidden_cells(img, hidden, fill, channel_axis=axis, inplace=True)
        assert out is img
        np.testing.assert_array_equal(img, want)
        # Every value changed in the memory is one changed in the view: nothing outside it.
        assert (owner != owner_before).sum() == (img != before).sum() > 0


def test_inplace_torch_and_read_only_and_nothing_hidden():
    img = np.random.default_rng(0).integers(0, 256, (3, 40, 30), dtype=np.uint8)
    hidden = sample_hidden_cells(40, 30, (8,), 0.5, rng=4)
    want = apply_hidden_cells(img, hidden, (1, 2, 3), channel_axis=0)
    for tensor in (torch.from_numpy(img.copy()), torch.from_numpy(img.copy()).float()):
        out = apply_hidden_cells(tensor, hidden, (1, 2, 3), channel_axis=0, inplace=True)
        assert out is tensor
        np.testing.assert_array_equal(tensor.to(torch.uint8).numpy(), want)
    frozen = img.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        apply_hidden_cells(frozen, hidden, 0, channel_axis=0, inplace=True)
    nothing = HiddenCells(0, np.zeros((0, 0), dtype=bool))
    assert apply_hidden_cells(frozen, nothing, 0, channel_axis=0, inplace=True) is frozen


def test_cell_sampler_draws_what_sample_hidden_cells_draws():
    for rng_a, rng_b in ((np.random.default_rng(3), np.random.default_rng(3)),
                         (np.random.RandomState(5), np.random.RandomState(5))):
        sampler = CellSampler((0, 8, 13), 0.3, rng=rng_a)
        for height, width in ((40, 40), (37, 61), (256, 128)) * 4:
            want = sample_hidden_cells(height, width, (0, 8, 13), 0.3, rng=rng_b)
            got = sampler(height, width)
            assert got.grid_size_px == want.grid_size_px
            np.testing.assert_array_equal(got.cells, want.cells)
    np.random.seed(11)
    want = [sample_hidden_cells(30, 50, (4, 9)) for _ in range(5)]
    np.random.seed(11)
    sampler = CellSampler((4, 9))  # numpy's global state, read at each call
    for expected in want:
        got = sampler(30, 50)
        assert got.grid_size_px == expected.grid_size_px
        np.testing.assert_array_equal(got.cells, expected.cells)
    with pytest.raises(ValueError, match="hide_prob"):
        CellSampler(hide_prob=2)
    with pytest.raises(ValueError, match="height"):
        CellSampler()(0, 5)


def _random_view(rng, dtype):
    """A writeable image view as pipelines hand them over, with its channel axis and owner."""
    height, width = (int(v) for v in rng.integers(1, 70, 2))
    channels = int(rng.integers(1, 5))
    owner = rng.integers(0, 100, (height + 4, width + 6, channels)).astype(dtype)
    img = owner[int(rng.integers(0, 3)):height + 2, int(rng.integers(0, 4)):width + 3]
    for axis in (0, 1, 2):
        if rng.random() < 0.3:
            img = np.flip(img, axis)
    layout = rng.integers(0, 3)
    if layout == 0:
        return img, -1, owner
    if layout == 1:
        return img[..., 0], -1, owner  # one plane (H, W)
    return img.transpose(2, 0, 1), 0, owner  # channel first


def test_inplace_writes_exactly_the_hidden_pixels_of_random_views():
    """Only the hidden pixels of the view change in its memory, on 300 random views."""
    rng = np.random.default_rng(7)
    for trial in range(300):
        dtype = (np.uint8, np.int16, np.float16, np.float32, np.float64)[trial % 5]
        img, axis, owner = _random_view(rng, dtype)
        height, width = img.shape[1:] if axis == 0 else img.shape[:2]
        n_fill = 1 if img.ndim == 2 or rng.random() < 0.3 else img.shape[axis]
        fill = tuple(float(v) for v in rng.integers(0, 100, n_fill))
        hidden = sample_hidden_cells(height, width, (int(rng.integers(1, 80)),),
                                     float(rng.choice([0.0, 0.5, 1.0])), rng=trial)
        mask = expand_hidden_cells(hidden, height, width)
        before, owner_before = img.copy(), owner.copy()
        want = img.copy()
        values = np.array(fill, dtype).reshape(-1, 1, 1) if axis == 0 else np.array(fill, dtype)
        np.copyto(want, values, where=mask[None] if axis == 0 else
                  mask[..., None] if img.ndim == 3 else mask)
        apply_hidden_cells(img, hidden, fill, channel_axis=axis, inplace=True)
        assert img.tobytes() == want.tobytes(), (trial, img.shape, img.strides, hidden)
        # Every value changed in the memory is one changed in the view: nothing outside it.
        assert (owner != owner_before).sum() == (img != before).sum()


# ----------------------------------------------------------------------------- draw order


def test_draw_order_is_pinned_for_every_rng_kind():
    """Same seed, same cells: one uniform picks the size, then one per cell (row-major)."""
    sizes = (0, 8, 13)
    for make in (np.random.default_rng, np.random.RandomState):
        ours, ref = make(5), make(5)
        sampler = CellSampler(sizes, 0.4, rng=ours)
        for height, width in [(40, 40), (37, 61), (5, 9)] * 5:
            got = sampler(height, width)
            size = sizes[int(ref.random() * len(sizes))]
            assert got.grid_size_px == size
            if size:
                want = ref.random((math.ceil(height / size), math.ceil(width / size))) < 0.4
                np.testing.assert_array_equal(got.cells, want)
    np.random.seed(3)  # numpy's global state, as mmengine and torchreid seed it
    got = [sample_hidden_cells(30, 50, (4, 9), 0.5) for _ in range(5)]
    np.random.seed(3)
    for hidden in got:
        size = (4, 9)[int(np.random.random() * 2)]
        assert hidden.grid_size_px == size
        np.testing.assert_array_equal(
            hidden.cells, np.random.random((math.ceil(30 / size), math.ceil(50 / size))) < 0.5)


def test_batch_draw_order_is_pinned_and_the_batch_hides_that_mask():
    """torch.randint picks each sample's size, then torch.rand the cells of the smallest."""
    mask = batch_masks(6, 37, 61, (0, 8, 16), 0.5, torch.Generator().manual_seed(4))
    ref = torch.Generator().manual_seed(4)
    sizes = torch.tensor((0, 8, 16))[torch.randint(3, (6,), generator=ref)].tolist()
    cells = (torch.rand((6, 5, 8), generator=ref) < 0.5).numpy()
    assert 0 in sizes and 16 in sizes
    for i, size in enumerate(sizes):
        want = (np.repeat(np.repeat(cells[i], size, 0), size, 1)[:37, :61] if size
                else np.zeros((37, 61), bool))
        np.testing.assert_array_equal(mask[i].numpy(), want)
    x = torch.rand(6, 3, 37, 61)
    fill = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    out = hide_patches_batch(x, (0, 8, 16), 0.5, fill=(1, 2, 3),
                             generator=torch.Generator().manual_seed(4))
    assert torch.equal(out, torch.where(mask[:, None], fill, x))
    inplace = x.clone()
    assert hide_patches_batch(inplace, (0, 8, 16), 0.5, fill=(1, 2, 3), inplace=True,
                              generator=torch.Generator().manual_seed(4)) is inplace
    assert torch.equal(inplace, out)


def test_tensors_numpy_cannot_hold_are_written_by_torch_exactly():
    """bfloat16 (like any CUDA tensor) takes the torch path: the same pixels as through numpy."""
    x = torch.rand(5, 3, 37, 61)
    xb = x.bfloat16()
    for seed in range(4):
        want = hide_patches(xb[0].float(), (5, 16), 0.5, fill=(1, 2, 3), rng=seed, channel_axis=0)
        got = hide_patches(xb[0], (5, 16), 0.5, fill=(1, 2, 3), rng=seed, channel_axis=0)
        assert got.dtype == torch.bfloat16 and torch.equal(got.float(), want)
        hwc = xb[0].permute(1, 2, 0)  # a view, written in place
        hidden = sample_hidden_cells(37, 61, (7,), 0.5, rng=seed)
        want = apply_hidden_cells(hwc.float(), hidden, fill=4)
        assert apply_hidden_cells(hwc, hidden, fill=4, inplace=True) is hwc
        assert torch.equal(hwc.float(), want) and torch.equal(xb[0].permute(1, 2, 0), hwc)
        want = hide_patches_batch(xb.float(), (0, 5, 16), fill=(1, 2, 3),
                                  generator=torch.Generator().manual_seed(seed))
        got = hide_patches_batch(xb, (0, 5, 16), fill=(1, 2, 3),
                                 generator=torch.Generator().manual_seed(seed))
        assert got.dtype == torch.bfloat16 and torch.equal(got.float(), want)
        assert (got != xb).any()



class FixedDraws(np.random.RandomState):
    """A RandomState whose draws are ``values`` (then 0.5): pins the strict ``u < hide_prob``."""

    def __init__(self, values):
        super().__init__(0)
        self.values = list(values)

    def random(self, size=None):
        if size is None:
            return self.values.pop(0)
        count = int(np.prod(size))
        drawn, self.values = self.values[:count], self.values[count:]
        return np.array(drawn + [0.5] * (count - len(drawn))).reshape(size)


def test_a_cell_is_hidden_only_when_its_draw_is_below_hide_prob(monkeypatch):
    hidden = sample_hidden_cells(4, 4, (2,), 0.5, rng=FixedDraws([0.0, 0.5, 0.4999, 0.5, 0.7]))
    assert hidden.grid_size_px == 2 and hidden.cells.tolist() == [[False, True], [False, False]]
    steps = sample_hidden_steps(3, 0.5, rng=FixedDraws([0.5, 0.25, 0.75]))
    assert steps.tolist() == [False, True, False]
    nothing = sample_hidden_cells(4, 4, (0, 2), 0.5, rng=FixedDraws([0.3]))
    assert nothing.grid_size_px == 0 and nothing.cells.shape == (0, 0)
    assert nothing.cells.dtype == bool
    monkeypatch.setattr(torch, "rand", lambda shape, **kw: torch.full(shape, 0.5))
    out = hide_patches_batch(torch.ones(2, 1, 4, 4), (2,), 0.5, fill=0)
    assert torch.equal(out, torch.ones(2, 1, 4, 4))  # every draw equals hide_prob: none hidden
    assert hide_patches_batch(torch.ones(2, 1, 4, 4), (2,), 0.51, fill=0).eq(0).all()


def test_defaults_hide_as_the_paper_does():
    """Called with defaults: grid sizes (0, 16, 32, 44, 56) px, probability 0.5, fill 0."""
    img = np.random.default_rng(0).integers(1, 255, (64, 48, 3), dtype=np.uint8)
    for seed in range(6):
        explicit = hide_patches(img, DEFAULT_GRID_SIZES, 0.5, 0, rng=seed)
        np.testing.assert_array_equal(hide_patches(img, rng=seed), explicit)
        hidden = sample_hidden_cells(64, 48, rng=seed)
        np.testing.assert_array_equal(apply_hidden_cells(img, hidden), explicit)
        np.testing.assert_array_equal(sample_hidden_steps(9, rng=seed),
                                      sample_hidden_steps(9, 0.5, seed, 1))
        seq = np.ones((9, 2), np.float32)
        np.testing.assert_array_equal(hide_frames(seq, rng=seed),
                                      hide_frames(seq, 0.5, 0.0, seed))
        steps = sample_hidden_steps(9, rng=seed)
        np.testing.assert_array_equal(apply_hidden_steps(seq, steps), hide_frames(seq, 0.5, 0.0,
                                                                                  seed))
        x = torch.rand(3, 2, 16, 16) + 1
        assert torch.equal(hide_patches_batch(x, generator=torch.Generator().manual_seed(seed)),
                           hide_patches_batch(x, DEFAULT_GRID_SIZES, 0.5, 0.0,
                                              torch.Generator().manual_seed(seed)))


def test_layouts_numpy_shares_are_written_in_one_pass(monkeypatch):
    """Flipped views, reversed channels and CPU tensors go through the numpy writer without a
    compact copy; a view with gaps between pixels takes the copy (and is still exact)."""
    import benchmark.hide_and_seek as core

    calls = []
    fill_cells = core._fill_cells
    monkeypatch.setattr(core, "_fill_cells", lambda *a: calls.append(1) or fill_cells(*a))
    img = np.random.default_rng(0).integers(0, 255, (40, 44, 3), dtype=np.uint8)
    hidden = sample_hidden_cells(40, 44, (6,), 0.5, rng=1)
    want = apply_hidden_cells(img, hidden, (1, 2, 3))
    views = {"flipped x": lambda a: a[:, ::-1], "flipped y": lambda a: a[::-1],
             "bgr view": lambda a: a[..., ::-1], "all flipped": lambda a: a[::-1, ::-1, ::-1]}
    for name, view in views.items():
        target = view(img.copy())
        want_view = apply_hidden_cells(np.ascontiguousarray(target), hidden, (1, 2, 3))
        calls.clear()
        assert apply_hidden_cells(target, hidden, (1, 2, 3), inplace=True) is target
        assert len(calls) == 1, f"{name}: {len(calls)} writes (a compact copy was made)"
        np.testing.assert_array_equal(target, want_view)
    calls.clear()
    tensor = torch.from_numpy(img.copy()).permute(2, 0, 1)
    out = apply_hidden_cells(tensor, hidden, (1, 2, 3), channel_axis=0)
    assert len(calls) == 1 and out.is_contiguous()  # numpy's dtype: through numpy, new = dense
    assert torch.equal(out.permute(1, 2, 0), torch.from_numpy(want))
    calls.clear()
    gaps = np.zeros((40, 88, 3), np.uint8)[:, ::2]
    apply_hidden_cells(gaps, hidden, (1, 2, 3), inplace=True)
    assert len(calls) == 2  # pixels apart in memory: written into a compact copy, copied back
    np.testing.assert_array_equal(gaps, apply_hidden_cells(np.zeros((40, 44, 3), np.uint8),
                                                           hidden, (1, 2, 3)))


def test_channel_axis_spellings_and_fill_forms():
    img = np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    chw = np.ascontiguousarray(img.transpose(2, 0, 1))
    for seed in range(3):
        want = hide_patches(img, (5,), 0.5, (1, 2, 3), rng=seed)
        np.testing.assert_array_equal(hide_patches(img, (5,), 0.5, (1, 2, 3), seed, 2), want)
        np.testing.assert_array_equal(
            hide_patches(chw, (5,), 0.5, (1, 2, 3), seed, -3).transpose(1, 2, 0), want)
        np.testing.assert_array_equal(hide_patches(img, (5,), 0.5, [7], seed),
                                      hide_patches(img, (5,), 0.5, 7, seed))
        grad_fill = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        np.testing.assert_array_equal(hide_patches(img, (5,), 0.5, grad_fill, seed), want)
    for axis in (3, -4, 1):
        with pytest.raises(ValueError, match="channel_axis"):
            hide_patches(img, channel_axis=axis)
    with pytest.raises(ValueError, match="one value per channel"):
        hide_patches(img, fill=np.ones((1, 3)))
    signed = np.zeros((8, 8), np.int16)
    assert hide_patches(signed, (8,), 1.0, fill=-5).min() == -5
    with pytest.raises(ValueError, match="does not fit a int16 image"):
        hide_patches(signed, (8,), 1.0, fill=40000)
    mask = np.zeros((8, 8, 2), bool)
    assert hide_patches(mask, (4,), 1.0, fill=1).all()
    with pytest.raises(ValueError, match="does not fit a bool image"):
        hide_patches(mask, (4,), 1.0, fill=2)


def test_time_steps_check_their_axis_and_round_their_fill():
    seq = np.ones((5, 3), np.uint8)
    hidden = np.array([True, False, True, False, False])
    np.testing.assert_array_equal(apply_hidden_steps(seq, hidden, (4, 5, 6))[hidden],
                                  [[4, 5, 6]] * 2)  # per channel, time first
    np.testing.assert_array_equal(apply_hidden_steps(seq, hidden, 2.6)[hidden], 3)  # rounded
    with pytest.raises(ValueError, match="does not fit a uint8"):
        apply_hidden_steps(seq, hidden, 300)
    line = np.ones(5, np.float32)  # one value per step
    np.testing.assert_array_equal(apply_hidden_steps(line, hidden, 0.0), [0, 1, 0, 1, 1])
    np.testing.assert_array_equal(hide_frames(seq, 1.0, 0, rng=0, time_axis=-2), 0)
    for axis in (1.5, True, -3):
        with pytest.raises(ValueError, match="time_axis"):
            hide_frames(seq, time_axis=axis)
    assert apply_hidden_steps(torch.ones(5, 3), torch.from_numpy(hidden), 0.0)[hidden].eq(0).all()
