"""Weakly-supervised temporal action localization on THUMOS14 snippet features (mmaction2).

A W-TALC/STPN-style localizer (:class:`tasks.action_localization.mm.WeakTemporalLocalizer`, in
mmaction2's ``MODELS``) learns a temporal class activation map (T-CAM) from video-level labels
of THUMOS14's validation videos; detections cut from the T-CAM of the test videos are scored
with mAP at tIoU 0.1-0.5 and the 0.3:0.7 average, by mmaction2's
``average_precision_at_temporal_iou``. Trained by mmengine's Runner
(:func:`benchmark.engine.mmrun.run_mm`) from ``configs/action_localization/``.

Methods act on the (standardized) feature sequence of each training video, after it is
resampled to the training length (``train_snippets``):

- ``has``: ``HideAndSeekFrames`` hides segments of ``segment_snippets`` consecutive snippets,
  each with probability 0.5, filled with 0 = the training-set mean feature (Singh & Lee hide
  frames of training videos; here the frames are feature snippets).
- ``random_erasing``: :class:`tasks.action_localization.mm.EraseSnippetSpan`, the 1-D counterpart of
  Zhong et al.'s Random Erasing: with p=0.5, one contiguous span of 2%-40% of the snippets is
  filled with 0 (the mean feature).

Dataset root layout (``thumos14-features``)::

    <root>/thumos14.json                       ActionFormer annotations (real)
    <root>/features/<video>.npy                T x D, RGB and flow concatenated, or
    <root>/features/<video>_rgb.npy + _flow.npy
    <root>/features/feature_info.json          optional: {"stride_frames": 16, "fps": null}

``hasbench synth thumos14-features`` writes generated features aligned with the real
annotations (:mod:`tasks.action_localization.synth`). Options: ``max_train_videos`` /
``max_test_videos`` (a fixed seeded choice of validation / test videos), ``train_snippets``,
``segment_snippets`` (HaS), ``feature_stride_frames``, ``feature_fps`` (None: each video's
fps), ``val_interval``, ``batch_size``, ``lr``, ``threads`` (torch CPU threads, default 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.engine import mmrun
from benchmark.engine.mmrun import torch_threads
from benchmark.engine.spec import EXECUTION_OPTIONS, RunSpec, TaskOutput
from benchmark.methods import insert_stages, method_for
from benchmark.user_methods import USER_OPTIONS
from tasks.action_localization.figures import plot_tcam_figure, plot_tcams
from tasks.base import DatasetInfo, MMTask, loader_datasets, require_paths

#: (model, any dataset) -> config file.
CONFIGS = {("wtalc-tiny", None): "wtalc_tiny_thumos14_features.py",
           ("wtalc", None): "wtalc_thumos14_features.py"}
FEATURE_KEY = "snippet_features"
ANNOTATION_NAMES = ("thumos14.json", "annotations/thumos14.json")
#: HaS on feature sequences: hidden segment length(s) in training snippets, drawn per video.
HAS_SEGMENT_SNIPPETS = 4
#: Feature-level random erasing (Zhong et al.'s p and area range, on the time axis).
ERASE = dict(prob=0.5, min_fraction=0.02, max_fraction=0.4, fill=0.0)
DEFAULTS: dict[str, Any] = dict(max_train_videos=None, max_test_videos=None, train_snippets=None,
                                segment_snippets=HAS_SEGMENT_SNIPPETS, feature_stride_frames=None,
                                feature_fps=None, val_interval=None, lr=None, subset_seed=0,
                                threads=1)


def annotation_file(root: Path) -> Path:
    """The annotation json of a dataset root.

    Raises:
        ValueError: when none of :data:`ANNOTATION_NAMES` exists.
    """
    for name in ANNOTATION_NAMES:
        if (Path(root) / name).is_file():
            return Path(root) / name
    raise ValueError(
        f"thumos14-features layout under {root} is missing the annotations "
        f"({' or '.join(ANNOTATION_NAMES)}); copy ActionFormer's thumos14.json there "
        "(a copy of the real one is under $HASBENCH_DATA/thumos14-annotations/)"
    )


def _check_thumos(root: Path) -> None:
    require_paths(root, ["features"], "thumos14-features",
                  hint="Expected features/<video>.npy (or <video>_rgb.npy + <video>_flow.npy); "
                       f"generate some with `hasbench synth thumos14-features --out {root}`.")
    annotation_file(root)


def _synth_thumos(out: Path, seed: int) -> None:
    from tasks.action_localization.synth import write_thumos14_features

    write_thumos14_features(out, seed=seed)


def feature_timeline(root: Path, options: dict[str, Any]) -> tuple[float, float | None]:
    """(stride in frames, fps or None for each video's own) of a root's features.

    Options ``feature_stride_frames`` / ``feature_fps`` win over ``features/feature_info.json``;
    without either, 16-frame snippets at the video's fps.
    """
    info_file = Path(root) / "features" / "feature_info.json"
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    stride = options.get("feature_stride_frames") or info.get("stride_frames") or 16
    fps = options.get("feature_fps") or info.get("fps")
    return float(stride), (float(fps) if fps else None)


def method_stages(method_name: str, options: dict[str, Any]) -> tuple[list[dict], dict[str, Any]]:
    """The training-pipeline stages of a method on feature sequences, and what to record."""
    method = method_for(method_name, options)
    stages: list[dict] = []
    params: dict[str, Any] = {"method": method.name}
    if method.erases:
        stages.append(dict(type="EraseSnippetSpan", keys=(FEATURE_KEY,), **ERASE))
        params.update(re_type="EraseSnippetSpan (one contiguous span of snippets)",
                      re_prob=ERASE["prob"],
                      re_span_fraction=[ERASE["min_fraction"], ERASE["max_fraction"]],
                      re_fill="0 after standardization (training mean feature)")
    if method.hides:
        segment = int(options["segment_snippets"])
        stages.append(dict(type="mmaction.HideAndSeekFrames", keys=(FEATURE_KEY,),
                           hide_prob=method.hide_prob, segment_len=segment, fill=0.0,
                           time_axis=0))
        params.update(has_segment_snippets=segment, has_hide_prob=method.hide_prob,
                      has_fill="0 after standardization (training mean feature)",
                      has_train_snippets=int(options["train_snippets"]))
    return stages, params


@dataclass
class ActionLocalizationTask(MMTask):
    """mAP@tIoU of a weakly-supervised localizer trained with a method on THUMOS14 features."""

    name: str = "action_localization"
    framework: str = "mmaction2"
    metrics: dict[str, bool] = field(default_factory=lambda: {
        "map@0.1": True, "map@0.2": True, "map@0.3": True, "map@0.4": True, "map@0.5": True,
        "map@0.3:0.7": True})
    models: tuple[str, ...] = tuple(model for model, _ in CONFIGS)
    methods: tuple[str, ...] = ("baseline", "random_erasing", "has", "has+random_erasing")
    refused_methods: dict[str, str] = field(default_factory=lambda: {
        name: f"it trains on pre-extracted snippet features (no pixels), {why}; use "
              "random_erasing (a span of snippets) or has"
        for name, why in (("cutout", "so cutout's square in the image has nowhere to go"),
                          ("gridmask", "so gridmask's spatial grid has nowhere to go"),
                          ("cutmix", "and its labels are action segments in time, not one "
                                     "class for mmpretrain's CutMix to mix"))})
    scope: str = "mmaction"
    task_options: frozenset[str] | None = None  # :meth:`options` checks them
    configs: dict[tuple[str, str | None], str] = field(default_factory=lambda: dict(CONFIGS))
    datasets: dict[str, DatasetInfo] = field(default_factory=lambda: {
        "thumos14-features": DatasetInfo(
            "thumos14-features",
            "thumos14.json + features/<video>.npy (T x D) or <video>_{rgb,flow}.npy",
            _check_thumos, default_root="thumos14-features", synth=_synth_thumos,
            prepare="Put I3D snippet features of THUMOS14 (e.g. the W-TALC or ActionFormer "
                    "release) in <root>/features/ and ActionFormer's thumos14.json in <root>.",
            default_model="wtalc-tiny", default_epochs=30,
            # the 200 temporally annotated validation videos, THUMOS14's training set for
            # temporal localization (Idrees et al., CVIU 2017; ActionFormer's thumos14.json)
            train_size=200),
    })

    def check_pretrained(self, spec: RunSpec) -> None:
        """Refused: the localizer trains on precomputed snippet features, with no backbone."""
        raise ValueError("action_localization does not start from pretrained weights: it trains "
                         "a small localizer on precomputed snippet features; drop --pretrained")

    def check_options(self, spec: RunSpec) -> None:
        """Unknown keys and bad values, before anything is generated (:meth:`options`)."""
        self.options(spec)

    def options(self, spec: RunSpec) -> dict[str, Any]:
        """The spec's options over :data:`DEFAULTS` (unknown keys rejected)."""
        passthrough = {"batch_size", "amp", *EXECUTION_OPTIONS, *USER_OPTIONS,
                       "has_hide_prob", "has_placement"}
        unknown = set(spec.option_dict) - set(DEFAULTS) - passthrough
        placement = spec.option_dict.get("has_placement", "pipeline")
        if placement != "pipeline":
            raise ValueError(
                f"has_placement={placement} does not apply to action_localization: HaS hides "
                "snippet features in the pipeline here (has_placement=pipeline)"
            )
        if "has_grid_sizes_px" in unknown:
            raise ValueError(
                "option has_grid_sizes_px (--has-grid-sizes) does not apply to "
                "action_localization: HaS hides segments of snippets here; set their length "
                "with --option segment_snippets=N"
            )
        if unknown:
            raise ValueError(
                f"unknown options {sorted(unknown)} for action_localization; known: "
                f"{sorted(set(DEFAULTS) | passthrough)}"
            )
        return {**DEFAULTS, **spec.option_dict}

    def check(self, spec: RunSpec) -> None:
        """Also check the options and that every selected video has features."""
        super().check(spec)
        from tasks.action_localization import temporal
        from tasks.action_localization.mm import select_videos

        options = self.options(spec)
        root = Path(spec.data_root)
        ann = annotation_file(root)
        for subset, limit in (("Validation", "max_train_videos"), ("Test", "max_test_videos")):
            videos = select_videos(temporal.load_annotations(ann, subset),
                                   options[limit], options["subset_seed"])
            if not videos:
                raise ValueError(f"{ann} has no {subset} videos")
            missing = []
            for video in videos:
                try:
                    temporal.feature_files(root / "features", video.video_id)
                except ValueError:
                    missing.append(video.video_id)
            if missing:
                raise ValueError(
                    f"{len(missing)} {subset} videos have no features in {root / 'features'} "
                    f"(e.g. {missing[:3]}); extract them, or regenerate the features"
                )

    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any]]:
        """The mmengine Config for a resolved spec, with the method's stages inserted."""
        from tasks.action_localization import temporal
        from tasks.action_localization.mm import select_videos

        options = self.options(spec)
        root = Path(spec.data_root)
        ann = annotation_file(root)
        train_videos = select_videos(temporal.load_annotations(ann, "Validation"),
                                     options["max_train_videos"], options["subset_seed"])
        dim = int(temporal.load_features(root / "features", train_videos[0].video_id).shape[1])
        stride, fps = feature_timeline(root, options)
        cfg = self.load_config(spec)
        if options["train_snippets"] is None:
            options["train_snippets"] = int(cfg.train_snippets)
        cfg.model.feature_dim = dim
        cfg.model.num_classes = len(temporal.THUMOS14_CLASSES)
        for loader, dataset in loader_datasets(cfg):
            limit = options["max_train_videos" if loader == "train_dataloader"
                            else "max_test_videos"]
            dataset.update(ann_file=str(ann), feature_dir=str(root / "features"),
                           stride_frames=stride, feature_fps=fps, max_videos=limit,
                           subset_seed=options["subset_seed"],
                           standardize_with=dict(subset="Validation",
                                                 max_videos=options["max_train_videos"],
                                                 subset_seed=options["subset_seed"]))
            for stage in dataset["pipeline"]:
                if stage["type"] == "SampleSnippets":
                    stage["num_snippets"] = int(options["train_snippets"])
        stages, params = method_stages(spec.method, options)
        if stages:
            train = cfg.train_dataloader.dataset
            train.pipeline = insert_stages(list(train.pipeline), stages,
                                           before="PackSnippetInputs")
        interval = options["val_interval"] or cfg.train_cfg.val_interval
        cfg.train_cfg.val_interval = max(1, min(int(interval), spec.epochs))
        if options["lr"] is not None:
            cfg.optim_wrapper.optimizer.lr = float(options["lr"])
        params.update(feature_stride_frames=stride,
                      feature_fps=fps if fps is not None else "video fps",
                      feature_dim=dim, train_snippets=int(options["train_snippets"]),
                      max_train_videos=options["max_train_videos"],
                      max_test_videos=options["max_test_videos"])
        return cfg, params

    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train on the validation videos' labels, test detections on the test videos."""
        from tasks.action_localization import temporal

        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        cfg, params = self.build_config(spec)
        with torch_threads(self.options(spec)["threads"] if spec.device == "cpu" else None):
            result = self.train_and_test(cfg, spec, work_dir)
        artifacts = {}
        figure = plot_tcams(result.runner, work_dir / "tcam.png", n=3, label=spec.method)
        if figure is not None:
            artifacts["tcam"] = figure.name
        runner = result.runner
        return TaskOutput(
            metrics=self.reported(result.metrics), dataset=spec.dataset_label, model=spec.model,
            method_params=params, history=result.history, artifacts=artifacts, split="test",
            extra={"train_videos": len(runner.train_dataloader.dataset),
                   "test_videos": len(runner.test_dataloader.dataset),
                   "classes": len(temporal.THUMOS14_CLASSES)},
        )


def load_trained_model(run_dir: Path) -> tuple[Any, Any, RunSpec]:
    """The trained localizer of a finished run dir, its config and spec."""
    import tasks.action_localization.mm  # noqa: F401  (registers what the config names)

    return mmrun.load_trained_model(TASK, run_dir, scope="mmaction")


def explain(run_dirs: list[Path], out: Path, n: int = 4) -> Path:
    """T-CAMs of ``n`` test videos for finished runs (one line style per run) vs ground truth."""
    from mmaction.registry import DATASETS

    if not run_dirs:
        raise ValueError("explain needs at least one run dir")
    models, cfg = {}, None
    for run_dir in run_dirs:
        model, run_cfg, spec = load_trained_model(Path(run_dir))
        label = spec.method if spec.method not in models else f"{spec.method}/{Path(run_dir).name}"
        models[label] = model
        cfg = cfg or run_cfg
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = plot_tcam_figure(models, dataset, out, n=max(1, min(n, 8)))
    if figure is None:
        raise ValueError("the runs' test set is empty; nothing to explain")
    return figure


TASK = ActionLocalizationTask()
