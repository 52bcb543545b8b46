"""Weakly-supervised object localization (WSOL) with CAM on mmpretrain — the HaS paper's task.

A classifier with global average pooling before its linear layer is trained with image labels
only (boxes are never loaded for training). At test time the class activation map (CAM) of the
predicted and of the ground-truth class gives boxes, scored four ways (percent, in the table):

* ``top1_cls``: top-1 classification accuracy;
* ``top1_loc``: class right and IoU ≥ 0.5 between the GT box and the box around the largest
  connected component of the predicted class's CAM thresholded at 20% of its max (CAM paper);
* ``gt_known_loc``: the same box from the ground-truth class's CAM, IoU ≥ 0.5;
* ``maxboxaccv2``: wsolevaluation's MaxBoxAccV2 (CAM threshold swept, boxes from all contours,
  best threshold, averaged over IoU 0.3/0.5/0.7); per-IoU values go to ``extra``.

Images with several GT boxes count the best match. Boxes are rescaled with the image by the
test pipeline's ``Resize`` so the CAM (computed at the network input size) and the boxes share
pixels. Degenerate CAMs (constant, all-zero, NaN) give no box (IoU 0); see
:mod:`tasks.wsol.boxes`.

Models (``configs/wsol/``, inheriting mmpretrain's): ``resnet18-small`` (ResNet_CIFAR-18 at
1/4 width for CPU, 64x64 inputs, 8x8 CAM), ``resnet50`` (last stage stride 1, as in
wsolevaluation), ``vgg16-gap`` (VGG16 conv + conv1024 + GAP + linear), and the HaS paper's
``alexnet-gap`` (torchvision AlexNet conv1-5, pool5 with stride 1, two conv512, GAP + linear;
11x11 CAM at 224 px; at 64 px the backbone upsamples its input 2x for a 5x5 CAM) and
``googlenet-gap`` (torchvision GoogLeNet to inception4e + conv1024, GAP + linear; 14x14 at
224 px, 4x4 at 64 px); see :mod:`tasks.wsol.models`. All start from random weights (no
downloads).

HaS grid sizes (``has``: 0/16/32/44/56 px; ``has-16`` ... fixed) refer to 224-pixel inputs.
For smaller inputs ``benchmark.methods.scale_grid_sizes`` keeps the cell-to-image ratio:
``s -> max(1, round(s * min(H, W) / 224))``, so 64x64 Tiny ImageNet trains with
(0, 5, 9, 13, 16) px cells. Hidden pixels get the dataset mean (0 after normalization).
``has-conv`` hides cells of a feature map instead (default: the backbone's first conv, AlexNet's
conv1 as in the paper; 5/11 feature-map pixels at a 55-pixel map), in training only; see
:mod:`benchmark.conv_hiding`.

Options (``RunSpec.options``): ``batch_size`` (training), ``eval_batch_size``, ``lr``,
``val_interval`` (epochs between validations; the history then has fewer rows),
``num_workers``, ``pooling`` (``gap``, the default, or ``gmp``: global max pooling before the
linear classifier, the paper's GAP-vs-GMP analysis; CAMs the same way, see
:mod:`tasks.wsol.pooling`).

Each run writes ``cam_examples.png`` (CAM overlays of the first test images, GT box green,
predicted box red) and ``cams.npz`` (what the figure needs) into its work dir; :func:`explain`
puts several runs (e.g. baseline and HaS) side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine import mmrun
from benchmark.engine.spec import RunSpec, TaskOutput
from benchmark.erasing.family import PIPELINE_FAMILY
from benchmark.methods import get_method
from tasks.base import (
    DROPOUT_METHODS,
    IMAGE_METHODS,
    DatasetInfo,
    MMTask,
    loader_datasets,
    set_num_classes,
)
from tasks.wsol import boxes as localization
from tasks.wsol import data as layouts
from tasks.wsol import pooling as poolings
from tasks.wsol.figures import EXAMPLES, collect_examples, draw_examples, examples_from

#: (model, dataset) -> config file.
CONFIGS = {
    ("resnet18-small", "tiny-imagenet"): "resnet18_small_tiny_imagenet_64px.py",
    **{(model, dataset): f"{stem}_{suffix}.py"
       for model, stem in (("resnet50", "resnet50"), ("vgg16-gap", "vgg16_gap"),
                           ("alexnet-gap", "alexnet_gap"), ("googlenet-gap", "googlenet_gap"))
       for dataset, suffix in (("tiny-imagenet", "tiny_imagenet_64px"), ("cub", "cub_224px"),
                               ("ilsvrc", "ilsvrc_224px"), ("wsoleval", "wsoleval_224px"))},
}
#: dataset -> (network input (H, W), evaluation split)
DATASET_INPUTS = {
    "tiny-imagenet": ((64, 64), "val"),
    "cub": ((224, 224), "test"),
    "ilsvrc": ((224, 224), "val"),
    "wsoleval": ((224, 224), "test"),
}
METRIC_KEYS = ("top1_cls", "top1_loc", "gt_known_loc", "maxboxaccv2")
_PARSERS = {"tiny-imagenet": layouts.parse_tiny_imagenet, "cub": layouts.parse_cub,
            "ilsvrc": layouts.parse_ilsvrc, "wsoleval": layouts.parse_wsoleval}


def _synth(writer_name: str):
    def synth(out: Path, seed: int) -> None:
        from tasks.wsol import synth as wsol_synth

        getattr(wsol_synth, writer_name)(out, seed=seed)

    return synth


def _datasets() -> dict[str, DatasetInfo]:
    return {
        "tiny-imagenet": DatasetInfo(
            "tiny-imagenet",
            "wnids.txt, train/<wnid>/images/*.JPEG + train/<wnid>/<wnid>_boxes.txt, "
            "val/images/*.JPEG + val/val_annotations.txt",
            layouts.check_tiny_imagenet, default_root="tiny-imagenet-10",
            synth=_synth("write_tiny_imagenet"),
            prepare="Unzip tiny-imagenet-200.zip (cs231n.stanford.edu/tiny-imagenet-200.zip).",
            default_model="resnet18-small", default_epochs=4,
            train_size=100_000),  # 200 classes x 500 train images (cs231n's release)
        "cub": DatasetInfo(
            "cub", "images/<class>/*.jpg, images.txt, image_class_labels.txt, "
            "train_test_split.txt, bounding_boxes.txt, classes.txt",
            layouts.check_cub, default_root="CUB_200_2011", synth=_synth("write_cub"),
            prepare="Extract CUB_200_2011.tgz (www.vision.caltech.edu/datasets/cub_200_2011).",
            default_model="resnet50", default_epochs=100,
            train_size=5_994),  # train_test_split.txt's train side (Wah et al., 2011)
        "ilsvrc": DatasetInfo(
            "ilsvrc", "train/<wnid>/*.JPEG, val/*.JPEG, bbox_val/*.xml, val.txt",
            layouts.check_ilsvrc, default_root="ILSVRC", synth=_synth("write_ilsvrc"),
            prepare="Extract ILSVRC2012 train/val and ILSVRC2012_bbox_val_v3.tgz (image-net.org).",
            default_model="resnet50", default_epochs=90,
            train_size=1_281_167),  # ILSVRC-2012 train (Russakovsky et al., IJCV 2015)
        "wsoleval": DatasetInfo(
            "wsoleval", "images + metadata/{train,test}/{image_ids,class_labels,"
            "localization,image_sizes}.txt (wsolevaluation format)",
            layouts.check_wsoleval, synth=_synth("write_wsoleval"),
            prepare="Put wsolevaluation's metadata/<DATASET> folder at <root>/metadata.",
            default_model="resnet50", default_epochs=50),
        # wsoleval: the metadata decides the training set (Choe et al., CVPR 2020: ImageNet
        # 1,281,167, CUB 5,994, OpenImages 29,819 images), so no train_size.
    }


def num_classes(dataset: str, root: str | Path) -> int:
    """Number of classes of a dataset in its layout (read from its class list)."""
    classes, _ = _PARSERS[dataset](Path(root), "train", False)
    return len(classes)


@dataclass
class WSOLTask(MMTask):
    """Top-1 Cls, Top-1 Loc, GT-known Loc and MaxBoxAccV2 of a CAM classifier."""

    name: str = "wsol"
    framework: str = "mmpretrain"
    metrics: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(METRIC_KEYS, True))
    datasets: dict[str, DatasetInfo] = field(default_factory=_datasets)
    models: tuple[str, ...] = ("resnet18-small", "resnet50", "vgg16-gap", "alexnet-gap",
                               "googlenet-gap")
    methods: tuple[str, ...] = (*IMAGE_METHODS, *DROPOUT_METHODS, *PIPELINE_FAMILY, "cutmix",
                                "has-conv", "full-image")
    scope: str = "mmpretrain"
    registers: tuple[str, ...] = ("tasks.wsol.mm",)
    task_options: frozenset[str] | None = frozenset({"eval_batch_size", "val_interval",
                                                      "pooling"})
    #: torchvision model-zoo files (``vgg16-gap`` has BatchNorm here, so its vgg16_bn).
    pretrained_files: dict[str, str] = field(default_factory=lambda: {
        "resnet50": "resnet50-0676ba61.pth", "vgg16-gap": "vgg16_bn-6c64b313.pth",
        "alexnet-gap": "alexnet-owt-7be5be79.pth", "googlenet-gap": "googlenet-1378be20.pth"})
    configs: dict[tuple[str, str | None], str] = field(default_factory=lambda: dict(CONFIGS))

    def check_options(self, spec: RunSpec) -> None:
        """Also reject a ``pooling`` other than ``gap`` / ``gmp`` (before anything is built)."""
        super().check_options(spec)
        if "pooling" in spec.option_dict:
            poolings.check_pooling(spec.option_dict["pooling"])

    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any]]:
        """The mmengine Config for a resolved spec (data root, classes), method inserted."""
        cfg = self.load_config(spec)
        pooling = spec.option_dict.get("pooling")
        if pooling is not None:  # without it the configs' GAP stays as it is (same fingerprint)
            poolings.set_pooling(cfg, pooling)
        loader_datasets(cfg, spec.data_root)
        set_num_classes(cfg, num_classes(spec.dataset, spec.data_root))
        batch = spec.option_dict.get("eval_batch_size")
        if batch:
            for loader in ("val_dataloader", "test_dataloader"):
                cfg[loader]["batch_size"] = int(batch)
        if spec.option_dict.get("lr") is not None:
            cfg.optim_wrapper.optimizer.lr = float(spec.option_dict["lr"])
        if spec.option_dict.get("val_interval"):
            cfg.train_cfg.val_interval = int(spec.option_dict["val_interval"])
        cfg, params = self.apply_method(cfg, spec, DATASET_INPUTS[spec.dataset][0])
        return cfg, params if pooling is None else {**params, "pooling": pooling}

    def renamed(self, values: dict[str, Any]) -> dict[str, Any]:
        """Our metric's keys without their ``wsol/`` prefix."""
        return {k.removeprefix("wsol/"): v for k, v in values.items()}

    def test_split(self, spec: RunSpec) -> str:
        """Tiny ImageNet and ILSVRC test on their val split, CUB and wsolevaluation on test."""
        return DATASET_INPUTS[spec.dataset][1]

    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train with labels only, test the localization, write the CAM figure."""
        import tasks.wsol.mm  # noqa: F401  (registers model, metric, datasets)

        work_dir = Path(work_dir)
        cfg, method_params = self.build_config(spec)
        if not get_method(spec.method).trains:
            return self._full_image(spec, cfg)
        result = self.train_and_test(cfg, spec, work_dir)
        examples = collect_examples(result.runner, EXAMPLES)
        examples["method"] = np.array(spec.method)
        np.savez_compressed(work_dir / "cams.npz", **examples)
        figure = draw_examples([(spec.method, examples)], work_dir / "cam_examples.png")
        per_iou = {k: v for k, v in result.metrics.items() if k.startswith("maxboxacc@")}
        return TaskOutput(
            metrics={k: result.metrics[k] for k in METRIC_KEYS}, dataset=spec.dataset_label,
            model=spec.model,
            method_params={**method_params, "input_hw_px": list(DATASET_INPUTS[spec.dataset][0]),
                           "cam_threshold_fraction": 0.2},
            history=result.history, split=self.test_split(spec),
            artifacts={"cam_examples": figure.name, "cams": "cams.npz"},
            extra={**per_iou, "test_images": len(result.runner.test_dataloader.dataset)},
        )

    def _full_image(self, spec: RunSpec, cfg: Any) -> TaskOutput:
        """The ``full-image`` reference: every test image's box is the whole network input.

        Nothing is trained. The boxes go through the test pipeline as a model's would (same
        images, same resize); ``gt_known_loc`` and MaxBoxAccV2 count the images whose GT box
        the whole-image box overlaps enough. No class is predicted: ``top1_cls`` and
        ``top1_loc`` are undefined (None).
        """
        from mmengine.registry import init_default_scope
        from mmengine.runner import Runner

        init_default_scope(self.scope)
        loader = dict(cfg.test_dataloader, num_workers=0, persistent_workers=False)
        ious = []
        for batch in Runner.build_dataloader(loader):
            for sample in batch["data_samples"]:
                height, width = sample.img_shape[:2]
                whole = [[0, 0, width - 1, height - 1]]
                ious.append(localization.best_iou(whole, np.asarray(sample.gt_bboxes)))
        ious = np.asarray(ious)
        per_iou = {f"maxboxacc@{d:g}": float(100.0 * (ious >= d).mean())
                   for d in localization.MAXBOXACC_IOUS}
        metrics = {"top1_cls": None, "top1_loc": None,
                   "gt_known_loc": float(100.0 * (ious >= localization.PAPER_IOU).mean()),
                   "maxboxaccv2": float(np.mean(list(per_iou.values())))}
        return TaskOutput(
            metrics=metrics, dataset=spec.dataset_label, model=spec.model,
            method_params={"method": spec.method, "box": "the whole network input",
                           "input_hw_px": list(DATASET_INPUTS[spec.dataset][0])},
            split=self.test_split(spec),
            extra={**per_iou, "test_images": len(ious),
                   "mean_best_iou": float(ious.mean()) if len(ious) else None},
        )


def load_examples(run_dir: Path, n: int = EXAMPLES) -> tuple[str, dict[str, np.ndarray]]:
    """A run's (method label, examples): ``cams.npz`` if present, else from its checkpoint."""
    run_dir = Path(run_dir)
    spec = RunSpec.from_run_dir(run_dir)
    npz = run_dir / "cams.npz"
    if npz.is_file():
        with np.load(npz) as data:
            examples = {k: data[k] for k in data.files}
        if len(examples["images"]) >= n:
            return spec.method, examples
    return spec.method, _examples_from_checkpoint(run_dir, n)


def _examples_from_checkpoint(run_dir: Path, n: int) -> dict[str, np.ndarray]:
    """Rebuild the model from the run's config, load its last checkpoint, compute CAMs."""
    from mmengine.runner import Runner

    import tasks.wsol.mm  # noqa: F401  (registers the CAM classifier)

    model, cfg, _ = mmrun.load_trained_model(TASK, run_dir, scope="mmpretrain")
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    return examples_from(model, Runner.build_dataloader(cfg.test_dataloader), n)


def explain(run_dirs: list[Path], out: Path, n: int = 16) -> Path:
    """Side-by-side CAM figure of finished WSOL runs (e.g. baseline and HaS) on the same images.

    Args:
        run_dirs: Work dirs of runs of the same dataset (each holds ``spec.json`` and
            ``cams.npz`` or a checkpoint).
        out: PNG to write.
        n: Test images to show.

    Raises:
        ValueError: when a folder is not a run dir or the runs used different datasets.
    """
    specs = [RunSpec.from_run_dir(Path(d)) for d in run_dirs]
    roots = {(s.dataset, s.data_root) for s in specs}
    if len(roots) > 1:
        raise ValueError(f"explain compares runs on the same data; got {sorted(roots)}")
    runs = [load_examples(Path(d), n) for d in run_dirs]
    return draw_examples(runs, out, n)


TASK = WSOLTask()
