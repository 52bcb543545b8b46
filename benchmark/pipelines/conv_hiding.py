"""The ``has-conv`` hook: hide grid cells of one layer's output while the model trains.

:class:`HideFeatureCellsHook` (mmengine ``HOOKS``, the root registry, so every OpenMMLab scope
finds it) registers, before training, a PyTorch forward hook on the named module of the runner's
model (unwrapped from DDP). While the model is in training mode (``model.training``, the whole
model's flag: a frozen stage in eval mode inside a training model is still hidden) the hook
returns the module's output with the cells of :func:`hide_cells` set to 0 across all channels
-- a new tensor, so autograd sends no gradient through hidden activations and in-place layers
before it are unharmed. In eval mode (validation, test, CAMs) it returns nothing: the output
is the module's own. The option checks and the config side are :mod:`benchmark.conv_hiding`.

The cells are drawn by :func:`benchmark.hide_and_seek.hide_patches_batch` (one grid size per
sample, cells from pixel (0, 0)) on a mask of ones on the output's device, from a generator of
the hook's own seeded from torch's initial seed (the run's seed) and the rank, as the HaS
data preprocessors' are, with a different stream.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn

from benchmark.conv_hiding import CONV_REFERENCE_SIDE_PX, PAPER_CONV_GRID_SIZES
from benchmark.hide_and_seek import check_grid_sizes, check_hide_prob, hide_patches_batch
from benchmark.methods import scale_grid_sizes

#: Mixed into the generator's seed so its draws differ from the HaS preprocessors'.
_STREAM = 0x6C6179


def resolve_layer(model: nn.Module, name: str | None) -> tuple[str, nn.Module]:
    """The module ``name`` of ``model`` (None: the backbone's first ``Conv2d``), with its name.

    Raises:
        ValueError: naming the path that is missing and the valid names under its deepest
            existing parent, or saying that the model has no ``Conv2d``.
    """
    if name is None:
        root = getattr(model, "backbone", model)
        prefix = "backbone." if root is not model else ""
        for sub, module in root.named_modules():
            if isinstance(module, nn.Conv2d):
                return prefix + sub, module
        raise ValueError(f"{type(model).__name__} has no Conv2d to hide on; set has_conv_layer "
                         "to the module whose output is a feature map")
    modules = dict(model.named_modules())
    if name in modules and name:
        return name, modules[name]
    parts = name.split(".")
    parent = next(".".join(parts[:i]) for i in range(len(parts) - 1, -1, -1)
                  if ".".join(parts[:i]) in modules)
    children = [f"{parent}.{c}" if parent else c for c, _ in modules[parent].named_children()]
    raise ValueError(f"has_conv_layer {name!r} is not a module of {type(model).__name__}; "
                     f"valid names under {parent or 'the model'!r}: {', '.join(children)} "
                     "(any name of model.named_modules() is valid)")


def hide_cells(features: torch.Tensor, grid_sizes: Sequence[int], hide_prob: float,
               generator: torch.Generator | None = None,
               reference_side_px: int = CONV_REFERENCE_SIDE_PX) -> torch.Tensor:
    """``features`` (N x C x H x W) with random grid cells set to 0 in all channels (a copy).

    Args:
        features: A layer's output.
        grid_sizes: Cell sides in feature-map pixels at a ``reference_side_px`` map (0 = not
            hidden), one drawn per sample; scaled down for smaller maps.
        hide_prob: Probability that each cell is hidden.
        generator: Random numbers on ``features``' device (None: torch's global ones).
        reference_side_px: The map side the sizes refer to.

    Raises:
        ValueError: when ``features`` is not a 4-D tensor.
    """
    if not isinstance(features, torch.Tensor) or features.ndim != 4:
        shape = tuple(features.shape) if hasattr(features, "shape") else type(features).__name__
        raise ValueError(f"has-conv hides N x C x H x W feature maps; this layer gives {shape}: "
                         "set has_conv_layer to a convolution (or its activation)")
    n, _, height, width = features.shape
    sizes = scale_grid_sizes(tuple(grid_sizes), (height, width), reference_side_px)
    keep = torch.ones((n, 1, height, width), dtype=torch.uint8, device=features.device)
    hide_patches_batch(keep, sizes, hide_prob, fill=0, generator=generator, inplace=True)
    return features.masked_fill(keep == 0, 0)


@HOOKS.register_module()
class HideFeatureCellsHook(Hook):
    """Hide grid cells of one module's output in training (``has-conv``; fill 0).

    Args:
        layer: Dotted module name inside the (unwrapped) model; None: the backbone's first
            ``Conv2d``.
        grid_sizes: Cell sides in feature-map pixels at a ``reference_side_px`` map.
        hide_prob: Probability that each cell is hidden.
        reference_side_px: The map side ``grid_sizes`` refer to (55: AlexNet's conv1).

    Raises:
        ValueError: on bad sizes or probability; at ``before_train``, on a layer the model
            lacks (:func:`resolve_layer`).
    """

    def __init__(self, layer: str | None = None,
                 grid_sizes: Sequence[int] = PAPER_CONV_GRID_SIZES, hide_prob: float = 0.5,
                 reference_side_px: int = CONV_REFERENCE_SIDE_PX):
        self.layer = layer
        self.grid_sizes = check_grid_sizes(tuple(grid_sizes))
        self.hide_prob = check_hide_prob(hide_prob)
        self.reference_side_px = int(reference_side_px)
        self.layer_name: str | None = None
        self._model: Any = None
        self._handle: Any = None
        self._generators: dict[torch.device, torch.Generator] = {}

    def before_train(self, runner: Any) -> None:
        """Find the layer in the runner's model and put the forward hook on it."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self.attach(model)
        runner.logger.info(f"has-conv: hiding {self.grid_sizes}-pixel cells (p="
                           f"{self.hide_prob}) of {self.layer_name}'s output in training")

    def attach(self, model: nn.Module) -> nn.Module:
        """Put the forward hook on ``model``'s layer (again: moved); returns that layer."""
        self.detach()
        self.layer_name, module = resolve_layer(model, self.layer)
        self._model = weakref.ref(model)
        self._handle = module.register_forward_hook(self._hide)
        return module

    def detach(self) -> None:
        """Remove the forward hook (if any)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def after_run(self, runner: Any) -> None:
        """Remove the forward hook when the run ends."""
        self.detach()

    def _generator(self, device: torch.device) -> torch.Generator:
        generator = self._generators.get(device)
        if generator is None:
            seed = np.random.SeedSequence([torch.initial_seed(), get_rank(), _STREAM])
            generator = torch.Generator(device=device).manual_seed(int(seed.generate_state(1)[0]))
            self._generators[device] = generator
        return generator

    def _hide(self, module: nn.Module, args: Any, output: Any) -> Any:
        model = self._model() if self._model is not None else None
        if model is None or not model.training:
            return None
        return hide_cells(output, self.grid_sizes, self.hide_prob,
                          self._generator(output.device) if isinstance(output, torch.Tensor)
                          else None, self.reference_side_px)
