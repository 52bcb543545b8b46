"""The erasing family beside HaS as config overlays: ``cutout``, ``gridmask``, ``cutmix``.

:func:`mm_stages` gives the OpenMMLab pipeline stages of ``cutout`` / ``gridmask`` and the
parameters to record; :func:`apply_batch_augment` puts ``cutmix`` (a batch augment, not a
pipeline stage) into an mmpretrain model's ``train_cfg``. :mod:`benchmark.methods` calls
both; the tasks decide where each method applies (``Task.methods``) and say why not
elsewhere (``Task.refused_methods``).

- ``cutout`` (DeVries & Taylor 2017, arXiv 1708.04552): one square, p = 1, the side the paper
  uses for the dataset (:data:`CUTOUT_SIDE_AT_32PX`: CIFAR-10 16, CIFAR-100 8, SVHN 20 on
  32-pixel images); other datasets scale CIFAR-10's 16 px by the input's shorter side / 32
  (:func:`cutout_side_px`). The frameworks' own transforms: mmpretrain's ``Cutout`` (its
  ``mmcv.cutout`` draws the centre uniformly in the image; a square past the top/left edge is
  moved inside, one past the bottom/right edge is cut) and mmseg's ``RandomCutOut`` (its
  top-left corner is uniform in the image, so the square is cut at the bottom/right edge;
  labels untouched); for mmaction2's clips, which it has none for, our
  :class:`benchmark.pipelines.cutout.ClipCutout` (one square per clip, in every frame).
  Filled with the mean pixel (the paper cuts after normalization, 0).
- ``gridmask`` (Chen et al. 2020): our stage :class:`benchmark.pipelines.gridmask.GridMask`
  with the paper's ImageNet setting (:data:`benchmark.erasing.gridmask.IMAGENET_SETTING`),
  ``d`` scaled to the input like HaS's grid (:func:`benchmark.erasing.gridmask.scale_d_range`),
  and the paper's probability schedule: linear from 0 to 0.8 over the first 80% of the
  training epochs (its ImageNet run: 240 of 300), set each epoch by
  :class:`benchmark.pipelines.gridmask.GridMaskProbRampHook` (:func:`add_gridmask_prob_ramp`).
  The torchreid counterpart (tasks/reid/erasing.py) keeps 0.8 throughout.
- ``cutmix`` (Yun et al. 2019, arXiv 1905.04899): mmpretrain's ``CutMix`` batch augment with
  the paper's ``alpha = 1.0`` (lambda ~ Beta(1, 1) = uniform), applied to every batch.
"""

from __future__ import annotations

from typing import Any

from benchmark.erasing.gridmask import IMAGENET_SETTING, expected_drop_fraction, scale_d_range

#: The family's method names.
FAMILY = ("cutout", "gridmask", "cutmix")
#: The family's methods that insert a pipeline stage (the others are batch augments).
PIPELINE_FAMILY = ("cutout", "gridmask")
#: Cutout's square side on the 32-pixel datasets of the paper (DeVries & Taylor 2017, Sec. 4:
#: 16x16 on CIFAR-10, 8x8 on CIFAR-100, 20x20 on SVHN), by our dataset names.
CUTOUT_SIDE_AT_32PX = {"cifar10": 16, "cifar100": 8, "svhn": 20}
#: The CIFAR-10 side the other datasets scale (by their input's shorter side / 32).
CUTOUT_DEFAULT_SIDE_AT_32PX = 16
#: CutMix's Beta(alpha, alpha) parameter (Yun et al. 2019, Sec. 3.1 and its ImageNet runs).
CUTMIX_ALPHA = 1.0
#: The mmengine hook that ramps GridMask's probability (benchmark.pipelines.gridmask).
PROB_RAMP_HOOK = "GridMaskProbRampHook"
#: Each OpenMMLab library's cutout transform: its own, or ours for mmaction2's clips (it ships
#: none; :class:`benchmark.pipelines.cutout.ClipCutout`).
MM_CUTOUT = {"mmpretrain": "mmpretrain.Cutout", "mmseg": "mmseg.RandomCutOut",
             "mmaction": "mmaction.ClipCutout"}


def cutout_side_px(image_hw: tuple[int, int], dataset: str | None = None) -> tuple[int, str]:
    """Cutout's square side for a training input, and how it was chosen (for the record).

    The paper's side for its datasets (32-pixel inputs); otherwise CIFAR-10's 16 px scaled by
    the input's shorter side / 32, e.g. 32 px on 64x64 Tiny ImageNet, 112 px at 224.
    """
    short = min(image_hw)
    if dataset in CUTOUT_SIDE_AT_32PX and short == 32:
        return CUTOUT_SIDE_AT_32PX[dataset], f"the paper's {dataset} side (32 px input)"
    base = CUTOUT_SIDE_AT_32PX.get(dataset or "", CUTOUT_DEFAULT_SIDE_AT_32PX)
    side = max(1, round(base * short / 32))
    source = dataset if dataset in CUTOUT_SIDE_AT_32PX else "cifar10"
    return side, f"the paper's {source} side {base} px x input side {short} / 32"


def mm_stages(name: str, *, scope: str, image_hw: tuple[int, int], mean: list[float],
              dataset: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The pipeline stages of ``cutout`` / ``gridmask`` in an OpenMMLab library, and params.

    Args:
        name: ``"cutout"`` or ``"gridmask"`` (``"cutmix"`` inserts no stage).
        scope: ``"mmpretrain"``, ``"mmseg"`` or ``"mmaction"``.
        image_hw: Training input (height, width) in pixels.
        mean: The fill pixel in the pipeline's channel order (the dataset mean).
        dataset: The dataset's name, for Cutout's per-dataset side.

    Raises:
        ValueError: where the library has no such transform, naming the method to use.
    """
    fill = [round(v) for v in mean]
    if name == "cutmix":
        return [], {"cutmix_type": "mmpretrain CutMix (batch augment, model.train_cfg)",
                    "cutmix_alpha": CUTMIX_ALPHA, "cutmix_prob": 1.0}
    if name == "gridmask":
        d_range = scale_d_range(IMAGENET_SETTING["d_range_px"], image_hw)
        stage = dict(type=f"{scope}.GridMask", d_range=d_range,
                     ratio=IMAGENET_SETTING["ratio"], rotate_deg=IMAGENET_SETTING["rotate_deg"],
                     prob=IMAGENET_SETTING["prob"], fill=fill)
        return [stage], {
            "gridmask_d_range_px": list(d_range), "gridmask_ratio": stage["ratio"],
            "gridmask_rotate_deg": stage["rotate_deg"],
            "gridmask_drop_fraction": round(expected_drop_fraction(stage["ratio"]), 4),
            "gridmask_d_scaling": ("none: the paper's ImageNet pixels" if min(image_hw) >= 224
                                   else f"(96, 224) x input side {min(image_hw)} / 224"),
            "gridmask_fill": fill,
        }
    if name != "cutout":
        raise ValueError(f"{name!r} is not one of the erasing family's methods {FAMILY}")
    if scope not in MM_CUTOUT:
        raise ValueError(f"{scope} ships no cutout transform; use method 'gridmask' or "
                         "'random_erasing' for this task")
    side, how = cutout_side_px(image_hw, dataset)
    if scope == "mmaction":
        import benchmark.pipelines.cutout  # noqa: F401  (registers ClipCutout)

        stage = dict(type=MM_CUTOUT[scope], side_px=side, fill=fill, prob=1.0)
        where = ("centre uniform over the pixels, cut at the edges (as the Cutout paper); one "
                 "square per clip, the same in every frame (ours: ClipCutout)")
    elif scope == "mmpretrain":
        stage = dict(type=MM_CUTOUT[scope], shape=side, pad_val=fill, prob=1.0)
        where = ("centre uniform in the image; past the top/left edge the square is moved "
                 "inside, past the bottom/right it is cut (mmcv.cutout)")
    else:
        stage = dict(type=MM_CUTOUT[scope], prob=1.0, n_holes=1, cutout_shape=(side, side),
                     fill_in=tuple(fill), seg_fill_in=None)
        where = ("top-left corner uniform in the image, the square cut at the bottom/right "
                 "edge (mmseg RandomCutOut); labels untouched")
    return [stage], {"cutout_type": MM_CUTOUT[scope], "cutout_side_px": side,
                     "cutout_side_source": how, "cutout_holes": 1, "cutout_prob": 1.0,
                     "cutout_placement": where, "cutout_fill": fill}


def add_gridmask_prob_ramp(cfg: Any) -> dict[str, Any]:
    """Ramp ``gridmask``'s probability as the paper does: add the hook (in place).

    Appends :data:`PROB_RAMP_HOOK` to ``cfg.custom_hooks``; it reads the run's ``max_epochs``
    at run time, after the epochs are set, and the stage's probability is shared with the
    data-loader workers. Importing :mod:`benchmark.pipelines.gridmask` registers the hook
    (mmengine).

    Returns:
        The parameters to record (``gridmask_prob_*``).
    """
    import benchmark.pipelines.gridmask  # noqa: F401  (registers the hook)

    prob, fraction = IMAGENET_SETTING["prob"], IMAGENET_SETTING["prob_ramp_epochs_fraction"]
    hook = dict(type=PROB_RAMP_HOOK, max_prob=prob, ramp_fraction=fraction)
    cfg["custom_hooks"] = [*(cfg.get("custom_hooks") or []), hook]
    return {"gridmask_prob_max": prob,
            "gridmask_prob_ramp": (f"linear 0 -> {prob} over the first {fraction:.0%} of the "
                                   "training epochs (the paper's ImageNet run: 240 of 300)")}


def apply_batch_augment(cfg: Any, scope: str) -> None:
    """Put CutMix into an mmpretrain classifier's ``train_cfg`` (in place).

    Raises:
        ValueError: for another library, or a model config with batch augments already.
    """
    if scope != "mmpretrain":
        raise ValueError(f"cutmix is mmpretrain's batch augment; {scope} models take none")
    model = cfg["model"]
    train_cfg = dict(model.get("train_cfg") or {})
    if train_cfg.get("augments"):
        raise ValueError(f"the model config already has batch augments "
                         f"{train_cfg['augments']!r}; drop them or use another method")
    train_cfg["augments"] = [dict(type="CutMix", alpha=CUTMIX_ALPHA)]
    model["train_cfg"] = train_cfg
