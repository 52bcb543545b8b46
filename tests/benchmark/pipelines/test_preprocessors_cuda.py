"""The HaS data preprocessors on the model's device (``has_placement=preprocessor``).

Each test runs on the CPU and, marked ``cuda``, on a CUDA device (the ``device`` fixture). A
batch from the data loader (uint8, on the CPU) goes through the preprocessor moved to the
device, as the Runner does; the output must stay there, hold exactly the fill in the hidden
cells and the library's own preprocessor output elsewhere, and evaluation is never hidden.
The masks are those the module promises: drawn by a generator of HaS's own on the batch's
device, seeded from torch's initial seed and the rank -- so a rerun with the seed on the same
device repeats them. A CUDA generator draws other numbers than a CPU one for the same seed:
across devices the unhidden values agree with the CPU's, the masks are each device's own.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from benchmark.hide_and_seek import hide_patches_batch
from benchmark.pipelines.preprocessors import (
    HideAndSeekActionDataPreprocessor,
    HideAndSeekClsDataPreprocessor,
    HideAndSeekSegDataPreProcessor,
)

MEAN_RGB = [123.675, 116.28, 103.53]
STD_RGB = [58.395, 57.12, 57.375]


def expected_masks(device, seed, n, height, width, grid, hide_prob=0.5, rank=0):
    """The masks of the first batch on ``device`` after ``torch.manual_seed(seed)``."""
    state = np.random.SeedSequence([seed, rank]).generate_state(1)
    generator = torch.Generator(device).manual_seed(int(state[0]))
    ones = torch.ones(n, 1, height, width, device=device)
    return hide_patches_batch(ones, grid, hide_prob, fill=0.0, generator=generator)[:, 0] == 0


def check_hidden(hidden, plain, masks, fill):
    """Per sample: hidden pixels exactly ``fill`` (per channel, dim 0 of a sample), the rest
    exactly the plain preprocessor's."""
    assert masks.any() and (~masks).any()
    fills = torch.as_tensor(fill, dtype=hidden.dtype, device=hidden.device).reshape(-1)
    for x_h, x_p, mask in zip(hidden, plain, masks, strict=True):
        for c in range(x_h.shape[0]):
            assert torch.all(x_h[c][..., mask] == fills[c % len(fills)])
        assert torch.equal(x_h[..., ~mask], x_p[..., ~mask])


def images(n, height, width, seed):
    """``n`` uint8 C x H x W images as a data loader yields them (on the CPU)."""
    rng = np.random.default_rng(seed)
    return [torch.from_numpy(rng.integers(0, 256, (3, height, width), dtype=np.uint8))
            for _ in range(n)]


def on_cpu(x):
    return x.detach().cpu()


@pytest.mark.parametrize("fill", [0.0, (0.5, -0.25, 1.0)], ids=["mean", "per-channel"])
def test_cls_preprocessor_on_the_device(device, fill):
    from mmpretrain.models import ClsDataPreprocessor

    n, height, width, grid, seed = 6, 40, 56, (8,), 3
    batch = dict(inputs=images(n, height, width, seed=0), data_samples=None)
    args = dict(mean=MEAN_RGB, std=STD_RGB, to_rgb=True)
    plain_pre = ClsDataPreprocessor(**args).to(device)
    plain = plain_pre(copy.deepcopy(batch), training=True)["inputs"]
    cpu_plain = ClsDataPreprocessor(**args)(copy.deepcopy(batch), training=True)["inputs"]
    torch.testing.assert_close(on_cpu(plain), cpu_plain)  # the device normalizes as the CPU

    def hidden_batch(autocast=False):
        has = HideAndSeekClsDataPreprocessor(
            hide_and_seek=dict(grid_sizes=grid, fill=fill), **args).to(device)
        torch.manual_seed(seed)
        dtype = torch.float16 if device == "cuda" else torch.bfloat16
        with torch.autocast(device, dtype=dtype, enabled=autocast):  # as train_step runs it
            return has(copy.deepcopy(batch), training=True)["inputs"], has

    hidden, has = hidden_batch()
    assert hidden.device.type == device and hidden.dtype == torch.float32
    masks = expected_masks(device, seed, n, height, width, grid)
    check_hidden(hidden, plain, masks, fill)
    assert torch.equal(hidden_batch()[0], hidden)  # the seed again: the same masks
    assert torch.equal(hidden_batch(autocast=True)[0], hidden)
    evaluated = has(copy.deepcopy(batch), training=False)["inputs"]
    assert evaluated.device.type == device
    assert torch.equal(evaluated, plain_pre(copy.deepcopy(batch), training=False)["inputs"])


def test_seg_preprocessor_on_the_device_hides_images_not_labels(device):
    from mmengine.structures import PixelData
    from mmseg.models.data_preprocessor import SegDataPreProcessor
    from mmseg.structures import SegDataSample

    n, height, width, grid, seed, size = 3, 90, 120, (24,), 5, (96, 128)  # padded to 96 x 128
    labels = np.random.default_rng(1).integers(0, 12, (n, 1, height, width))

    def sample(i):
        return SegDataSample(gt_sem_seg=PixelData(data=torch.from_numpy(labels[i])),
                             metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))

    batch = dict(inputs=images(n, height, width, seed=2),
                 data_samples=[sample(i) for i in range(n)])
    args = dict(mean=MEAN_RGB, std=STD_RGB, bgr_to_rgb=True, size=size)
    plain = SegDataPreProcessor(**args).to(device)(copy.deepcopy(batch), training=True)
    cpu_plain = SegDataPreProcessor(**args)(copy.deepcopy(batch), training=True)
    torch.testing.assert_close(on_cpu(plain["inputs"]), cpu_plain["inputs"])
    has = HideAndSeekSegDataPreProcessor(hide_and_seek=dict(grid_sizes=grid), **args).to(device)
    torch.manual_seed(seed)
    out = has(copy.deepcopy(batch), training=True)
    assert out["inputs"].device.type == device and out["inputs"].shape == (n, 3, *size)
    check_hidden(out["inputs"], plain["inputs"], expected_masks(device, seed, n, *size, grid), 0.0)
    for got, want in zip(out["data_samples"], cpu_plain["data_samples"], strict=True):
        assert got.gt_sem_seg.data.device.type == device
        assert torch.equal(on_cpu(got.gt_sem_seg.data), want.gt_sem_seg.data)  # labels untouched
    evaluated = has(copy.deepcopy(batch), training=False)["inputs"]
    assert evaluated.device.type == device
    assert torch.equal(evaluated, SegDataPreProcessor(**args).to(device)(
        copy.deepcopy(batch), training=False)["inputs"])


def test_action_preprocessor_on_the_device_one_mask_per_clip(device):
    from mmaction.models.data_preprocessors import ActionDataPreprocessor

    n, clips, frames, side, grid, seed = 2, 2, 4, 32, (8,), 7
    rng = np.random.default_rng(0)
    videos = torch.from_numpy(rng.integers(0, 256, (n, clips, 3, frames, side, side),
                                           dtype=np.uint8))
    batch = dict(inputs=list(videos), data_samples=[None] * n)  # N x clips x C x T x H x W
    fill = (0.5, -0.25, 1.0)  # the training set's own mean pixel, normalized: one per channel
    args = dict(mean=MEAN_RGB, std=STD_RGB, format_shape="NCTHW")
    plain = ActionDataPreprocessor(**args).to(device)(copy.deepcopy(batch), training=True)["inputs"]
    cpu_plain = ActionDataPreprocessor(**args)(copy.deepcopy(batch), training=True)["inputs"]
    torch.testing.assert_close(on_cpu(plain), cpu_plain)
    has = HideAndSeekActionDataPreprocessor(hide_and_seek=dict(grid_sizes=grid, fill=fill),
                                            **args).to(device)
    torch.manual_seed(seed)
    hidden = has(copy.deepcopy(batch), training=True)["inputs"]
    assert hidden.device.type == device and hidden.shape == (n, clips, 3, frames, side, side)
    masks = expected_masks(device, seed, n * clips, side, side, grid).view(n, clips, side, side)
    for i in range(n):
        check_hidden(hidden[i], plain[i], masks[i], fill)  # shared by the clip's C and T
    evaluated = has(copy.deepcopy(batch), training=False)["inputs"]
    assert evaluated.device.type == device
    assert torch.equal(evaluated, ActionDataPreprocessor(**args).to(device)(
        copy.deepcopy(batch), training=False)["inputs"])
