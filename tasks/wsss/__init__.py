"""Weakly-supervised semantic segmentation (WSSS): CAM seeds -> pseudo masks -> a segmenter.

The HaS paper's WSSS experiment (DCSP with a HaS-trained localization network, VOC 2012 val
mIoU) as three stages of one run, each kept in its own folder of the run's work dir so that a
rerun resumes at the stage it stopped in:

1. ``classifier/``: an mmpretrain multi-label classifier (GAP + ``MultiLabelLinearClsHead``,
   sigmoid BCE) trained on image-level labels -- the classes of each training mask
   (:mod:`tasks.wsss.data`) -- with the method under test in its training pipeline only
   (:func:`benchmark.methods.apply_method_to_mm_config`, as WSOL does). Its val mAP goes to
   the record's ``extra`` (``cls_map``, mmpretrain's ``AveragePrecision`` over all 20 classes:
   a class absent from val counts 0, so on the generated scenes' 5 classes it is at most 25).
2. ``seeds/``: CAMs of the classes present, normalized to max 1, against a constant background
   score (``bg_threshold``, default 0.15, IRN's ``cam_eval_thres``); the argmax is the pseudo
   mask, written as palette PNGs in mmseg's layout. ``seed_miou``: their mIoU against the
   training images' ground truth (:mod:`tasks.wsss.seeds`). No dense CRF (none installs here).
3. ``segmentation/``: an mmseg FCN / DeepLabV3 (``configs/wsss/``, inheriting
   ``configs/segmentation/``) trained on the pseudo masks and tested with mmseg's
   ``IoUMetric`` on the val split's real masks: ``miou``, ``aacc``, ``macc`` (percent).

The stage-1 classifier is trained for ``RunSpec.epochs``; the segmenter for the option
``seg_epochs`` (default: the segmentation task's VOC schedule), with ``seg_batch_size`` and
``seg_lr`` if given (``batch_size`` and ``lr`` are the classifier's). ``--pretrained`` (an
ImageNet ResNet-50, torchvision's file) initializes both stages' backbones.

A stage is done when its ``stage.json`` is written (last); a rerun skips done stages, and
mmengine resumes an interrupted training stage from its last checkpoint. A done stage whose
outputs are gone is refused before anything trains (:meth:`WSSSTask.check_resume`).
:func:`explain` (``hasbench explain``) draws the runs' pseudo masks beside the ground truth.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmark.engine.spec import RunSpec, TaskOutput
from benchmark.erasing.family import PIPELINE_FAMILY
from benchmark.voc import VOC_PREPARE, voc_root
from tasks.base import IMAGE_METHODS, DatasetInfo, MMTask
from tasks.wsss import seeds as seeding
from tasks.wsss.data import SPLITS, check_wsss_layout

#: model -> classifier config in ``configs/wsss/`` (it names its segmenter's, ``seg_config``).
CONFIGS = {
    ("resnet-tiny-fcn", None): "cam_resnet-tiny_voc-64px.py",
    ("resnet50-deeplabv3", None): "cam_resnet50_voc-448px.py",
}
#: mmseg IoUMetric key -> results-table metric name (percent).
SEG_METRICS = {"mIoU": "miou", "aAcc": "aacc", "mAcc": "macc"}
#: The segmenter's epochs when ``seg_epochs`` is not given (the segmentation task's VOC ones).
SEG_EPOCHS = {"voc12aug": 27, "voc12": 200}
#: The stages' folders in the run's work dir, in order.
STAGES = ("classifier", "seeds", "segmentation")
DONE_FILE = seeding.DONE_FILE
TASK_OPTIONS = frozenset({"bg_threshold", "seg_epochs", "seg_batch_size", "seg_lr",
                          "eval_batch_size"})


def _synth(out: Path, seed: int) -> None:
    from tasks.wsss.synth import write_wsss_voc_layout

    write_wsss_voc_layout(out, seed=seed)


def _datasets() -> dict[str, DatasetInfo]:
    return {
        "voc12aug": DatasetInfo(
            "voc12aug", "VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,SegmentationClassAug,"
            "ImageSets/Segmentation/{train,val,aug}.txt} (mmseg's layout; image labels from "
            "the masks)", check_wsss_layout("voc12aug"), default_root="voc2012", synth=_synth,
            prepare=VOC_PREPARE, default_model="resnet50-deeplabv3", default_epochs=5,
            train_size=10_582),  # VOC2012 train + SBD (Hariharan et al., 2011): mmseg's docs
        "voc12": DatasetInfo(
            "voc12", "VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,"
            "ImageSets/Segmentation/{train,val}.txt} (image labels from the masks)",
            check_wsss_layout("voc12"), default_root="voc2012", synth=_synth,
            prepare=VOC_PREPARE, default_model="resnet50-deeplabv3", default_epochs=5,
            train_size=1_464),  # ImageSets/Segmentation/train.txt (Everingham et al., 2015)
    }


def _positive(options: dict[str, Any], key: str, kind: type) -> None:
    value = options.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or (
            kind is int and int(value) != value):
        what = "a whole number >= 1" if kind is int else "a positive number"
        raise ValueError(f"option {key}={value!r} must be {what}")


def _read_done(stage_dir: Path) -> dict[str, Any] | None:
    path = stage_dir / DONE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


@dataclass
class WSSSTask(MMTask):
    """``seed_miou`` of the CAM pseudo masks and ``miou``/``aacc``/``macc`` of the segmenter."""

    name: str = "wsss"
    framework: str = "mmpretrain"
    scope: str = "mmpretrain"
    registers: tuple[str, ...] = ("tasks.wsss.datasets",)
    task_options: frozenset[str] | None = TASK_OPTIONS
    metrics: dict[str, bool] = field(default_factory=lambda: {
        "seed_miou": True, "miou": True, "aacc": True, "macc": True})
    datasets: dict[str, DatasetInfo] = field(default_factory=_datasets)
    models: tuple[str, ...] = ("resnet-tiny-fcn", "resnet50-deeplabv3")
    methods: tuple[str, ...] = (*IMAGE_METHODS, *PIPELINE_FAMILY)
    configs: dict[tuple[str, str | None], str] = field(default_factory=lambda: dict(CONFIGS))
    metric_names: dict[str, str] = field(default_factory=lambda: {
        "multi-label/mAP": "cls_map"})
    #: torchvision's ImageNet ResNet-50, for the classifier and the segmenter's backbone.
    pretrained_files: dict[str, str] = field(default_factory=lambda: {
        "resnet50-deeplabv3": "resnet50-0676ba61.pth"})

    # --------------------------------------------------------------- options
    def check_options(self, spec: RunSpec) -> None:
        """Also reject a background threshold outside (0, 1) and bad stage-3 numbers."""
        super().check_options(spec)
        options = spec.option_dict
        if "bg_threshold" in options:
            seeding.check_bg_threshold(options["bg_threshold"])
        for key, kind in (("seg_epochs", int), ("seg_batch_size", int),
                          ("eval_batch_size", int), ("seg_lr", float)):
            _positive(options, key, kind)

    def check(self, spec: RunSpec) -> None:
        """Also refuse a distributed launcher: the three stages run in one process."""
        super().check(spec)
        if spec.option_dict.get("launcher", "none") != "none":
            raise ValueError("wsss runs its three stages in one process (the seeds stage is not "
                             "distributed); give the run one GPU (resources: {gpus: 1})")

    def check_pretrained(self, spec: RunSpec) -> Any:
        """Match the weights against the classifier and the segmenter (both start from them).

        Returns:
            The classifier's load report (the record's ``pretrained``).
        """
        from benchmark.engine.pretrained import check_pretrained

        report = super().check_pretrained(spec)
        from benchmark.engine import compat

        compat.apply()
        from mmengine.registry import MODELS, init_default_scope

        init_default_scope("mmseg")
        segmenter = MODELS.build(self.build_seg_config(spec, Path("unused")).model)
        check_pretrained({k: v.shape for k, v in segmenter.state_dict().items()},
                         self.weights_file(spec), new_prefixes=self.new_layer_prefixes,
                         model_name=f"{spec.model}'s segmenter")
        return report

    def bg_threshold(self, spec: RunSpec) -> float:
        """The run's background threshold (:data:`tasks.wsss.seeds.DEFAULT_BG_THRESHOLD`)."""
        return seeding.check_bg_threshold(
            spec.option_dict.get("bg_threshold", seeding.DEFAULT_BG_THRESHOLD))

    # --------------------------------------------------------------- configs
    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any]]:
        """Stage 1's classifier config (data, method inserted) and the run's parameters."""
        cfg = self.load_config(spec)
        base = str(voc_root(Path(spec.data_root)))
        train, evaluation = SPLITS[spec.dataset]
        for loader, split in (("train_dataloader", train), ("val_dataloader", evaluation),
                              ("test_dataloader", evaluation)):
            cfg[loader].dataset.update(data_root=base, ann_file=split.list_file,
                                       mask_dir=split.mask_dir)
        if spec.option_dict.get("eval_batch_size"):
            for loader in ("val_dataloader", "test_dataloader"):
                cfg[loader]["batch_size"] = int(spec.option_dict["eval_batch_size"])
        cfg, params = self.apply_method(cfg, spec, tuple(cfg.input_hw))
        params.update(bg_threshold=self.bg_threshold(spec), seg_config=cfg.seg_config,
                      seg_epochs=self.seg_epochs(spec), input_hw_px=list(cfg.input_hw),
                      crf=False)
        return cfg, params

    def seg_epochs(self, spec: RunSpec) -> int:
        """Stage 3's epochs: the ``seg_epochs`` option, else :data:`SEG_EPOCHS`."""
        return int(spec.option_dict.get("seg_epochs", SEG_EPOCHS[spec.dataset]))

    def build_seg_config(self, spec: RunSpec, seeds_dir: Path) -> Any:
        """Stage 3's mmseg config: trained on the pseudo masks, tested on val's real masks."""
        from mmengine import Config, ConfigDict

        from benchmark.engine.mmrun import use_plain_batchnorm

        cls_cfg = self.load_config(spec)
        cfg = Config.fromfile(str(self.config_dir / cls_cfg.seg_config))
        base = str(voc_root(Path(spec.data_root)))
        cfg.train_dataloader.dataset = ConfigDict(
            type="PascalVOCDataset", data_root=base,
            ann_file=str(Path(seeds_dir) / seeding.LIST_FILE),
            data_prefix=dict(img_path="JPEGImages",
                             seg_map_path=str(Path(seeds_dir) / seeding.MASK_DIR)),
            pipeline=cfg.train_pipeline)
        for loader in ("val_dataloader", "test_dataloader"):
            cfg[loader].dataset.data_root = base
            cfg[loader].dataset.ann_file = SPLITS[spec.dataset][1].list_file
        if spec.option_dict.get("launcher", "none") == "none":
            use_plain_batchnorm(cfg.model)
        return cfg

    def seg_spec(self, spec: RunSpec) -> RunSpec:
        """The spec stage 3 trains under: its epochs, ``seg_batch_size`` / ``seg_lr``."""
        options = {k: v for k, v in spec.option_dict.items() if k not in ("batch_size", "lr")}
        for key in ("batch_size", "lr"):
            if f"seg_{key}" in options:
                options[key] = options[f"seg_{key}"]
        return RunSpec(**{**asdict(spec), "epochs": self.seg_epochs(spec),
                          "options": tuple(sorted(options.items()))})

    # --------------------------------------------------------------- resume
    def check_resume(self, spec: RunSpec, work_dir: Path) -> None:
        """Refuse a work dir whose done stages lack their outputs (before anything trains).

        Raises:
            ValueError: naming the missing files and the file to delete to redo the stage.
        """
        classifier, seeds, segmentation = (Path(work_dir) / s for s in STAGES)
        done = _read_done(classifier)
        if done is not None and not (classifier / done["checkpoint"]).is_file():
            raise ValueError(
                f"wsss stage 1 (classifier) in {work_dir} is marked done but its checkpoint "
                f"{classifier / done['checkpoint']} is missing; delete "
                f"{classifier / DONE_FILE} to retrain the classifier (and {seeds} with it), or "
                f"delete the work dir to rerun every stage")
        done_seeds = _read_done(seeds)
        if done_seeds is not None:
            listed = seeds / seeding.LIST_FILE
            ids = listed.read_text().split() if listed.is_file() else []
            missing = [f"{seeding.MASK_DIR}/{i}.png" for i in ids
                       if not (seeds / seeding.MASK_DIR / f"{i}.png").is_file()]
            if len(ids) != done_seeds["images"] or missing:
                detail = ", ".join(missing[:3]) or f"{listed} lists {len(ids)} images"
                raise ValueError(
                    f"wsss stage 2 (seeds) in {work_dir} is marked done but its pseudo masks "
                    f"are incomplete ({detail}); delete {seeds / DONE_FILE} to make the seeds "
                    f"again (and {segmentation}, trained on them)")
        elif any(segmentation.glob("epoch_*.pth")):
            raise ValueError(
                f"wsss stage 3 (segmentation) in {work_dir} has checkpoints but the pseudo masks "
                f"it trained on ({seeds / DONE_FILE}) are missing; delete {segmentation} to "
                f"train it again on new seeds")

    # --------------------------------------------------------------- the run
    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Run the stages not done yet; return the seeds' and the segmenter's metrics."""
        work_dir = Path(work_dir)
        self.check_resume(spec, work_dir)
        cfg, params = self.build_config(spec)
        classifier = self.train_classifier(cfg, spec, work_dir / STAGES[0])
        seeds = self.make_seeds(cfg, spec, work_dir / STAGES[0], work_dir / STAGES[1])
        segmenter = self.train_segmenter(spec, work_dir / STAGES[1], work_dir / STAGES[2])
        seconds = {name: stage["seconds"] for name, stage in zip(
            STAGES, (classifier, seeds, segmenter), strict=True)}
        return TaskOutput(
            metrics={"seed_miou": seeds["seed_miou"],
                     **{k: segmenter["metrics"][k] for k in ("miou", "aacc", "macc")}},
            dataset=spec.dataset_label, model=spec.model, method_params=params,
            history=segmenter["history"], split="val",
            artifacts={"pseudo_masks": f"{STAGES[1]}/{seeding.MASK_DIR}"},
            extra={"cls_map": classifier["metrics"].get("cls_map"),
                   "classifier_history": classifier["history"],
                   "seed_images": seeds["images"], "stage_seconds": seconds,
                   "seg_config": params["seg_config"]})

    def train_classifier(self, cfg: Any, spec: RunSpec, stage_dir: Path) -> dict[str, Any]:
        """Stage 1 (skipped when done): train and test the classifier; its ``stage.json``."""
        from benchmark.engine.mmrun import latest_checkpoint

        done = _read_done(stage_dir)
        if done is not None:
            return done
        start = time.perf_counter()
        result = self.train_and_test(cfg, spec, stage_dir)
        done = {"checkpoint": latest_checkpoint(stage_dir).name, "metrics": result.metrics,
                "history": result.history, "seconds": round(time.perf_counter() - start, 2)}
        (stage_dir / DONE_FILE).write_text(json.dumps(done, indent=1))
        return done

    def make_seeds(self, cfg: Any, spec: RunSpec, classifier_dir: Path,
                   stage_dir: Path) -> dict[str, Any]:
        """Stage 2 (skipped when done): the pseudo masks from the classifier's CAMs."""
        done = _read_done(stage_dir)
        if done is not None:
            return done
        from benchmark.engine import compat

        compat.apply()  # also lets torch.load read mmengine's checkpoints
        from mmengine.registry import MODELS, init_default_scope
        from mmengine.runner import load_checkpoint

        start = time.perf_counter()
        init_default_scope(self.scope)
        model = MODELS.build(cfg.model)
        checkpoint = classifier_dir / _read_done(classifier_dir)["checkpoint"]
        load_checkpoint(model, str(checkpoint), map_location="cpu", logger="silent")
        preprocessor = cfg.get("data_preprocessor") or cfg.model.data_preprocessor
        model.to("cuda" if spec.device == "cuda" else "cpu")
        summary = seeding.make_seeds(
            model.eval(), voc_root(Path(spec.data_root)), SPLITS[spec.dataset][0], stage_dir,
            input_hw=tuple(cfg.input_hw), preprocessor=preprocessor,
            bg_threshold=self.bg_threshold(spec))
        summary["seconds"] = round(time.perf_counter() - start, 2)
        (stage_dir / DONE_FILE).write_text(json.dumps(summary, indent=1))
        return summary

    def train_segmenter(self, spec: RunSpec, seeds_dir: Path, stage_dir: Path) -> dict[str, Any]:
        """Stage 3 (skipped when done): the segmenter on the pseudo masks, tested on val."""
        from benchmark.engine.mmrun import run_mm

        done = _read_done(stage_dir)
        if done is not None:
            return done
        start = time.perf_counter()
        result = run_mm(self.build_seg_config(spec, seeds_dir), self.seg_spec(spec), stage_dir,
                        scope="mmseg", pretrained=self.weights_to_load(spec),
                        new_layer_prefixes=self.new_layer_prefixes)
        rename = {k: SEG_METRICS.get(k, k) for k in result.metrics}
        done = {"metrics": {rename[k]: v for k, v in result.metrics.items()},
                "history": [{SEG_METRICS.get(k, k): v for k, v in row.items()}
                            for row in result.history],
                "seconds": round(time.perf_counter() - start, 2)}
        (stage_dir / DONE_FILE).write_text(json.dumps(done, indent=1))
        return done


def explain(run_dirs: list[Path], out: Path, n: int = 8) -> Path:
    """Pseudo masks of runs (e.g. baseline and HaS) beside the ground truth, as a PNG.

    See :func:`tasks.wsss.figures.explain`.
    """
    from tasks.wsss.figures import explain as draw

    return draw(run_dirs, out, n=n)


TASK = WSSSTask()
