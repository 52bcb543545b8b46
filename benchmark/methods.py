"""Methods as config overlays: a method is a pure function of a framework config.

``baseline`` leaves the training pipeline unchanged; ``random_erasing`` inserts the framework's
own erasing transform; ``has`` / ``has-16`` ... insert our HaS stage; ``has+random_erasing``
inserts both (the paper calls them complementary); ``has-frames`` hides whole time steps of a
clip (the paper's HaS for video; only video tasks take it); ``cutout`` / ``gridmask`` /
``cutmix`` are the erasing family beside HaS (:mod:`benchmark.erasing.family`); ``full-image``
trains nothing: a WSOL reference row that predicts the box covering the whole image. This
module knows frameworks, never tasks: tasks call it with their config and get the config back.
Your own methods (a method file, or a ``hasbench.methods`` entry point) are
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

from benchmark.conv_hiding import PAPER_CONV_GRID_SIZES, add_conv_hiding_hook, with_conv_options
from benchmark.erasing import family as erasing_family
from benchmark.erasing.family import PIPELINE_FAMILY
from benchmark.hide_and_seek_args import (
    DEFAULT_GRID_SIZES,
    GRID_POLICIES,
    HAS_FILLS,
    PAPER_HIDE_PROBS,  # noqa: F401  (the ablation's values, re-exported)
    check_choice,
    check_grid_sizes,
    check_hide_prob,
)

#: The input side length the paper's grid sizes (``DEFAULT_GRID_SIZES``) refer to.
REFERENCE_SIDE_PX = 224
#: How HaS fills, as recorded in the results table (``HideAndSeek(keep_dtype=True)``).
HAS_FILL_NOTE = (
    "dataset mean pixel in pixel space, rounded to the image dtype (uint8: within 0.5/std of 0 "
    "after normalization)"
)
#: How HaS fills in the data preprocessor (``has_placement=preprocessor``).
HAS_BATCH_FILL_NOTE = "0 in the normalized batch (exactly the dataset mean pixel)"
#: How each ``has_fill`` fills in the pipeline stage, as recorded (``has_fill_note``).
HAS_FILL_NOTES = {
    "mean": HAS_FILL_NOTE,
    "zero": "0 in pixel space (black)",
    "random": "uniform integer noise 0..255 in pixel space, drawn per hidden value",
}
#: How each ``has_fill`` fills in the data preprocessor (``has_fill_note``).
HAS_BATCH_FILL_NOTES = {
    "mean": HAS_BATCH_FILL_NOTE,
    "zero": "(0 - mean) / std in the normalized batch (exactly pixel value 0, black)",
    "random": "uniform noise over pixel values [0, 255] per hidden value, normalized as the "
              "batch is",
}
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
        fill: What hidden pixels get (:data:`HAS_FILLS`): ``"mean"`` the dataset's mean pixel,
            ``"zero"`` 0 in pixel space (black; ``-mean / std`` in a normalized batch),
            ``"random"`` uniform noise over pixel values [0, 255] per hidden value.
        grid_policy: ``"scaled"`` (grid sizes scaled to inputs smaller than 224 pixels:
            :func:`scale_grid_sizes`) or ``"absolute"`` (the sizes in pixels as given).
        hides_at_test: Whether evaluation images are hidden too (``dropout-traintest``).
        augment: The erasing-family method inserted (``"cutout"``, ``"gridmask"``,
            ``"cutmix"``: :mod:`benchmark.erasing.family`), ``""`` for none.
        hides_features: HaS hides cells of a feature map in training (``has-conv``: a
            forward hook, :mod:`benchmark.conv_hiding`; no pipeline stage); its
            ``grid_sizes_px`` are then feature-map pixels at a 55-pixel map.
        feature_layer: The module whose output ``has-conv`` hides (None: the backbone's
            first ``Conv2d``).
    """

    name: str
    hides: bool = False
    erases: bool = False
    grid_sizes_px: tuple[int, ...] = ()
    hide_prob: float = 0.5
    placement: str = "pipeline"
    hides_frames: bool = False
    trains: bool = True
    fill: str = "mean"
    grid_policy: str = "scaled"
    hides_at_test: bool = False
    augment: str = ""
    hides_features: bool = False
    feature_layer: str | None = None


#: The paper's dropout baselines. Singh & Lee (ICCV 2017, "Comparison to dropout" in the
#: further analysis of Sec. 4, Table 3; arXiv 1811.02545 repeats it) apply 50% dropout at the image
#: layer instead of hiding patches: "AlexNet-dropout-trainonly" drops input pixels during
#: training only, "AlexNet-dropout-traintest" during training and testing. They report that
#: trainonly is far worse than HaS (the network learns the dropped-out image statistics) and
#: that traintest recovers part of the gap, and explain why dropout does not localize: pixels
#: dropped independently still show the discriminative part. Here each pixel (all its
#: channels) is hidden with p = 0.5, i.e. HaS with 1x1-pixel cells and no "no hiding" draw,
#: filled like HaS (``has_fill``, default the mean pixel) and **not** rescaled (HaS never
#: rescales; the paper does not mention rescaling). ``dropout-traintest`` also puts the stage
#: (or the preprocessor's hiding) into the validation and test pipelines.
DROPOUT_NOTE = ("each pixel hidden with p=0.5 (HaS with 1x1 cells), no rescaling; "
                "the paper's 50% dropout on the input image (ICCV 2017, Table 3)")

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
        # HaS on a feature map (the paper's conv1 cells of 5 and 11): benchmark.conv_hiding.
        Method("has-conv", hides_features=True, grid_sizes_px=PAPER_CONV_GRID_SIZES),
        # The erasing family beside HaS (benchmark.erasing.family: sources and parameters).
        *(Method(name, augment=name) for name in ("cutout", "gridmask", "cutmix")),
        # The paper's dropout baselines (see DROPOUT_NOTE): 1x1-pixel cells, p = 0.5.
        Method("dropout-train", hides=True, grid_sizes_px=(1,), grid_policy="absolute"),
        Method("dropout-traintest", hides=True, grid_sizes_px=(1,), grid_policy="absolute",
               hides_at_test=True),
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
    "has_fill": "--has-fill",
    "has_grid_policy": "--has-grid-policy",
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
    ``has_placement`` (``pipeline`` | ``preprocessor``) says where OpenMMLab runs hide;
    ``has_fill`` (:data:`HAS_FILLS`) what hidden pixels get; ``has_grid_policy``
    (:data:`GRID_POLICIES`) whether grid sizes are scaled to small inputs. They apply to
    the ``dropout-*`` baselines too (but for the grid, fixed at 1 pixel). They are checked
    here, before anything is trained. A name that is not built in is a user
    method (:mod:`benchmark.user_methods`: the options' ``method_file``, or an entry point).

    Raises:
        ValueError: naming the option (and its ``hasbench run`` flag), what is wrong and the fix.
    """
    if options and options.get("method_file") and name in METHODS:
        from benchmark.user_methods import load_method_file

        load_method_file(options["method_file"])  # the file's own mistakes first
        raise ValueError(f"--method-file is given but method {name!r} is built in; pass one of "
                         "the file's methods with --method, or drop --method-file")
    method = with_conv_options(get_method(name, options if options is not None else {}),
                               options or {})
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
    if method.hides_frames and {"has_grid_sizes_px", "has_placement", "has_fill",
                                "has_grid_policy"} & set(given):
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
    if "has_grid_policy" in given:
        if method.grid_sizes_px == (1,):
            raise ValueError(f"option has_grid_policy (--has-grid-policy) set for method "
                             f"{name!r}, which hides single pixels; drop the option")
        changes["grid_policy"] = _checked("has_grid_policy", given, lambda v: check_choice(
            v, GRID_POLICIES, "grid policy"))
    if "has_fill" in given:
        changes["fill"] = _checked("has_fill", given, lambda v: check_choice(v, HAS_FILLS,
                                                                             "fill"))
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


def method_grid_sizes(method: Method, image_hw: tuple[int, int],
                      reference_px: int = REFERENCE_SIDE_PX) -> tuple[int, ...]:
    """The grid sizes in pixels a method hides with on an input of ``image_hw`` pixels.

    ``grid_policy="scaled"``: :func:`scale_grid_sizes`. ``"absolute"``: the sizes unchanged,
    so on a small input a cell may cover the whole image: a size ``S >= max(H, W)`` makes one
    cell, hidden with probability ``hide_prob`` -- the whole image is hidden, or nothing (e.g.
    44 and 56 px on 32x32 CIFAR). A size between ``min(H, W)`` and ``max(H, W)`` makes one
    row (or column) of cells.
    """
    if method.grid_policy == "absolute":
        return tuple(method.grid_sizes_px)
    return scale_grid_sizes(method.grid_sizes_px, image_hw, reference_px)


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
    dataset: str | None = None,
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
        dataset: The dataset's name (Cutout's side is per dataset: ``benchmark.erasing.family``).

    Returns:
        (stages, params): the stage configs in insertion order, and a flat dict of what was
        applied (for the results table).
    """
    if method.hides_frames:
        raise ValueError(f"method {method.name!r} hides whole frames: only a video task, "
                         "which inserts HideAndSeekFrames itself, takes it")
    stages: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    fills = method.hides or method.erases or method.augment in PIPELINE_FAMILY
    mean = mean_in_pipeline_order(data_preprocessor) if fills else []
    if fill_mean is not None and mean:
        mean = [float(v) for v in fill_mean]
        params["fill_mean_px"] = [round(v, 3) for v in mean]
    if method.erases:
        stage = _mm_random_erasing(scope, mean)
        stages.append(stage)
        params.update({f"re_{k}": v for k, v in stage.items()})
    if method.hides:
        grid = method_grid_sizes(method, image_hw)
        params.update(has_grid_sizes_px=list(grid), has_hide_prob=method.hide_prob,
                      has_placement=method.placement, has_fill=method.fill,
                      has_grid_policy=method.grid_policy)
        if method.hides_at_test:
            params.update(has_at_test=True, has_dropout=DROPOUT_NOTE)
        if method.placement == "pipeline":
            fill: Any = {"mean": "mean", "zero": 0, "random": "random"}[method.fill]
            stages.append(
                dict(type=f"{scope}.HideAndSeek", grid_sizes=grid, hide_prob=method.hide_prob,
                     fill=fill, mean=mean)
            )
            params["has_fill_note"] = HAS_FILL_NOTES[method.fill]
        else:
            params["has_fill_note"] = HAS_BATCH_FILL_NOTES[method.fill]
    if method.augment:
        family_stages, family_params = erasing_family.mm_stages(
            method.augment, scope=scope, image_hw=image_hw, mean=mean, dataset=dataset)
        stages.extend(family_stages)
        params.update(family_params)
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


def _train_dataset_cfgs(cfg: Any, loader: str = "train_dataloader") -> list[Any]:
    """The innermost dataset configs of ``loader`` (each one's pipeline takes the method).

    RepeatDataset & co. are unwrapped; a ConcatDataset (``datasets=[...]``, e.g. mmseg's VOC
    train + SBD aug) yields every part.
    """
    pending, found = [cfg[loader]["dataset"]], []
    while pending:
        dataset = pending.pop(0)
        if any(dataset is seen for seen in found):
            continue
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
    dataset: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Return a copy of an OpenMMLab config with the method's stages in the training pipeline.

    Only ``train_dataloader`` changes -- evaluation never hides -- except for a method that
    ``hides_at_test`` (``dropout-traintest``): its HaS stage goes into the ``val_dataloader``
    and ``test_dataloader`` pipelines too (or, placed in the preprocessor, it hides every batch).

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
        dataset: The dataset's name (for Cutout's per-dataset square side).

    Returns:
        (new_cfg, method_params); ``cutmix`` also sets ``model.train_cfg.augments``;
        ``gridmask`` also adds its probability-ramp hook to ``custom_hooks``
        (:func:`benchmark.erasing.family.add_gridmask_prob_ramp`).
    """
    method = method_name if isinstance(method_name, Method) else get_method(method_name)
    new_cfg = copy.deepcopy(cfg)
    preprocessor = new_cfg.get("data_preprocessor") or new_cfg["model"].get("data_preprocessor")
    stages, params = mm_method_stages(
        method, scope=scope, image_hw=image_hw, data_preprocessor=preprocessor or {},
        fill_mean=fill_mean, dataset=dataset,
    )
    if method.augment == "cutmix":
        erasing_family.apply_batch_augment(new_cfg, scope)
    if method.augment == "gridmask":  # the paper's probability ramp, a hook (all epochs)
        params.update(erasing_family.add_gridmask_prob_ramp(new_cfg))
    if stages:
        for dataset in _train_dataset_cfgs(new_cfg):
            dataset["pipeline"] = insert_stages(
                list(dataset["pipeline"]), stages, before=anchor or MM_ANCHORS[scope]
            )
    at_test = [s for s in stages if _stage_name(s) == "HideAndSeek"] if method.hides_at_test \
        else []
    if at_test:  # dropout-traintest: evaluation images are hidden the same way
        done: list[Any] = []
        for loader in ("val_dataloader", "test_dataloader"):
            for dataset in (_train_dataset_cfgs(new_cfg, loader) if new_cfg.get(loader) else ()):
                if not any(dataset is d for d in done):
                    done.append(dataset)
                    dataset["pipeline"] = insert_stages(
                        list(dataset["pipeline"]), at_test, before=anchor or MM_ANCHORS[scope])
    if method.hides and method.placement == "preprocessor":
        _use_has_preprocessor(new_cfg, scope, params, method)
    if method.hides_features:  # has-conv: a training-only forward hook, no stage
        params.update(add_conv_hiding_hook(new_cfg, method))
    return new_cfg, {"method": method.name, **params}


def _use_has_preprocessor(cfg: Any, scope: str, params: dict[str, Any],
                          method: Method | None = None) -> None:
    """Make the config's data preprocessor(s) the library's HaS subclass (same arguments).

    The fill follows ``method.fill`` in normalized units: ``mean`` 0 (or the training set's
    mean pixel, normalized), ``zero`` ``-mean / std`` per channel, ``random`` noise over pixel
    values [0, 255] normalized with the preprocessor's mean and std (the batch's order).
    """
    if scope not in HAS_PREPROCESSORS:
        raise ValueError(f"has_placement=preprocessor is not available for {scope!r}; use "
                         "has_placement=pipeline")
    import benchmark.pipelines.preprocessors  # noqa: F401  (registers the classes)

    has: dict[str, Any] = dict(grid_sizes=list(params["has_grid_sizes_px"]),
                               hide_prob=params["has_hide_prob"])
    fill = method.fill if method is not None else "mean"
    normalizer = cfg.get("data_preprocessor") or cfg["model"]["data_preprocessor"]
    if fill == "zero":
        has["fill"] = [-m / s for m, s in zip(normalizer["mean"], normalizer["std"], strict=True)]
    elif fill == "random":
        has.update(fill="random", noise_mean=[float(v) for v in normalizer["mean"]],
                   noise_std=[float(v) for v in normalizer["std"]])
    elif "fill_mean_px" in params:  # the dataset's mean pixel, normalized like the batch
        has["fill"] = normalized_fill(params["fill_mean_px"], normalizer)
        params["has_fill_note"] = "the training set's mean pixel, normalized as the batch is"
    if method is not None and method.hides_at_test:
        has["at_test"] = True
    # Both may exist (mmengine's Runner prefers the model's); a hiding method has found one,
    # since its fill needs the preprocessor's mean (mean_in_pipeline_order).
    for preprocessor in (cfg.get("data_preprocessor"), cfg["model"].get("data_preprocessor")):
        if preprocessor is not None:
            preprocessor["type"] = HAS_PREPROCESSORS[scope]
            preprocessor["hide_and_seek"] = has
