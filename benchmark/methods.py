"""Methods as config overlays: a method is a pure function of a framework config.

``baseline`` leaves the training pipeline unchanged; ``random_erasing`` inserts the
framework's own erasing transform; ``has`` / ``has-16`` ... insert our HaS stage;
``has+random_erasing`` inserts both (the paper calls them complementary); ``has-frames`` hides
whole time steps of a clip (the paper's HaS for video; only video tasks take it);
``full-image`` trains nothing: a WSOL reference row that predicts the box covering the whole
image. This module knows frameworks, never tasks: tasks call it with their config and get the
config back. Your own methods (a method file, or a ``hasbench.methods`` entry point) are
:mod:`benchmark.user_methods`.

OpenMMLab pipeline lists do not merge under ``_base_`` inheritance, so stages are inserted
with :func:`insert_stages` relative to an anchor stage instead of copying lists.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmark.hide_and_seek_args import DEFAULT_GRID_SIZES, check_grid_sizes, check_hide_prob

#: The input side length the paper's grid sizes (``DEFAULT_GRID_SIZES``) refer to.
REFERENCE_SIDE_PX = 224
#: How HaS fills, as recorded in the results table (``HideAndSeek(keep_dtype=True)``).
HAS_FILL_NOTE = (
    "dataset mean pixel in pixel space, rounded to the image dtype (uint8: within 0.5/std of 0 "
    "after normalization)"
)
#: How HaS fills in the data preprocessor (``has_placement=preprocessor``).
HAS_BATCH_FILL_NOTE = "0 in the normalized batch (exactly the dataset mean pixel)"
#: Where each OpenMMLab library's training pipeline takes the method's stages (inserted before).
MM_ANCHORS = {"mmpretrain": "PackInputs", "mmseg": "PackSegInputs", "mmaction": "FormatShape"}


@dataclass(frozen=True)
class Method:
    """A training-time augmentation method.

    Attributes:
        name: Name used on the command line and in the results table.
        hides: Whether HaS is inserted.
        erases: Whether the framework's random erasing is inserted.
        grid_sizes_px: HaS grid sizes in pixels at the 224-pixel reference input.
        hide_prob: Probability that each cell is hidden.
        placement: Where OpenMMLab runs hide: ``"pipeline"`` (the per-image ``HideAndSeek``
            stage in the data workers, uint8 with the rounded mean) or ``"preprocessor"``
            (the normalized batch in the data preprocessor, fill exactly 0, on the model's
            device: ``benchmark.pipelines.preprocessors``).
        hides_frames: HaS hides whole time steps (frames) instead of grid cells.
        trains: Whether a model is trained (``False``: a reference row scored without one).
    """

    name: str
    hides: bool = False
    erases: bool = False
    grid_sizes_px: tuple[int, ...] = ()
    hide_prob: float = 0.5
    placement: str = "pipeline"
    hides_frames: bool = False
    trains: bool = True


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("baseline"),
        Method("random_erasing", erases=True),
        Method("has", hides=True, grid_sizes_px=DEFAULT_GRID_SIZES),
        *(Method(f"has-{s}", hides=True, grid_sizes_px=(s,)) for s in DEFAULT_GRID_SIZES if s),
        Method("has+random_erasing", hides=True, erases=True, grid_sizes_px=DEFAULT_GRID_SIZES),
        Method("has-frames", hides=True, hides_frames=True),
        Method("full-image", trains=False),
    )
}


def get_method(name: str, options: Mapping[str, Any] | None = None) -> Method:
    """Look up a method by name: built in, else a user method (``benchmark.user_methods``).

    Args:
        name: The method's name.
        options: The run's options (a ``method_file`` declaring user methods); None also
            finds the methods of method files read in this process.

    Raises:
        ValueError: naming the known methods when ``name`` is none of them.
    """
    if name in METHODS:
        return METHODS[name]
    from benchmark.user_methods import entry_points, find_user_method

    found = find_user_method(name, options)
    if found is None:
        installed = ", ".join(entry_points())
        raise ValueError(
            f"unknown method {name!r}; known methods: {', '.join(METHODS)}"
            + (f"; from installed packages: {installed}" if installed else "")
            + "; or declare your own in a method file (--method-file, docs/own-method.md)"
        )
    return found


#: Spec options (``--option KEY=VALUE``, ``hasbench run --has-...``, suite ``options``) that
#: override a hiding method's HaS arguments; part of the run id like any option.
HAS_OPTIONS = {
    "has_grid_sizes_px": "--has-grid-sizes",
    "has_hide_prob": "--has-hide-prob",
    "has_placement": "--has-placement",
}
#: Where an OpenMMLab run can hide (see :class:`Method`).
HAS_PLACEMENTS = ("pipeline", "preprocessor")
#: Where an OpenMMLab library's HaS preprocessor lives (benchmark.pipelines.preprocessors).
HAS_PREPROCESSORS = {
    "mmpretrain": "mmpretrain.HideAndSeekClsDataPreprocessor",
    "mmseg": "mmseg.HideAndSeekSegDataPreProcessor",
    "mmaction": "mmaction.HideAndSeekActionDataPreprocessor",
}


def method_for(name: str, options: Mapping[str, Any] | None = None) -> Method:
    """The method ``name`` with the HaS arguments of a run's options applied.

    ``has_grid_sizes_px`` (pixels at the 224-pixel reference, scaled like the paper's for
    smaller inputs) and ``has_hide_prob`` override the ``has`` / ``has+random_erasing``
    defaults; ``has_hide_prob`` also applies to the fixed-grid ``has-16`` ... variants;
    ``has_placement`` (``pipeline`` | ``preprocessor``) says where OpenMMLab runs hide. They
    are checked here, before anything is trained. A name that is not built in is a user
    method (:mod:`benchmark.user_methods`: the options' ``method_file``, or an entry point).

    Raises:
        ValueError: naming the option (and its ``hasbench run`` flag), what is wrong and the fix.
    """
    if options and options.get("method_file") and name in METHODS:
        from benchmark.user_methods import load_method_file

        load_method_file(options["method_file"])  # the file's own mistakes first
        raise ValueError(f"--method-file is given but method {name!r} is built in; pass one of "
                         "the file's methods with --method, or drop --method-file")
    method = get_method(name, options if options is not None else {})
    given = {key: options[key] for key in HAS_OPTIONS if options and key in options}
    if not given:
        return method
    flags = " / ".join(f"{key} ({HAS_OPTIONS[key]})" for key in given)
    if not method.hides:
        raise ValueError(
            f"{flags} set for method {name!r}, which does not hide; use a HaS method "
            f"({', '.join(n for n, m in METHODS.items() if m.hides)}) or drop the option"
        )
    changes: dict[str, Any] = {}
    if method.hides_frames and {"has_grid_sizes_px", "has_placement"} & set(given):
        raise ValueError(
            f"{flags} set for method {name!r}, which hides whole frames in the pipeline; use "
            "method 'has' to hide grid cells, or drop the option"
        )
    if "has_grid_sizes_px" in given:
        if len(method.grid_sizes_px) == 1:
            raise ValueError(
                f"method {name!r} fixes the grid at {method.grid_sizes_px[0]} px; use method "
                "'has' with has_grid_sizes_px (--has-grid-sizes) to choose other sizes"
            )
        changes["grid_sizes_px"] = _checked("has_grid_sizes_px", given, check_grid_sizes)
    if "has_hide_prob" in given:
        changes["hide_prob"] = _checked("has_hide_prob", given, check_hide_prob)
    if "has_placement" in given:
        changes["placement"] = _checked("has_placement", given, _check_placement)
    return dataclasses.replace(method, **changes)


def _check_placement(placement: Any) -> str:
    if placement not in HAS_PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(HAS_PLACEMENTS)}, got "
                         f"{placement!r}")
    return placement


def _checked(key: str, given: Mapping[str, Any], check: Any) -> Any:
    """``check(given[key])``, its ValueError prefixed with the option and its flag."""
    try:
        return check(given[key])
    except ValueError as err:
        raise ValueError(f"option {key} ({HAS_OPTIONS[key]}): {err}") from None


def scale_grid_sizes(
    grid_sizes_px: tuple[int, ...], image_hw: tuple[int, int], reference_px: int = REFERENCE_SIDE_PX
) -> tuple[int, ...]:
    """Scale the paper's grid sizes to a smaller input, keeping the cell-to-image ratio.

    Inputs whose shorter side is at least ``reference_px`` keep the sizes unchanged (HaS
    cells are absolute pixels, as in the paper). For smaller inputs each size ``s`` becomes
    ``max(1, round(s * min(H, W) / reference_px))``; 0 (no hiding) stays 0. E.g. for 64x64
    Tiny ImageNet (0, 16, 32, 44, 56) -> (0, 5, 9, 13, 16); for 32x32 CIFAR -> (0, 2, 5, 6, 8).

    Args:
        grid_sizes_px: Sizes in pixels at the reference input.
        image_hw: (height, width) of the training input in pixels.
        reference_px: Side length the sizes refer to.

    Returns:
        The sizes in pixels for this input, in the same order.
    """
    short_side = min(image_hw)
    if short_side >= reference_px:
        return tuple(grid_sizes_px)
    ratio = short_side / reference_px
    return tuple(0 if s == 0 else max(1, round(s * ratio)) for s in grid_sizes_px)


def mean_in_pipeline_order(data_preprocessor: dict[str, Any]) -> list[float]:
    """The data preprocessor's mean pixel in the channel order the pipeline produces.

    OpenMMLab preprocessors normalize *after* an optional channel flip (``to_rgb`` in
    mmpretrain, ``bgr_to_rgb`` in mmseg/mmaction, ``rgb_to_bgr``), so their ``mean`` is in
    the flipped order; the pipeline's images are in the unflipped order.

    Raises:
        ValueError: when the preprocessor has no ``mean``.
    """
    mean = data_preprocessor.get("mean")
    if mean is None:
        raise ValueError(
            "fill='mean' needs a data_preprocessor with a 'mean'; set model.data_preprocessor.mean "
            "or pass an explicit fill to HideAndSeek"
        )
    flips = any(data_preprocessor.get(k) for k in ("to_rgb", "bgr_to_rgb", "rgb_to_bgr"))
    values = [float(v) for v in mean]
    return values[::-1] if flips else values


def normalized_fill(fill_mean: list[float], data_preprocessor: dict[str, Any]) -> list[float]:
    """A pixel (pipeline channel order) as the preprocessor's normalized batch holds it."""
    flips = any(data_preprocessor.get(k) for k in ("to_rgb", "bgr_to_rgb", "rgb_to_bgr"))
    pixel = list(fill_mean)[::-1] if flips else list(fill_mean)
    return [(v - m) / s for v, m, s in zip(pixel, data_preprocessor["mean"],
                                             data_preprocessor["std"], strict=True)]


def _stage_name(stage: dict[str, Any]) -> str:
    return str(stage["type"]).rsplit(".", 1)[-1]


def insert_stages(
    pipeline: list[dict[str, Any]],
    stages: list[dict[str, Any]],
    *,
    before: str | None = None,
    after: str | None = None,
) -> list[dict[str, Any]]:
    """Return a new pipeline with ``stages`` inserted before/after the first stage of a type.

    Type names match with or without a scope prefix (``'mmpretrain.PackInputs'``).

    Raises:
        ValueError: when the anchor is missing, or neither/both of before/after are given.
    """
    if (before is None) == (after is None):
        raise ValueError("insert_stages needs exactly one of before= or after=")
    anchor = before or after
    names = [_stage_name(s) for s in pipeline]
    if anchor not in names:
        raise ValueError(
            f"cannot insert {[s['type'] for s in stages]}: the pipeline has no {anchor!r} stage "
            f"(stages: {names})"
        )
    index = names.index(anchor) + (1 if after else 0)
    return [*pipeline[:index], *copy.deepcopy(stages), *pipeline[index:]]


def mm_method_stages(
    method: Method,
    *,
    scope: str,
    image_hw: tuple[int, int],
    data_preprocessor: dict[str, Any],
    fill_mean: list[float] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The OpenMMLab stages a method inserts, and the parameters to record.

    Args:
        method: The method.
        scope: ``"mmpretrain"``, ``"mmseg"`` or ``"mmaction"`` (the registry the stages live in).
        image_hw: Training input (height, width) in pixels, for grid-size scaling.
        data_preprocessor: The model's data preprocessor config (mean/std, channel flip).
        fill_mean: The training set's mean pixel in the pipeline's channel order, where the
            preprocessor normalizes with another dataset's (ImageNet's) mean; HaS and random
            erasing fill with it. ``None``: the preprocessor's mean is the dataset's.

    Returns:
        (stages, params): the stage configs in insertion order, and a flat dict of what was
        applied (for the results table).
    """
    if method.hides_frames:
        raise ValueError(f"method {method.name!r} hides whole frames: only a video task, "
                         "which inserts HideAndSeekFrames itself, takes it")
    stages: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    mean = mean_in_pipeline_order(data_preprocessor) if (method.hides or method.erases) else []
    if fill_mean is not None and mean:
        mean = [float(v) for v in fill_mean]
        params["fill_mean_px"] = [round(v, 3) for v in mean]
    if method.erases:
        stage = _mm_random_erasing(scope, mean)
        stages.append(stage)
        params.update({f"re_{k}": v for k, v in stage.items()})
    if method.hides:
        grid = scale_grid_sizes(method.grid_sizes_px, image_hw)
        params.update(has_grid_sizes_px=list(grid), has_hide_prob=method.hide_prob,
                      has_placement=method.placement)
        if method.placement == "pipeline":
            stages.append(
                dict(type=f"{scope}.HideAndSeek", grid_sizes=grid, hide_prob=method.hide_prob,
                     fill="mean", mean=mean)
            )
            params["has_fill"] = HAS_FILL_NOTE
        else:
            params["has_fill"] = HAS_BATCH_FILL_NOTE
    return stages, params


def _mm_random_erasing(scope: str, mean: list[float]) -> dict[str, Any]:
    """The framework's own random-erasing transform, filled with the same mean pixel as HaS."""
    if scope == "mmpretrain":
        # Zhong et al.'s defaults (p=0.5, area 2%-40%, aspect 0.3-3.33).
        return dict(type="mmpretrain.RandomErasing", erase_prob=0.5, min_area_ratio=0.02,
                    max_area_ratio=0.4, aspect_range=(0.3, 1 / 0.3), mode="const",
                    fill_color=[round(v) for v in mean])
    if scope == "mmseg":
        # mmseg has no RandomErasing; RandomCutOut is its erasing transform (labels untouched).
        return dict(type="mmseg.RandomCutOut", prob=0.5, n_holes=1,
                    cutout_ratio=[(0.2, 0.2), (0.3, 0.3), (0.4, 0.4), (0.5, 0.5)],
                    fill_in=tuple(round(v) for v in mean), seg_fill_in=None)
    raise ValueError(
        f"no framework random-erasing transform is defined for scope {scope!r}; "
        "the task must provide its own counterpart"
    )


def _train_dataset_cfgs(cfg: Any) -> list[Any]:
    """The innermost training dataset configs (each one's pipeline takes the method).

    RepeatDataset & co. are unwrapped; a ConcatDataset (``datasets=[...]``, e.g. mmseg's VOC
    train + SBD aug) yields every part.
    """
    pending, found = [cfg["train_dataloader"]["dataset"]], []
    while pending:
        dataset = pending.pop(0)
        if "pipeline" in dataset:
            found.append(dataset)
        elif "datasets" in dataset:
            pending.extend(dataset["datasets"])
        elif "dataset" in dataset:
            pending.append(dataset["dataset"])
        else:
            raise ValueError(
                f"cannot insert the method: training dataset {dataset.get('type')!r} has no "
                "pipeline (nor a wrapped dataset with one)"
            )
    return found


def apply_method_to_mm_config(
    cfg: Any,
    method_name: str | Method,
    *,
    scope: str,
    image_hw: tuple[int, int],
    anchor: str | None = None,
    fill_mean: list[float] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Return a copy of an OpenMMLab config with the method's stages in the training pipeline.

    Only ``train_dataloader`` changes: evaluation never hides.

    Args:
        cfg: An ``mmengine.Config`` (or dict) with ``train_dataloader`` and
            ``model.data_preprocessor`` (or a top-level ``data_preprocessor``).
        method_name: A name from :data:`METHODS`, or a :class:`Method` (e.g. from
            :func:`method_for`, with a run's HaS options applied).
        scope: ``"mmpretrain"``, ``"mmseg"`` or ``"mmaction"``.
        image_hw: Training input (height, width) in pixels.
        anchor: Stage type to insert before; defaults to :data:`MM_ANCHORS` ``[scope]``.
        fill_mean: The training set's mean pixel (pipeline channel order) when the data
            preprocessor's mean is another dataset's (see :func:`mm_method_stages`).

    Returns:
        (new_cfg, method_params).
    """
    method = method_name if isinstance(method_name, Method) else get_method(method_name)
    new_cfg = copy.deepcopy(cfg)
    preprocessor = new_cfg.get("data_preprocessor") or new_cfg["model"].get("data_preprocessor")
    stages, params = mm_method_stages(
        method, scope=scope, image_hw=image_hw, data_preprocessor=preprocessor or {},
        fill_mean=fill_mean,
    )
    if stages:
        for dataset in _train_dataset_cfgs(new_cfg):
            dataset["pipeline"] = insert_stages(
                list(dataset["pipeline"]), stages, before=anchor or MM_ANCHORS[scope]
            )
    if method.hides and method.placement == "preprocessor":
        _use_has_preprocessor(new_cfg, scope, params)
    return new_cfg, {"method": method.name, **params}


def _use_has_preprocessor(cfg: Any, scope: str, params: dict[str, Any]) -> None:
    """Make the config's data preprocessor(s) the library's HaS subclass (same arguments)."""
    if scope not in HAS_PREPROCESSORS:
        raise ValueError(f"has_placement=preprocessor is not available for {scope!r}; use "
                         "has_placement=pipeline")
    import benchmark.pipelines.preprocessors  # noqa: F401  (registers the classes)

    has = dict(grid_sizes=list(params["has_grid_sizes_px"]), hide_prob=params["has_hide_prob"])
    if "fill_mean_px" in params:  # the dataset's mean pixel, normalized like the batch
        has["fill"] = normalized_fill(params["fill_mean_px"], cfg.get("data_preprocessor")
                                      or cfg["model"]["data_preprocessor"])
        params["has_fill"] = "the training set's mean pixel, normalized as the batch is"
    # Both may exist (mmengine's Runner prefers the model's); a hiding method has found one,
    # since its fill needs the preprocessor's mean (mean_in_pipeline_order).
    for preprocessor in (cfg.get("data_preprocessor"), cfg["model"].get("data_preprocessor")):
        if preprocessor is not None:
            preprocessor["type"] = HAS_PREPROCESSORS[scope]
            preprocessor["hide_and_seek"] = has
