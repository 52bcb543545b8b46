"""Age (regression, MAE in years) and gender (accuracy) on mmpretrain.

Datasets: UTKFace (and its 2000-image subset), APPA-REAL, IMDB-WIKI (imdb and wiki parts).

One run trains both: a shared ResNet backbone with ``AgeGenderHead`` (a linear age regressor,
smooth-L1 loss in years, and a linear gender classifier, cross-entropy), so HaS and its
baselines act on one model and one training pipeline. Metrics: ``mae`` (years, from our
``MAE`` metric) and ``gender_accuracy`` (percent, mmpretrain's ``Accuracy`` on the gender
branch). A dataset without gender labels (APPA-REAL without ``allcategories_*.csv``) trains
``AgeRegressionHead`` alone and reports ``mae`` only. Heads and metric live in
:mod:`tasks._faces.mm`; reading and splitting in :mod:`tasks._faces.data`.

Splits: APPA-REAL uses its official train/valid/test (``options: age_target`` = ``real``
(default) or ``apparent``). UTKFace and IMDB-WIKI have none: a seeded random split
(``options: split_seed`` default 0, ``test_fraction`` default 0.2); the test side doubles as the
per-epoch validation set (history only; no model selection). UTKFace files with malformed
names are skipped and counted (``extra.skipped_files``); IMDB-WIKI records are cleaned
(face score > ``options: min_face_score`` (1.0), no second face, known gender, age 0-100) and
the drop counts recorded.

Faces are aligned crops: pipelines resize the short edge to ``options: image_px`` (64) and
centre-crop, then flip; no random crops or rotations. HaS grid sizes are scaled to the input
(64 px: (0, 16, 32, 44, 56) -> (0, 5, 9, 13, 16) pixels); HaS and random erasing fill with the
ImageNet mean pixel, which is also the normaliser's mean.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.dataset_mean import mean_pixel_bgr
from benchmark.engine.spec import RunSpec
from benchmark.erasing.family import PIPELINE_FAMILY
from tasks._faces import data as face_data
from tasks.base import IMAGE_METHODS, DatasetInfo, MMTask, loader_datasets, require_paths

#: (model, any dataset) -> config file (the dataset is set in the config's dataset).
CONFIGS = {("resnet-tiny", None): "resnet_tiny_faces_64px.py",
           ("resnet18", None): "resnet18_faces_64px.py"}
#: dataset name -> FaceAgeDataset source.
SOURCES = {"utkface": "utkface", "utkface-2000": "utkface", "appa-real": "appa-real",
           "imdb": "imdb", "wiki": "wiki"}
DEFAULT_IMAGE_PX = 64


def _check_utkface(root: Path) -> None:
    face_data.list_utkface(root)


def _check_appa(root: Path) -> None:
    require_paths(root, ["train", "valid", "test", "gt_avg_train.csv", "gt_avg_valid.csv",
                         "gt_avg_test.csv"], "appa-real",
                  hint="Pass the extracted appa-real-release folder as --data-root.")


def _check_imdb_wiki(part: str):
    def check(root: Path) -> None:
        require_paths(root, [f"{part}_crop/{part}.mat"], part,
                      hint=f"Extract {part}_crop.tar (IMDB-WIKI faces + metadata) into {root}.")

    return check


def _synth_utkface(out: Path, seed: int) -> None:
    from tasks._faces.synth import write_utkface

    write_utkface(out, seed=seed)


def _synth_appa(out: Path, seed: int) -> None:
    from tasks._faces.synth import write_appa_real

    write_appa_real(out, seed=seed)


def _synth_imdb_wiki(part: str):
    def synth(out: Path, seed: int) -> None:
        from tasks._faces.synth import write_imdb_wiki

        write_imdb_wiki(out, seed=seed, part=part)

    return synth


def listing_for(spec: RunSpec, split: str) -> face_data.FaceListing:
    """The samples of ``split`` for a resolved spec (same reading as ``FaceAgeDataset``)."""
    options = spec.option_dict
    root, source = Path(spec.data_root), SOURCES[spec.dataset]
    seed, fraction = int(options.get("split_seed", 0)), float(options.get("test_fraction", 0.2))
    if source == "utkface":
        return face_data.utkface_split(root, split, fraction, seed)
    if source == "appa-real":
        return face_data.list_appa_real(root, split, options.get("age_target", "real"))
    return face_data.imdb_wiki_split(root, source, split, fraction, seed,
                                     float(options.get("min_face_score", 1.0)))


_UTK = "[age]_[gender]_[race]_[datetime].jpg.chip.jpg (aligned 200x200 crops)"


@dataclass
class AgeGenderTask(MMTask):
    """Age MAE and gender accuracy of one two-branch mmpretrain model trained with a method."""

    name: str = "age_gender"
    framework: str = "mmpretrain"
    scope: str = "mmpretrain"
    registers: tuple[str, ...] = ("tasks._faces.mm",)
    task_options: frozenset[str] | None = frozenset({
        "image_px", "split_seed", "test_fraction", "age_target", "min_face_score"})
    pretrained_files: dict[str, str] = field(default_factory=lambda: {
        "resnet18": "resnet18-f37072fd.pth"})
    configs: dict[tuple[str, str | None], str] = field(default_factory=lambda: dict(CONFIGS))
    metric_names: dict[str, str] = field(
        default_factory=lambda: {"accuracy/top1": "gender_accuracy"})
    metrics: dict[str, bool] = field(
        default_factory=lambda: {"mae": False, "gender_accuracy": True})
    models: tuple[str, ...] = ("resnet-tiny", "resnet18")
    methods: tuple[str, ...] = (*IMAGE_METHODS, *PIPELINE_FAMILY)
    refused_methods: dict[str, str] = field(default_factory=lambda: {
        "cutmix": "mmpretrain's CutMix mixes one-hot class scores (gt_score) by the pasted area, "
                  "but this task's heads regress age in years and read hard gender labels; "
                  "use cutout or gridmask"})
    datasets: dict[str, DatasetInfo] = field(default_factory=lambda: {
        "utkface": DatasetInfo(
            "utkface", _UTK, _check_utkface, default_root="UTKFace", synth=_synth_utkface,
            prepare="Extract UTKFace's aligned & cropped faces (UTKFace.tar.gz) and pass the "
                    "folder as --data-root.", default_model="resnet-tiny", default_epochs=30,
            # 23,708 faces (Zhang et al., CVPR 2017) less the seeded test split, round(0.2 n)
            # = 4,742 with the default test_fraction.
            train_size=18_966),
        "utkface-2000": DatasetInfo(
            "utkface-2000", _UTK + "; every 10th file of the sorted release", _check_utkface,
            default_root="utkface-2000", synth=_synth_utkface, default_model="resnet-tiny",
            default_epochs=30, train_size=1_600),  # 2,000 files less the 20% test split
        "appa-real": DatasetInfo(
            "appa-real", "gt_avg_{train,valid,test}.csv + {train,valid,test}/*.jpg[_face.jpg]",
            _check_appa, default_root="appa-real-release", synth=_synth_appa,
            prepare="Extract appa-real-release.zip (ChaLearn LAP) and pass the folder as "
                    "--data-root.", default_model="resnet-tiny", default_epochs=30,
            train_size=4_113),  # 4,113 train / 1,500 valid / 1,978 test (Agustsson et al., 2017)
        # imdb, wiki: what is left after the face-score cleaning (options) decides: no train_size.
        "imdb": DatasetInfo(
            "imdb", "imdb_crop/imdb.mat + imdb_crop/NN/*.jpg (IMDB-WIKI)",
            _check_imdb_wiki("imdb"), default_root="imdb-wiki",
            synth=_synth_imdb_wiki("imdb"), prepare="Extract imdb_crop.tar into <data>/imdb-wiki.",
            default_model="resnet-tiny", default_epochs=10),
        "wiki": DatasetInfo(
            "wiki", "wiki_crop/wiki.mat + wiki_crop/NN/*.jpg (IMDB-WIKI)",
            _check_imdb_wiki("wiki"), default_root="imdb-wiki",
            synth=_synth_imdb_wiki("wiki"), prepare="Extract wiki_crop.tar into <data>/imdb-wiki.",
            default_model="resnet-tiny", default_epochs=30),
    })

    def check(self, spec: RunSpec) -> None:
        """Also validate the options and that both splits have images."""
        super().check(spec)
        options = spec.option_dict
        if options.get("age_target", "real") not in ("real", "apparent"):
            raise ValueError(f"age_target must be 'real' or 'apparent', got "
                             f"{options['age_target']!r}")
        if int(options.get("image_px", DEFAULT_IMAGE_PX)) < 16:
            raise ValueError("image_px must be at least 16 (the ResNet stem downsamples 32x)")
        for split in ("train", "test"):
            listing_for(spec, split)

    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any]]:
        """The mmengine Config for a resolved spec, method inserted."""
        options = spec.option_dict
        cfg = self.load_config(spec)
        train, test = listing_for(spec, "train"), listing_for(spec, "test")
        ages = [s.age_years for s in train.samples]
        image_px = int(options.get("image_px", DEFAULT_IMAGE_PX))
        for _, dataset in loader_datasets(cfg, spec.data_root):
            dataset.update(source=SOURCES[spec.dataset],
                           split_seed=int(options.get("split_seed", 0)),
                           test_fraction=float(options.get("test_fraction", 0.2)),
                           age_target=options.get("age_target", "real"),
                           min_face_score=float(options.get("min_face_score", 1.0)))
            for stage in dataset["pipeline"]:
                if stage["type"] == "ResizeEdge":
                    stage["scale"] = image_px
                if stage["type"] == "CenterCrop":
                    stage["crop_size"] = image_px
        head = cfg.model.head
        head.age_mean_years = statistics.fmean(ages)
        head.age_scale_years = max(statistics.pstdev(ages), 1.0)
        if not all(s.label is not None for s in train.samples + test.samples):
            head.type = "AgeRegressionHead"
            head.pop("num_genders")
            head.pop("gender_loss")
            cfg.val_evaluator = cfg.test_evaluator = [dict(type="MAE")]
        # The normalizer keeps ImageNet's mean/std (what an ImageNet-pretrained backbone
        # expects); HaS and random erasing fill with the training faces' own mean pixel.
        fill_mean = mean_pixel_bgr([s.path for s in train.samples if s.path is not None])
        return self.apply_method(cfg, spec, (image_px, image_px), fill_mean=fill_mean)

    def data_facts(self, spec: RunSpec, cfg: Any) -> dict[str, Any]:
        """What the record keeps about a spec's data: heads, split sizes, skipped files."""
        train, test = listing_for(spec, "train"), listing_for(spec, "test")
        head = cfg.model.head
        return {
            "heads": "age" if head.type == "AgeRegressionHead" else "age+gender",
            "num_train": len(train.samples), "num_test": len(test.samples),
            "skipped_files": len(train.skipped), "skipped_examples": train.skipped[:5],
            "dropped_records": train.dropped,
            "image_px": int(spec.option_dict.get("image_px", DEFAULT_IMAGE_PX)),
            "age_mean_years": head.age_mean_years, "age_scale_years": head.age_scale_years,
        }

    def extra(self, spec: RunSpec, cfg: Any, result: Any) -> dict[str, Any]:
        """The run's :meth:`data_facts`."""
        return self.data_facts(spec, cfg)


TASK = AgeGenderTask()
