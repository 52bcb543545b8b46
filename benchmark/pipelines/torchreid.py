"""Hide-and-Seek inside torchreid's training transform, without editing torchreid.

torchreid's ``build_transforms`` returns a torchvision ``Compose``:
``Resize -> [RandomHorizontalFlip] -> [Random2DTranslation] -> ... -> ToTensor -> Normalize ->
[RandomErasing]``. Its own erasing runs *after* ``Normalize``, so the tensor it sees is already
normalized. HaS goes to the same place: right after ``Normalize`` (before ``RandomErasing``
when both are used), filling hidden pixels with 0, which is exactly the dataset mean pixel
``norm_mean`` expressed in normalized units (the original code's fill).

Grid sizes are absolute pixels of the training input (256x128 for torchreid's re-ID crops);
cells are anchored at the top-left corner and partial cells at the right and bottom edges are
hidden too (that is :func:`benchmark.hide_and_seek.hide_patches`' contract), so the whole
non-square image can be hidden.

Typical use::

    dm = torchreid.data.ImageDataManager(root=..., sources="market1501", ...)
    add_hide_and_seek(dm, grid_sizes=(0, 16, 32, 44, 56), hide_prob=0.5)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from torchvision.transforms import Compose, Normalize

from benchmark.hide_and_seek import (
    DEFAULT_GRID_SIZES,
    check_grid_sizes,
    check_hide_prob,
    hide_patches,
    sample_hidden_cells,
)
from benchmark.hide_and_seek_args import HAS_FILLS, check_choice
from benchmark.hide_fill import apply_random_fill


class HideAndSeekTensor:
    """HaS on one normalized CHW image tensor (a torchvision-style transform).

    Randomness comes from Python's ``random`` module, like torchreid's own transforms, so
    ``torchreid.utils.set_random_seed`` (and the seeds PyTorch gives each DataLoader worker)
    make it reproducible.

    Args:
        grid_sizes: Cell sizes in pixels, one drawn per image (0 = no hiding).
        hide_prob: Probability that each cell is hidden.
        fill: Value of hidden pixels in the tensor's (normalized) units: 0 = the mean pixel;
            or ``'random'``: each hidden value uniform over ToTensor's pixel range [0, 1]
            (0..255 in pixel space), normalized with ``noise_mean`` / ``noise_std``.
        noise_mean: ``Normalize``'s mean (ToTensor units, [0, 1]) for ``fill='random'``.
        noise_std: ``Normalize``'s std for ``fill='random'``.
    """

    def __init__(
        self,
        grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
        hide_prob: float = 0.5,
        fill: float | Sequence[float] | str = 0.0,
        noise_mean: Sequence[float] | None = None,
        noise_std: Sequence[float] | None = None,
    ):
        # Fail on bad arguments now, not in the first training batch.
        self.grid_sizes = check_grid_sizes(grid_sizes)
        self.hide_prob = check_hide_prob(hide_prob)
        if isinstance(fill, str) and (fill != "random" or noise_mean is None or noise_std is None):
            raise ValueError(f"fill must be a number, one per channel, or 'random' with "
                             f"noise_mean and noise_std (Normalize's); got {fill!r}")
        self.fill = fill
        self.noise_mean, self.noise_std = noise_mean, noise_std

    def __call__(self, img: Any) -> Any:
        """Return a copy of ``img`` (C, H, W) with a random subset of grid cells filled."""
        rng = np.random.default_rng(random.getrandbits(64))
        if isinstance(self.fill, str):  # 'random'
            hidden = sample_hidden_cells(img.shape[1], img.shape[2], self.grid_sizes,
                                         self.hide_prob, rng)
            return apply_random_fill(img, hidden, rng, channel_axis=0, low=0.0, high=1.0,
                                     mean=self.noise_mean, std=self.noise_std)
        return hide_patches(img, grid_sizes=self.grid_sizes, hide_prob=self.hide_prob,
                            fill=self.fill, rng=rng, channel_axis=0)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(grid_sizes={self.grid_sizes}, "
                f"hide_prob={self.hide_prob}, fill={self.fill})")


def with_hide_and_seek(transform: Compose, stage: HideAndSeekTensor) -> Compose:
    """Return a new ``Compose`` with ``stage`` inserted right after its ``Normalize``.

    The input ``Compose`` is not modified.

    Raises:
        ValueError: when ``transform`` is not a ``Compose`` with a ``Normalize`` step, or
            already contains a HaS stage.
    """
    if not isinstance(transform, Compose):
        raise ValueError(
            f"expected torchreid's training transform (a torchvision Compose), got "
            f"{type(transform).__name__}"
        )
    steps = list(transform.transforms)
    if any(isinstance(t, HideAndSeekTensor) for t in steps):
        raise ValueError("the training transform already contains Hide-and-Seek; add it once")
    positions = [i for i, t in enumerate(steps) if isinstance(t, Normalize)]
    if not positions:
        raise ValueError(
            "the training transform has no Normalize step, so hidden pixels could not be 0 "
            f"after normalization; steps: {[type(t).__name__ for t in steps]}"
        )
    index = positions[-1] + 1
    return Compose([*steps[:index], stage, *steps[index:]])


def add_hide_and_seek(
    datamanager: Any,
    grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES,
    hide_prob: float = 0.5,
    fill: str = "mean",
) -> dict[str, Any]:
    """Put HaS into a torchreid ``ImageDataManager``'s training transform, in place.

    Rebuilds ``datamanager.transform_tr`` with :func:`with_hide_and_seek` and re-points the
    training loaders' datasets (``train_loader`` and, for domain adaptation,
    ``train_loader_t``) to it. Test transforms and loaders are untouched: evaluation never
    hides. Call it before the loaders start iterating (workers copy the dataset).

    Args:
        datamanager: A ``torchreid.data.ImageDataManager``.
        grid_sizes: Cell sizes in pixels of the training input (0 = no hiding).
        hide_prob: Probability that each cell is hidden.
        fill: ``'mean'`` (0 after Normalize, the mean pixel), ``'zero'`` (pixel value 0:
            ``-mean / std`` after Normalize) or ``'random'`` (uniform over the pixel range,
            normalized), with the transform's own ``Normalize`` mean and std.

    Returns:
        The parameters as applied, for the results table.
    """
    fill = check_choice(fill, HAS_FILLS, "fill")
    normalize = [t for t in getattr(datamanager.transform_tr, "transforms", ())
                 if isinstance(t, Normalize)]
    mean, std = ([float(v) for v in normalize[-1].mean], [float(v) for v in normalize[-1].std]) \
        if normalize else (None, None)  # no Normalize: with_hide_and_seek says so
    values: Any = {"mean": 0.0, "zero": None, "random": "random"}[fill]
    if fill == "zero" and mean is not None:
        values = [-m / s for m, s in zip(mean, std, strict=True)]
    stage = HideAndSeekTensor(grid_sizes=grid_sizes, hide_prob=hide_prob,
                              fill=0.0 if values is None else values,
                              noise_mean=mean, noise_std=std)
    new_transform = with_hide_and_seek(datamanager.transform_tr, stage)
    datamanager.transform_tr = new_transform
    for loader_name in ("train_loader", "train_loader_t"):
        loader = getattr(datamanager, loader_name, None)
        if loader is not None:
            loader.dataset.transform = new_transform
    steps = [type(t).__name__ for t in new_transform.transforms]
    return {
        "has_grid_sizes_px": list(stage.grid_sizes),
        "has_hide_prob": stage.hide_prob,
        "has_fill": fill,
        "has_fill_note": {"mean": "0 after Normalize (= norm_mean in pixel space)",
                          "zero": "pixel value 0 (black): -norm_mean / norm_std after Normalize",
                          "random": "uniform noise over the pixel range per hidden value, "
                                    "normalized"}[fill],
        "train_transform": steps,
    }
