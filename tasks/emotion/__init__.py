"""Facial expression recognition on mmpretrain: CK+48 (subject-exclusive k-fold) and FER2013.

CK+ has no official split; the customary protocol is subject-exclusive k-fold
cross-validation (10 folds): subjects ``S###`` (from the file names) are assigned to folds
deterministically by ``options: fold_seed`` (default 0, so every training seed sees the same
folds; :func:`tasks._faces.data.subject_folds`), no subject is in two folds, and each fold is
the test set once. One run trains one model per fold and reports ``accuracy`` = the mean of the
folds' top-1 accuracies (percent) and ``accuracy_std`` = their sample standard deviation
(ddof=1; 0 for one fold). Per-fold values are in ``TaskOutput.extra``. ``options:
folds_to_run`` (default: all) runs only the first N folds, for CPU budgets — the record says
how many ran. FER2013: Training -> train, PublicTest -> val, PrivateTest -> test (the image-folder
release has no PublicTest: val = test); ``accuracy`` on test, ``accuracy_std`` is not reported.

Faces are aligned crops, so the baseline pipeline only flips horizontally (no random crops or
rotations that misalign). Random erasing and HaS fill with the training images' mean grey
(which is also the normaliser's mean); HaS's grid sizes are scaled to 48x48 inputs
(``scale_grid_sizes``: (0, 16, 32, 44, 56) -> (0, 3, 7, 9, 12) pixels).

Configs: ``configs/emotion/`` (inheriting mmpretrain's ResNet-18 CIFAR model, CIFAR schedule and
default runtime); datasets, heads and metric: :mod:`tasks._faces.mm`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.engine.spec import RunSpec, TaskOutput
from benchmark.erasing.family import PIPELINE_FAMILY
from tasks._faces import data as face_data
from tasks.base import IMAGE_METHODS, DatasetInfo, MMTask, loader_datasets, set_num_classes

#: (model, dataset) -> config file.
CONFIGS = {
    ("resnet-tiny", "ckplus48"): "resnet_tiny_ckplus48.py",
    ("resnet18-cifar", "ckplus48"): "resnet18_cifar_ckplus48.py",
    ("resnet-tiny", "fer2013"): "resnet_tiny_fer2013.py",
    ("resnet18-cifar", "fer2013"): "resnet18_cifar_fer2013.py",
}
INPUT_HW = (48, 48)
DEFAULT_FOLDS = 10


def _check_ckplus(root: Path) -> None:
    listing = face_data.list_ckplus(root)
    if len(listing.classes) < 2:
        raise ValueError(f"CK+48: {root} has only {len(listing.classes)} expression folder(s); "
                         "expected one folder per expression")


def _check_fer2013(root: Path) -> None:
    face_data.fer2013_layout(root)


def _synth_ckplus(out: Path, seed: int) -> None:
    from tasks._faces.synth import write_ckplus48

    write_ckplus48(out, seed=seed)


def _synth_fer2013(out: Path, seed: int) -> None:
    from tasks._faces.synth import write_fer2013_csv

    write_fer2013_csv(out, seed=seed)


def pixel_mean_std(samples: list[face_data.FaceSample]) -> tuple[float, float]:
    """Mean and standard deviation of the grey pixels of ``samples`` (0-255)."""
    import numpy as np

    from tasks._faces.mm import load_grey_bgr

    sums = np.zeros(2)
    count = 0
    for sample in samples:
        grey = load_grey_bgr(sample)[..., 0].astype(np.float64)
        sums += (grey.sum(), (grey**2).sum())
        count += grey.size
    mean = sums[0] / count
    return float(mean), float(np.sqrt(max(sums[1] / count - mean**2, 1e-6)))


def fold_options(spec: RunSpec) -> tuple[int, int]:
    """(num_folds, fold_seed) of a CK+ spec (options, else 10 folds and seed 0)."""
    options = spec.option_dict
    return int(options.get("num_folds", DEFAULT_FOLDS)), int(options.get("fold_seed", 0))


def fold_plan(spec: RunSpec, subjects: list[str]) -> tuple[int, list[int], int]:
    """(num_folds, folds to run, fold_seed) for a CK+ spec.

    Raises:
        ValueError: when ``folds_to_run`` is not in 1..num_folds or there are too few subjects.
    """
    num_folds, fold_seed = fold_options(spec)
    to_run = int(spec.option_dict.get("folds_to_run", num_folds))
    if not 1 <= to_run <= num_folds:
        raise ValueError(f"folds_to_run={to_run} must be between 1 and num_folds={num_folds}")
    face_data.subject_folds(subjects, num_folds, fold_seed)  # raises if too few subjects
    return num_folds, list(range(to_run)), fold_seed


@dataclass
class EmotionTask(MMTask):
    """Expression accuracy of an mmpretrain classifier trained with a method."""

    name: str = "emotion"
    framework: str = "mmpretrain"
    scope: str = "mmpretrain"
    registers: tuple[str, ...] = ("tasks._faces.mm",)
    task_options: frozenset[str] | None = frozenset({"num_folds", "fold_seed", "folds_to_run"})
    configs: dict[tuple[str, str | None], str] = field(default_factory=lambda: dict(CONFIGS))
    metric_names: dict[str, str] = field(default_factory=lambda: {"accuracy/top1": "accuracy"})
    metrics: dict[str, bool] = field(
        default_factory=lambda: {"accuracy": True, "accuracy_std": False})
    models: tuple[str, ...] = ("resnet-tiny", "resnet18-cifar")
    methods: tuple[str, ...] = (*IMAGE_METHODS, *PIPELINE_FAMILY, "cutmix")
    datasets: dict[str, DatasetInfo] = field(default_factory=lambda: {
        "ckplus48": DatasetInfo(
            "ckplus48", "<expression>/S###_###_########.png (48x48 grey; subject in the name)",
            _check_ckplus, default_root="ckplus48", synth=_synth_ckplus,
            prepare="Get the CK+48 release (981 crops, 7 expression folders) and pass its "
                    "folder as --data-root.",
            default_model="resnet-tiny", default_epochs=30,
            # every image of the release (Lucey et al., 2010; the CK+48 crops); each of a run's
            # k folds trains on the other k-1 folds' subjects (benchmark.engine.gpu_hours).
            train_size=981),
        "fer2013": DatasetInfo(
            "fer2013", "fer2013.csv (emotion,pixels,Usage) or train|test/<emotion>/*.jpg",
            _check_fer2013, default_root="fer2013", synth=_synth_fer2013,
            prepare="Put Kaggle's fer2013.csv (or the train/ test/ image folders) in "
                    "<data>/fer2013.",
            default_model="resnet-tiny", default_epochs=30,
            train_size=28_709),  # Usage=Training rows (Goodfellow et al., ICONIP 2013)
    })

    def check(self, spec: RunSpec) -> None:
        """Also reject model/dataset pairs without a config and bad fold options."""
        super().check(spec)
        if spec.dataset == "ckplus48":
            listing = face_data.list_ckplus(Path(spec.data_root))
            fold_plan(spec, [s.subject for s in listing.samples])

    def build_config(self, spec: RunSpec, fold: int = 0) -> tuple[Any, dict[str, Any]]:
        """The mmengine Config of one run (CK+: fold ``fold`` of the spec's folds).

        The method is inserted; the data preprocessor normalizes with the training images'
        mean and standard deviation.
        """
        cfg = self.load_config(spec)
        num_folds, fold_seed = fold_options(spec)
        if spec.dataset == "ckplus48":
            train = face_data.ckplus_fold(Path(spec.data_root), fold, num_folds, fold_seed,
                                          "train")
        else:
            train = face_data.list_fer2013(Path(spec.data_root), "train")
        for _, dataset in loader_datasets(cfg, spec.data_root):
            if spec.dataset == "ckplus48":
                dataset.update(fold=fold, num_folds=num_folds, fold_seed=fold_seed)
        set_num_classes(cfg, len(train.classes))
        mean, std = pixel_mean_std(train.samples)
        cfg.data_preprocessor.mean, cfg.data_preprocessor.std = [mean] * 3, [std] * 3
        return self.apply_method(cfg, spec, INPUT_HW)

    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train and test (every requested fold for CK+); accuracy in percent."""
        if spec.dataset == "ckplus48":
            return self._run_folds(spec, Path(work_dir))
        return super().run(spec, work_dir)

    def extra(self, spec: RunSpec, cfg: Any, result: Any) -> dict[str, Any]:
        """FER2013's layout (csv or folders) and the pixel mean/std the run normalized with."""
        return {"layout": face_data.fer2013_layout(Path(spec.data_root)),
                "pixel_mean": cfg.data_preprocessor.mean[0],
                "pixel_std": cfg.data_preprocessor.std[0]}

    def _run_folds(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        listing = face_data.list_ckplus(Path(spec.data_root))
        num_folds, folds, fold_seed = fold_plan(spec, [s.subject for s in listing.samples])
        assignment = face_data.subject_folds([s.subject for s in listing.samples], num_folds,
                                             fold_seed)
        accuracies, sizes, history, params = [], [], [], {}
        for fold in folds:
            cfg, params = self.build_config(spec, fold)
            result = self.train_and_test(cfg, spec, work_dir / f"fold{fold}")
            accuracies.append(result.metrics["accuracy"])
            sizes.append(sum(1 for s in listing.samples if assignment[s.subject] == fold))
            history += [{"fold": fold, **row} for row in result.history]
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        pooled = sum(a * n for a, n in zip(accuracies, sizes, strict=True)) / sum(sizes)
        return TaskOutput(
            metrics={"accuracy": statistics.fmean(accuracies), "accuracy_std": std},
            dataset=spec.dataset_label, model=spec.model, method_params=params,
            history=history, split=f"{len(folds)}-of-{num_folds}-fold cross-validation",
            extra={"num_folds": num_folds, "folds_run": folds, "fold_seed": fold_seed,
                   "fold_accuracy": accuracies, "fold_test_images": sizes,
                   "pooled_accuracy": pooled, "num_images": len(listing.samples),
                   "num_subjects": len(assignment), "skipped_files": len(listing.skipped)},
        )


TASK = EmotionTask()
