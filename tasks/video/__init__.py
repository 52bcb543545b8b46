"""Video recognition with Hide-and-Seek on clips (mmaction2 Recognizer3D) and its Grad-CAM.

Configs in ``configs/video/`` inherit mmaction2's own I3D / SlowOnly Kinetics recipes; clips are
decoded by mmaction2's ``DecordInit``/``DecordDecode`` from a video-list layout::

    <root>/videos/*.mp4
    <root>/train_list.txt, <root>/val_list.txt     "videos/<file>.mp4 <label>" per line
    <root>/clip_info.json                          optional: visible frames per clip

Methods (training pipeline only, before ``FormatShape``):

- ``has`` -- ``HideAndSeek``, one grid mask shared by all frames of a clip (grid sizes scaled
  to the frame size, fill = the data preprocessor's mean pixel);
- ``has-frames`` -- ``HideAndSeekFrames``, whole frames hidden in segments of
  ``segment_frames`` (p = 0.5, mean fill), the paper's hiding for video.
- ``random_erasing``: mmaction2's own ``RandomErasing`` (one rectangle erased in every frame of
  the clip), Zhong et al.'s p=0.5, area 2%-40%, aspect 0.3-3.33, filled with the mean pixel.

Metrics: ``top1`` (percent) on the validation list; on generated clips also
``saliency_in_action``: the share (percent) of the Grad-CAM per-frame saliency mass that falls
on the frames where the action is visible, averaged over the validation clips.
Each run writes ``gradcam.png`` / ``gradcam.gif`` / ``gradcam_curve.png``; :func:`explain`
draws them for several runs side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine import mmrun
from benchmark.engine.spec import EXECUTION_OPTIONS, RunSpec, TaskOutput
from benchmark.methods import (
    HAS_FILL_NOTE,
    HAS_OPTIONS,
    Method,
    apply_method_to_mm_config,
    insert_stages,
    method_for,
)
from benchmark.user_methods import USER_OPTIONS
from tasks.base import DatasetInfo, MMTask
from tasks.video.data import check_video_list, load_clip_info, num_classes_of

#: (model, any dataset) -> config file.
CONFIGS = {("i3d-tiny", None): "i3d_tiny_clips.py", ("i3d-r50", None): "i3d_r50_video_list.py",
           ("slowonly-r50", None): "slowonly_r50_video_list.py"}
#: Frame size each model trains at (for HaS grid-size scaling).
FRAME_HW = {"i3d-tiny": (32, 32), "i3d-r50": (224, 224), "slowonly-r50": (224, 224)}
DEFAULTS: dict[str, Any] = dict(segment_frames=2, explain_clips=2, saliency_clips=16, threads=1)
#: mmaction2 RandomErasing with Zhong et al.'s settings.
ERASE = dict(erase_prob=0.5, min_area_ratio=0.02, max_area_ratio=0.4,
             aspect_range=(0.3, 1 / 0.3), mode="const")


def _synth_clips(out: Path, seed: int) -> None:
    from tasks.video.synth import write_video_clips

    write_video_clips(out, seed=seed)


@dataclass
class VideoTask(MMTask):
    """Top-1 of a 3D CNN trained on clips with a method, plus Grad-CAM saliency figures."""

    name: str = "video"
    framework: str = "mmaction2"
    metrics: dict[str, bool] = field(default_factory=lambda: {
        "top1": True, "saliency_in_action": True})
    models: tuple[str, ...] = tuple(model for model, _ in CONFIGS)
    methods: tuple[str, ...] = ("baseline", "random_erasing", "has", "has-frames", "cutout",
                                "gridmask")
    refused_methods: dict[str, str] = field(default_factory=lambda: {
        "cutmix": "cutmix here is mmpretrain's CutMix batch augment, which mmaction2's "
                  "recognizers do not take (mmaction2's own CutmixBlending is another "
                  "implementation, not provided as a method); use gridmask"})
    pretrained_files: dict[str, str] = field(default_factory=lambda: {
        "i3d-r50": "resnet50-0676ba61.pth", "slowonly-r50": "resnet50-0676ba61.pth"})
    scope: str = "mmaction"
    task_options: frozenset[str] | None = None  # :meth:`options` checks them
    configs: dict[tuple[str, str | None], str] = field(default_factory=lambda: dict(CONFIGS))
    metric_names: dict[str, str] = field(default_factory=lambda: {"acc/top1": "top1"})
    datasets: dict[str, DatasetInfo] = field(default_factory=lambda: {
        "clips": DatasetInfo(
            "clips", "videos/*.mp4 + {train,val}_list.txt ('path label'), mmaction2 video list",
            check_video_list("clips"), default_root="clips", synth=_synth_clips,
            prepare="Generate with `hasbench synth clips --out DIR`.",
            default_model="i3d-tiny", default_epochs=8),
        "ucf101": DatasetInfo(
            "ucf101", "videos/<class>/*.avi + {train,val}_list.txt ('path label')",
            check_video_list("ucf101"), default_root="ucf101",
            prepare="Download UCF101 and write mmaction2 video lists (tools/data/ucf101 in "
                    "mmaction2) as train_list.txt / val_list.txt relative to the root.",
            default_model="i3d-r50", default_epochs=100,
            train_size=9_537),  # split 1's trainlist01.txt (Soomro et al., 2012)
    })

    def check_options(self, spec: RunSpec) -> None:
        """Unknown keys and bad values, before anything is generated (:meth:`options`)."""
        self.options(spec)

    def options(self, spec: RunSpec) -> dict[str, Any]:
        """The spec's options over :data:`DEFAULTS` (unknown keys and bad values rejected)."""
        if "has_mode" in spec.option_dict:
            raise ValueError("option has_mode is gone: use --method has-frames to hide whole "
                             "frames, --method has for one grid mask per clip")
        passthrough = {"batch_size", "amp", *EXECUTION_OPTIONS, *USER_OPTIONS, "pretrained",
                       "pretrained_sha256", *HAS_OPTIONS}
        unknown = set(spec.option_dict) - set(DEFAULTS) - passthrough
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)} for video; known: "
                             f"{sorted(set(DEFAULTS) | passthrough)}")
        return {**DEFAULTS, **spec.option_dict}

    def check(self, spec: RunSpec) -> None:
        """Also validate the options."""
        self.options(spec)
        super().check(spec)

    def check_pretrained(self, spec: RunSpec) -> dict[str, Any]:
        """A torchvision-style 2D ResNet file, which mmaction2's I3D inflates (``pretrained2d``).

        Raises:
            ValueError: when the file is missing or holds no 2D ResNet stem and stages.
        """
        from benchmark.engine.pretrained import file_sha256, read_state_dict

        path = self.weights_file(spec)
        state = read_state_dict(path)
        needed = ["conv1.weight", "layer1.0.conv1.weight", "layer4.0.conv1.weight"]
        absent = [k for k in needed if k not in state]
        if absent or state["conv1.weight"].ndim != 4:
            raise ValueError(f"{path} is not a 2D torchvision ResNet checkpoint (missing "
                             f"{absent or ['a 4-D conv1.weight']}); mmaction2 inflates one, "
                             f"e.g. {self.pretrained_files.get(spec.model, 'resnet50-*.pth')}")
        return _InflatedReport(str(path), file_sha256(path), len(state))

    def weights_to_load(self, spec: RunSpec) -> None:
        """None: the backbone's own ``pretrained`` (inflation) loads the file."""
        return None

    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any]]:
        """The mmengine Config for a resolved spec, with the method's stages inserted."""
        options = self.options(spec)
        root = Path(spec.data_root)
        cfg = self.load_config(spec)
        cfg.model.cls_head.num_classes = num_classes_of(root)
        if options.get("pretrained"):  # mmaction2 inflates the 2D ResNet weights itself
            cfg.model.backbone.update(pretrained=str(self.weights_file(spec)), pretrained2d=True)
        for loader, split in (("train_dataloader", "train"), ("val_dataloader", "val"),
                              ("test_dataloader", "val")):
            dataset = cfg[loader]["dataset"]
            dataset.update(type="VideoDataset", ann_file=str(root / f"{split}_list.txt"),
                           data_prefix=dict(video=str(root)))
        return self._apply_method(cfg, spec.method, options, FRAME_HW[spec.model])

    def _apply_method(self, cfg: Any, method_name: str, options: dict[str, Any],
                      frame_hw: tuple[int, int]) -> tuple[Any, dict[str, Any]]:
        from benchmark.methods import mean_in_pipeline_order

        method = method_for(method_name, options)
        mean = mean_in_pipeline_order(cfg.model.data_preprocessor)
        params: dict[str, Any] = {"method": method.name}
        stages: list[dict] = []
        if method.erases:
            stages.append(dict(type="mmaction.RandomErasing", fill_color=[round(v) for v in mean],
                               **ERASE))
            params.update({f"re_{k}": v for k, v in ERASE.items()},
                          re_fill_color=[round(v) for v in mean],
                          re_type="mmaction2 RandomErasing (same rectangle in every frame)")
        if method.hides and not method.hides_frames:
            has_only = Method("has", hides=True, grid_sizes_px=method.grid_sizes_px,
                              hide_prob=method.hide_prob, placement=method.placement,
                              fill=method.fill, grid_policy=method.grid_policy)
            cfg, has_params = apply_method_to_mm_config(cfg, has_only, scope=self.scope,
                                                        image_hw=frame_hw)
            params.update({k: v for k, v in has_params.items() if k != "method"},
                          has_mode="spatial (one mask shared by the clip's frames)")
        elif method.hides:
            segment = int(options["segment_frames"])
            stages.append(dict(type="mmaction.HideAndSeekFrames", keys=("imgs",),
                               hide_prob=method.hide_prob, fill="mean", mean=mean,
                               segment_len=segment))
            params.update(has_mode="frames", has_segment_frames=segment,
                          has_hide_prob=method.hide_prob,
                          has_fill=HAS_FILL_NOTE)
        if method.augment in ("gridmask", "cutout"):  # one mask / square for the whole clip
            cfg, family_params = apply_method_to_mm_config(cfg, method, scope=self.scope,
                                                           image_hw=frame_hw)
            params.update({k: v for k, v in family_params.items() if k != "method"},
                          **{f"{method.augment}_mode": "one mask shared by the clip's frames"})
        if stages:
            train = cfg.train_dataloader.dataset
            train.pipeline = insert_stages(list(train.pipeline), stages, before="FormatShape")
        return cfg, params

    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train, validate, test; Grad-CAM figures and the saliency metric of the trained model."""
        from benchmark.engine.mmrun import torch_threads

        options = self.options(spec)
        cfg, params = self.build_config(spec)
        work_dir = Path(work_dir)
        with torch_threads(options["threads"] if spec.device == "cpu" else None):
            result = self.train_and_test(cfg, spec, work_dir)
            root = Path(spec.data_root)
            model = result.runner.model.eval()
            metrics = {"top1": result.metrics["top1"] * 100.0}  # mmaction2 reports a fraction
            history = [{k: (v * 100.0 if k == "top1" else v) for k, v in row.items()}
                       for row in result.history]
            info = load_clip_info(root)
            artifacts = {}
            if int(options["explain_clips"]) > 0:
                clips = explain_clips(root, {spec.method: model}, cfg,
                                      n=int(options["explain_clips"]))
                paths = _write(clips, work_dir / "gradcam.png")
                artifacts.update({f"gradcam_{k}": p.name for k, p in paths.items()})
            if info and int(options["saliency_clips"]) > 0:
                clips = explain_clips(root, {spec.method: model}, cfg,
                                      n=int(options["saliency_clips"]))
                shares = [_saliency_share(c, spec.method) for c in clips]
                metrics["saliency_in_action"] = 100.0 * float(np.mean(shares))
        return TaskOutput(
            metrics=metrics, dataset=spec.dataset_label, model=spec.model,
            method_params=params, history=history, artifacts=artifacts, split="val",
            extra={"num_classes": int(cfg.model.cls_head.num_classes)},
        )


@dataclass(frozen=True)
class _InflatedReport:
    """What a record says about weights mmaction2 inflates (its own counts are not exposed)."""

    path: str
    sha256: str
    tensors_in_file: int

    def as_record(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "loaded": None, "missing": None,
                "unexpected": None, "rule": "mmaction2 pretrained2d inflation",
                "tensors_in_file": self.tensors_in_file}


def explain_clips(root: Path, models: dict[str, Any], cfg: Any, n: int = 2) -> list:
    """Grad-CAM of the first ``n`` validation clips for each model (:mod:`tasks.video.cam`)."""
    from tasks.video.cam import explain_clips as grad_cam_clips

    return grad_cam_clips(root, models, cfg, n)


def _write(clips, out: Path) -> dict[str, Path]:
    from tasks.video.cam import write_explanation

    return write_explanation(clips, out)


def _saliency_share(clip, label: str) -> float:
    from tasks.video.cam import saliency_in_window

    return saliency_in_window(clip.cams[label], clip.visible_frames)


def load_trained_model(run_dir: Path) -> tuple[Any, Any, RunSpec]:
    """The trained recognizer of a finished run dir, its config and spec."""
    import benchmark.pipelines  # noqa: F401  (registers what the config names)

    return mmrun.load_trained_model(TASK, run_dir, scope="mmaction")


def explain(run_dirs: list[Path], out: Path, n: int = 4) -> Path:
    """Grad-CAM strip, GIF and saliency curves of ``n`` validation clips for finished runs.

    Runs are compared on the same clips (the first run's dataset); each is labelled by its
    method. Returns the PNG strip (the GIF and ``<stem>_curve.png`` are written beside it).
    """
    if not run_dirs:
        raise ValueError("explain needs at least one run dir")
    models, cfg, root = {}, None, None
    for run_dir in run_dirs:
        model, run_cfg, spec = load_trained_model(Path(run_dir))
        label = spec.method if spec.method not in models else f"{spec.method}/{Path(run_dir).name}"
        models[label] = model
        if cfg is None:
            cfg, root = run_cfg, Path(spec.data_root)
    clips = explain_clips(root, models, cfg, n=max(1, min(n, 8)))
    return _write(clips, Path(out))["strip"]


TASK = VideoTask()
