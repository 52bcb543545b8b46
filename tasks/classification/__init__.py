"""Image classification on mmpretrain: CIFAR-10/100, 32-pixel image folders, ImageNet.

Configs live in ``configs/classification/`` and inherit mmpretrain's own model, dataset,
schedule and runtime configs; this module only picks one, points it at the data, inserts
the method (:func:`benchmark.methods.apply_method_to_mm_config`) and renames the metrics.

HaS grid sizes are scaled to the input (``benchmark.methods.scale_grid_sizes``): 32x32 CIFAR
images get (0, 2, 5, 6, 8) pixels, keeping the paper's cell-to-image ratio at 224 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.spec import RunSpec
from benchmark.erasing.family import PIPELINE_FAMILY
from tasks.base import (
    DROPOUT_METHODS,
    IMAGE_METHODS,
    DatasetInfo,
    MMTask,
    loader_datasets,
    set_num_classes,
)
from tasks.classification.data import check_cifar, check_image_folders

CONFIG_DIR = REPO_ROOT / "configs" / "classification"

#: (model, dataset family) -> config file.
CONFIGS = {
    ("resnet18-cifar", "cifar10"): "resnet18_cifar10.py",
    ("resnet-tiny-cifar", "cifar10"): "resnet_tiny_cifar10.py",
    ("resnet18-cifar", "cifar100"): "resnet18_cifar100.py",
    ("resnet-tiny-cifar", "cifar100"): "resnet_tiny_cifar100.py",
    ("resnet18-cifar", "imagefolder32"): "resnet18_imagefolder_32px.py",
    ("resnet-tiny-cifar", "imagefolder32"): "resnet_tiny_imagefolder_32px.py",
    ("resnet50", "imagenet"): "resnet50_imagenet.py",
}
FAMILY = {"cifar10": "cifar10", "cifar100": "cifar100", "cifar10-jpeg": "imagefolder32",
          "imagenet": "imagenet"}
INPUT_HW = {"cifar10": (32, 32), "cifar100": (32, 32), "imagefolder32": (32, 32),
            "imagenet": (224, 224)}


def _synth_cifar10(out: Path, seed: int) -> None:
    from tasks.classification.synth import write_cifar10_layout

    write_cifar10_layout(out, seed=seed)


def _synth_imagefolder(out: Path, seed: int) -> None:
    from tasks.classification.synth import write_image_folder_layout

    write_image_folder_layout(out, seed=seed, ext=".jpg")


@dataclass
class ClassificationTask(MMTask):
    """Top-1/top-5 accuracy of an mmpretrain classifier trained with a method."""

    name: str = "classification"
    framework: str = "mmpretrain"
    scope: str = "mmpretrain"
    pretrained_files: dict[str, str] = field(default_factory=lambda: {
        "resnet50": "resnet50-0676ba61.pth"})
    configs: dict[tuple[str, str | None], str] = field(default_factory=lambda: dict(CONFIGS))
    metric_names: dict[str, str] = field(
        default_factory=lambda: {"accuracy/top1": "top1", "accuracy/top5": "top5"})
    metrics: dict[str, bool] = field(default_factory=lambda: {"top1": True, "top5": True})
    models: tuple[str, ...] = ("resnet-tiny-cifar", "resnet18-cifar", "resnet50")
    methods: tuple[str, ...] = (*IMAGE_METHODS, *DROPOUT_METHODS, *PIPELINE_FAMILY, "cutmix",
                                "has-conv")
    datasets: dict[str, DatasetInfo] = field(default_factory=lambda: {
        "cifar10": DatasetInfo(
            "cifar10", "cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}",
            check_cifar("cifar10"), default_root="cifar10", synth=_synth_cifar10,
            prepare="Get it with scripts/prepare_data.sh cifar10.",
            default_model="resnet18-cifar", default_epochs=200,
            train_size=50_000),  # 5 training batches of 10,000 (Krizhevsky, 2009)
        "cifar100": DatasetInfo(
            "cifar100", "cifar-100-python/{train,test,meta}", check_cifar("cifar100"),
            default_root="cifar100", prepare="Get it with scripts/prepare_data.sh cifar100.",
            default_model="resnet18-cifar", default_epochs=200,
            train_size=50_000),  # the "train" file: 500 x 100 classes (Krizhevsky, 2009)
        # cifar10-jpeg: image folders of any size (the shared subset holds 3,000): no train_size.
        "cifar10-jpeg": DatasetInfo(
            "cifar10-jpeg", "{train,test}/<class>/*.jpg (32x32 image folders)",
            check_image_folders(("train", "test"), "cifar10-jpeg"),
            default_root="cifar10-jpeg-subset", synth=_synth_imagefolder,
            default_model="resnet18-cifar", default_epochs=200),
        "imagenet": DatasetInfo(
            "imagenet", "{train,val}/<wnid>/*.JPEG (val sorted into class folders)",
            check_image_folders(("train", "val"), "imagenet"), default_root="imagenet",
            prepare="Get it with scripts/prepare_data.sh imagenet.",
            default_model="resnet50", default_epochs=100,
            train_size=1_281_167),  # ILSVRC-2012 train (Russakovsky et al., IJCV 2015)
    })

    def config_key(self, spec: RunSpec) -> str:
        """The dataset family (CIFAR-10 JPEG folders share the 32-pixel folder configs)."""
        return FAMILY[spec.dataset]

    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any]]:
        """The mmengine Config for a resolved spec, method inserted."""
        family = FAMILY[spec.dataset]
        cfg = self.load_config(spec)
        for loader, dataset in loader_datasets(cfg, spec.data_root):
            if family == "cifar10" and spec.synthetic:
                dataset["type"] = "CIFAR10Unverified"
            if family == "imagenet":
                dataset["type"], dataset["data_prefix"] = "CustomDataset", (
                    "train" if loader == "train_dataloader" else "val")
                dataset.pop("split", None)
        if family == "imagefolder32" or family == "imagenet":
            set_num_classes(cfg, _count_classes(Path(spec.data_root)))
        if cfg.model.head.num_classes < 5:
            cfg.val_evaluator = cfg.test_evaluator = dict(type="Accuracy", topk=(1,))
        else:
            cfg.val_evaluator = cfg.test_evaluator = dict(type="Accuracy", topk=(1, 5))
        return self.apply_method(cfg, spec, INPUT_HW[family])


def _count_classes(root: Path) -> int:
    return sum(1 for p in (root / "train").iterdir() if p.is_dir())


TASK = ClassificationTask()
