"""Hide-and-Seek as a ``torchvision.transforms.v2`` transform, for torchvision and timm pipelines.

:class:`HideAndSeek` hides the images of a sample (``tv_tensors.Image``/``Video``, PIL images,
plain tensors as torchvision treats them) with one draw of cells per sample, and passes
everything else through untouched: masks, boxes, labels, keypoints. The draw comes from
torch's global random state (as torchvision's own random transforms), so ``torch.manual_seed``
and the seed PyTorch gives each DataLoader worker make it reproducible.

The fill is in the units of the image where the transform sits in the pipeline:

- after ``Normalize``: ``fill=0`` (the default) is the mean pixel, as in the paper;
- before it: ``fill='mean'`` with ``mean=`` the dataset mean as ``Normalize`` takes it, in
  [0, 1]; it is used as is for float images (in [0, 1], e.g. after
  ``ToDtype(torch.float32, scale=True)``) and scaled to the integer range (x 255 for uint8,
  PIL and uint8 tensors, rounded) for integer ones;
- a number or one number per channel: used as is, in the image's own units.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from benchmark.hide_and_seek import (
    DEFAULT_GRID_SIZES,
    apply_hidden_cells,
    check_grid_sizes,
    check_hide_prob,
    sample_hidden_cells,
)
from benchmark.hide_and_seek_args import numpy_dtype

_PIL_MODES = ("L", "RGB", "RGBA", "I", "F")  # modes that round-trip through a numpy array


def _is_plain_tensor(inpt: Any) -> bool:
    return isinstance(inpt, torch.Tensor) and not isinstance(inpt, tv_tensors.TVTensor)


def _numbers(value: Any, name: str) -> float | tuple[float, ...]:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and value and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
        return tuple(float(v) for v in value)
    raise ValueError(f"HideAndSeek: {name} must be a number or a non-empty sequence of numbers "
                     f"(one per channel), got {value!r}")


class HideAndSeek(v2.Transform):
    """Hide random grid cells of a sample's images (Hide-and-Seek, Singh & Lee 2017).

    Per sample, a cell size ``S`` is drawn from ``grid_sizes`` (0 = leave the images as they
    are); each image is cut into ``S``x``S``-pixel cells from its top-left corner (edge cells
    may be smaller) and each cell is hidden with probability ``hide_prob``: its pixels get the
    fill. All images of one sample (same size) get the same cells; other inputs pass through.

    Args:
        grid_sizes: Candidate cell sides in pixels of the image at this point (0 = no hiding).
        hide_prob: Probability that each cell is hidden.
        fill: ``'mean'`` (``mean``, scaled to integer images), a number, or one number per
            channel in the image's own units; 0 after ``Normalize`` is the mean pixel.
        mean: The dataset mean pixel in [0, 1], as ``Normalize`` takes it; needed for
            ``fill='mean'`` only.

    Raises:
        ValueError: naming the bad argument.
    """

    _transformed_types = (tv_tensors.Image, tv_tensors.Video, PIL.Image.Image, _is_plain_tensor)

    def __init__(self, grid_sizes: Sequence[int] = DEFAULT_GRID_SIZES, hide_prob: float = 0.5,
                 fill: float | Sequence[float] | str = 0.0,
                 mean: Sequence[float] | None = None):
        super().__init__()
        self.grid_sizes, self.hide_prob = check_grid_sizes(grid_sizes), check_hide_prob(hide_prob)
        if isinstance(fill, str) and (fill != "mean" or mean is None):
            raise ValueError(f"HideAndSeek: fill must be 'mean' (with mean=, the dataset mean in "
                             f"[0, 1] as Normalize takes it, e.g. (0.485, 0.456, 0.406)), a "
                             f"number or one number per channel, got fill={fill!r}, mean={mean!r}")
        self.fill = fill if isinstance(fill, str) else _numbers(fill, "fill")
        self.mean = None if mean is None else _numbers(mean, "mean")
        if self.mean is not None and not all(0.0 <= m <= 1.0 for m in np.atleast_1d(self.mean)):
            raise ValueError(f"HideAndSeek: mean must be in [0, 1] as Normalize takes it, got "
                             f"{mean!r}; for a fill in pixel units pass fill=(123.7, ...) instead")

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        """One draw of hidden cells for all images of the sample (they must share a size)."""
        sizes = {tuple(F.get_size(inpt)) for inpt in flat_inputs}
        if len(sizes) > 1:
            raise ValueError(f"HideAndSeek: the images of one sample share one draw of cells, "
                             f"but have sizes {sorted(sizes)}; resize them to one size first")
        if not sizes:
            return {"hidden": None}
        seed = int(torch.randint(2**62, ()).item())  # torch's random state, numpy's draw
        return {"hidden": sample_hidden_cells(*sizes.pop(), self.grid_sizes, self.hide_prob,
                                              seed)}

    def _fill_for(self, dtype: Any) -> Any:
        if not isinstance(self.fill, str):
            return self.fill
        dtype = numpy_dtype(dtype)
        if dtype is None or dtype.kind == "f":
            return self.mean
        return tuple(np.atleast_1d(self.mean) * np.iinfo(dtype).max)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """``inpt`` with the drawn cells set to the fill (a new image; ``inpt`` is kept)."""
        hidden = params["hidden"]
        if isinstance(inpt, PIL.Image.Image):
            if inpt.mode not in _PIL_MODES:
                raise ValueError(f"HideAndSeek: PIL mode {inpt.mode!r} is not supported; "
                                 f"convert the image to one of {_PIL_MODES} first")
            array = np.asarray(inpt)
            return PIL.Image.fromarray(apply_hidden_cells(array, hidden, self._fill_for(
                array.dtype)))
        data = inpt.as_subclass(torch.Tensor)
        fill = self._fill_for(data.dtype)
        if data.ndim <= 3:
            out = apply_hidden_cells(data, hidden, fill, channel_axis=0 if data.ndim == 3 else -1)
        else:  # (..., C, H, W): every frame gets the sample's cells
            out = data.clone(memory_format=torch.contiguous_format)
            for frame in out.view(-1, *out.shape[-3:]):
                apply_hidden_cells(frame, hidden, fill, channel_axis=0, inplace=True)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out

    # torchvision before 0.21 calls the two methods by their old private names.
    _get_params, _transform = make_params, transform

    def extra_repr(self) -> str:
        """Every argument, for ``repr``."""
        return (f"grid_sizes={self.grid_sizes}, hide_prob={self.hide_prob}, "
                f"fill={self.fill!r}, mean={self.mean}")
