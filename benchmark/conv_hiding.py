"""``has-conv``: Hide-and-Seek on a convolutional feature map instead of the input image.

The HaS paper (Singh & Lee, ICCV 2017, Table 5; arXiv 1811.02545 repeats the experiment)
divides AlexNet-GAP's conv1 feature map (55 x 55 x 96 at its 227-pixel input) into a grid and
hides each cell, with all its channels, with probability 0.5; it trains one model per cell
size, 5 and 11 feature-map pixels ("AlexNet-HaS-conv1-5", "AlexNet-HaS-conv1-11"), and both
localize better than AlexNet-GAP. Here the cells are hidden by a forward hook on a named
module, in training only: :class:`benchmark.pipelines.conv_hiding.HideFeatureCellsHook`, an
mmengine hook the method adds to ``custom_hooks``. The data pipeline is untouched, and so is
evaluation.

Run options (``--option KEY=VALUE``; part of the run id like any option), checked before
training (:func:`with_conv_options`):

* ``has_conv_layer``: the module whose output is hidden, a dotted path inside the model such as
  ``backbone.features.0`` (AlexNet-GAP's conv1). Default: the backbone's first ``Conv2d`` --
  the paper's conv1 in every model here. A path the model lacks is refused before training,
  naming the valid ones (:func:`benchmark.pipelines.conv_hiding.resolve_layer`).
* ``has_conv_grid_sizes``: cell sides in feature-map pixels at the paper's 55-pixel map, one
  drawn per sample (0 = that sample is not hidden); default ``(5, 11)``, the paper's two sizes
  (``has_conv_grid_sizes=5`` or ``11`` trains its fixed-size rows). A smaller map gets them
  scaled like the input grid (``benchmark.methods.scale_grid_sizes`` with a 55-pixel
  reference): ``s -> max(1, round(s * min(h, w) / 55))``; e.g. 32 x 32 -> (3, 6).
* ``has_conv_hide_prob``: probability that each cell is hidden (0.5 in the paper).

Hidden activations are set to 0 (the paper's fill for feature maps: a unit that does not
fire). Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from benchmark.hide_and_seek_args import check_grid_sizes, check_hide_prob

#: The cell sides of the paper's HaS-conv1 models, in conv1 feature-map pixels.
PAPER_CONV_GRID_SIZES: tuple[int, ...] = (5, 11)
#: The side of the feature map those sizes refer to: AlexNet's conv1 output (11x11 kernel,
#: stride 4) at 224-227 pixels, 55 x 55.
CONV_REFERENCE_SIDE_PX = 55
#: The run options of ``has-conv`` and what each one sets on the method.
CONV_OPTIONS = {"has_conv_layer": "feature_layer", "has_conv_grid_sizes": "grid_sizes_px",
                "has_conv_hide_prob": "hide_prob"}
#: The hook's registered type (in mmengine's root ``HOOKS``, found from every scope).
HOOK_TYPE = "HideFeatureCellsHook"
#: What the record says when no ``has_conv_layer`` is given.
AUTO_LAYER = "the backbone's first Conv2d"


def with_conv_options(method: Any, options: Mapping[str, Any]) -> Any:
    """``method`` (a ``benchmark.methods.Method``) with the run's ``has_conv_*`` options.

    Raises:
        ValueError: naming the option and the fix: set for a method that does not hide
            feature maps, a layer that is not a dotted name, bad sizes or probability.
    """
    given = {key: options[key] for key in CONV_OPTIONS if key in options}
    if not given:
        return method
    if not getattr(method, "hides_features", False):
        raise ValueError(f"{', '.join(given)} set for method {method.name!r}, which does not "
                         "hide feature maps; use method 'has-conv' or drop the option")
    changes: dict[str, Any] = {}
    for key, value in given.items():
        try:
            changes[CONV_OPTIONS[key]] = _CHECKS[key](value)
        except ValueError as err:
            raise ValueError(f"option {key}: {err}") from None
    return dataclasses.replace(method, **changes)


def _check_layer(value: Any) -> str:
    parts = value.split(".") if isinstance(value, str) else []
    if not parts or not all(p.isidentifier() or p.isdigit() for p in parts):
        raise ValueError(f"must be a module's dotted name inside the model, e.g. "
                         f"backbone.features.0; got {value!r}")
    return value


def _check_sizes(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):  # "5,11" from a suite file or the shell
        try:
            value = [int(p) for p in value.split(",")]
        except ValueError:
            raise ValueError(f"takes whole feature-map pixels, e.g. 5,11; got {value!r}") from None
    return check_grid_sizes((value,) if isinstance(value, int) else value)


_CHECKS = {"has_conv_layer": _check_layer, "has_conv_grid_sizes": _check_sizes,
           "has_conv_hide_prob": check_hide_prob}


def add_conv_hiding_hook(cfg: Any, method: Any) -> dict[str, Any]:
    """Append the method's :data:`HOOK_TYPE` to ``cfg.custom_hooks`` (in place).

    Importing :mod:`benchmark.pipelines.conv_hiding` registers the hook (mmengine, torch).

    Returns:
        The parameters to record (``has_conv_*``).
    """
    import benchmark.pipelines.conv_hiding  # noqa: F401  (registers the hook)

    hook = dict(type=HOOK_TYPE, layer=method.feature_layer,
                grid_sizes=list(method.grid_sizes_px), hide_prob=method.hide_prob,
                reference_side_px=CONV_REFERENCE_SIDE_PX)
    cfg["custom_hooks"] = [*(cfg.get("custom_hooks") or []), hook]
    return {"has_conv_layer": method.feature_layer or AUTO_LAYER,
            "has_conv_grid_sizes": list(method.grid_sizes_px),
            "has_conv_hide_prob": method.hide_prob,
            "has_conv_reference_side_px": CONV_REFERENCE_SIDE_PX,
            "has_conv_fill": "0 (the layer's output, all channels of a hidden cell)"}
