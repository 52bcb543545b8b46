"""mmpretrain components for the face tasks, registered in mmpretrain's registries.

- Datasets (``DATASETS``): ``CKPlus48Folds`` (one subject-exclusive fold of CK+48),
  ``FER2013Faces`` (CSV or folder layout), ``FaceAgeDataset`` (UTKFace, APPA-REAL, IMDB-WIKI:
  ``img_path``, ``gt_age`` in years, ``gt_label`` = gender 0 male / 1 female when known).
  Reading, splitting and folding are :mod:`tasks._faces.data`'s; these classes only wrap it.
  Grey expression images are decoded once into memory as HxWx3 uint8 (grey repeated), like
  mmpretrain's CIFAR datasets, so their pipelines start without ``LoadImageFromFile``.
- Heads (``MODELS``): ``AgeRegressionHead`` (linear age regression on pooled features,
  (smooth) L1 loss in years, sets ``pred_age``) and ``AgeGenderHead`` (the same plus a linear
  gender classifier with cross-entropy, setting ``pred_score``/``pred_label`` so mmpretrain's
  ``Accuracy`` scores gender). mmpretrain has no regression head.
- Metric (``METRICS``): ``MAE`` -> ``{"mae": mean |pred_age - gt_age|}`` in years.

Age samples carry ``gt_age``; the config's ``PackInputs`` must list it in ``algorithm_keys``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModule
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS, METRICS, MODELS
from mmpretrain.structures import DataSample
from torch import nn

from tasks._faces import data as face_data


def load_grey_bgr(sample: face_data.FaceSample) -> np.ndarray:
    """A sample's pixels as HxWx3 uint8 (grey repeated into three channels).

    Raises:
        ValueError: naming the file when it cannot be decoded.
    """
    import cv2

    grey = sample.image
    if grey is None:
        grey = cv2.imread(sample.path, cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise ValueError(f"cannot decode image {sample.path}; remove or replace the file")
    return np.repeat(grey[..., None], 3, axis=2)


class _ListingDataset(BaseDataset):
    """A BaseDataset whose samples come from a :class:`~tasks._faces.data.FaceListing`."""

    def __init__(self, data_root: str, split: str, pipeline: Sequence = (),
                 test_mode: bool = False, **kwargs: Any):
        self.split = split
        self.skipped: list[str] = []
        super().__init__(ann_file="", data_root=data_root, pipeline=pipeline,
                         test_mode=test_mode, **kwargs)

    def listing(self) -> face_data.FaceListing:
        """The samples of this split (implemented by subclasses)."""
        raise NotImplementedError

    def to_info(self, sample: face_data.FaceSample) -> dict:
        """One ``data_list`` entry."""
        return {"img": load_grey_bgr(sample), "gt_label": int(sample.label)}

    def load_data_list(self) -> list[dict]:
        """Read the split (mmengine calls this once, at full initialisation)."""
        listing = self.listing()
        self.skipped = listing.skipped
        self._metainfo["classes"] = tuple(listing.classes)
        return [self.to_info(s) for s in listing.samples]


@DATASETS.register_module()
class CKPlus48Folds(_ListingDataset):
    """One side of one subject-exclusive fold of CK+48 (``<expression>/S###_###_#.png``).

    Args:
        data_root: The CK+48 folder.
        split: ``"train"`` (all folds but ``fold``) or ``"test"`` (fold ``fold``).
        fold: Test fold index.
        num_folds: Number of folds.
        fold_seed: Seed of the subject-to-fold assignment.
    """

    def __init__(self, data_root: str, split: str = "train", fold: int = 0, num_folds: int = 10,
                 fold_seed: int = 0, **kwargs: Any):
        self.fold, self.num_folds, self.fold_seed = fold, num_folds, fold_seed
        super().__init__(data_root, split, **kwargs)

    def listing(self) -> face_data.FaceListing:
        """The images of this fold's ``split`` side."""
        return face_data.ckplus_fold(self.data_root, self.fold, self.num_folds, self.fold_seed,
                                     self.split)


@DATASETS.register_module()
class FER2013Faces(_ListingDataset):
    """FER2013 from ``fer2013.csv`` or ``train|test/<emotion>/*.jpg``; split train/val/test."""

    def listing(self) -> face_data.FaceListing:
        """The images of ``split``."""
        return face_data.list_fer2013(self.data_root, self.split)


@DATASETS.register_module()
class FaceAgeDataset(_ListingDataset):
    """Faces with age (and gender when known) from UTKFace, APPA-REAL or IMDB-WIKI.

    Args:
        data_root: The dataset folder.
        source: ``"utkface"``, ``"appa-real"``, ``"imdb"`` or ``"wiki"``.
        split: ``"train"``, ``"val"`` or ``"test"`` (APPA-REAL: the official splits; the
            others: a seeded random split where ``val`` is the test side).
        split_seed: Seed of the random split.
        test_fraction: Share of images in the test side of the random split.
        age_target: APPA-REAL only: ``"real"`` or ``"apparent"`` age.
        min_face_score: IMDB-WIKI only: face-detector score threshold of the cleaning.
    """

    SOURCES = ("utkface", "appa-real", "imdb", "wiki")

    def __init__(self, data_root: str, source: str = "utkface", split: str = "train",
                 split_seed: int = 0, test_fraction: float = 0.2, age_target: str = "real",
                 min_face_score: float = 1.0, **kwargs: Any):
        if source not in self.SOURCES:
            raise ValueError(f"FaceAgeDataset source must be one of {self.SOURCES}, "
                             f"got {source!r}")
        self.source, self.split_seed, self.test_fraction = source, split_seed, test_fraction
        self.age_target, self.min_face_score = age_target, min_face_score
        super().__init__(data_root, split, **kwargs)

    def listing(self) -> face_data.FaceListing:
        """The images of ``split`` from ``source``."""
        if self.source == "utkface":
            return face_data.utkface_split(self.data_root, self.split, self.test_fraction,
                                           self.split_seed)
        if self.source == "appa-real":
            return face_data.list_appa_real(self.data_root, self.split, self.age_target)
        return face_data.imdb_wiki_split(self.data_root, self.source, self.split,
                                         self.test_fraction, self.split_seed,
                                         self.min_face_score)

    def to_info(self, sample: face_data.FaceSample) -> dict:
        """Path, age in years, and gender when known."""
        info = {"img_path": sample.path, "gt_age": float(sample.age_years)}
        if sample.label is not None:
            info["gt_label"] = int(sample.label)
        return info


# --------------------------------------------------------------------------- heads
@MODELS.register_module()
class AgeRegressionHead(BaseModule):
    """Age in years from pooled features: ``age = age_mean + age_scale * Linear(features)``.

    The loss is the L1 (or smooth L1) distance in years, divided by ``age_scale_years`` so its
    gradient on the linear layer is of the order of a classification loss's, times
    ``loss_weight``. Predictions land in each data sample's ``pred_age`` (years).

    Args:
        in_channels: Feature channels (after global pooling).
        age_mean_years: Output offset (e.g. the training set's mean age).
        age_scale_years: Output scale (e.g. the training set's age spread).
        loss_type: ``"l1"`` or ``"smooth_l1"``.
        smooth_l1_beta_years: Where smooth L1 turns from quadratic to linear.
        loss_weight: Weight of the age loss.
        init_cfg: Weight initialisation.
    """

    def __init__(self, in_channels: int, age_mean_years: float = 35.0,
                 age_scale_years: float = 20.0, loss_type: str = "smooth_l1",
                 smooth_l1_beta_years: float = 1.0, loss_weight: float = 1.0,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg=init_cfg or dict(type="Normal", layer="Linear", std=0.01))
        if loss_type not in ("l1", "smooth_l1"):
            raise ValueError(f"loss_type must be 'l1' or 'smooth_l1', got {loss_type!r}")
        if age_scale_years <= 0:
            raise ValueError(f"age_scale_years must be positive, got {age_scale_years}")
        self.age_mean_years, self.age_scale_years = float(age_mean_years), float(age_scale_years)
        self.loss_type, self.beta_years = loss_type, float(smooth_l1_beta_years)
        self.loss_weight = float(loss_weight)
        self.age_fc = nn.Linear(in_channels, 1)

    def pre_logits(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The last stage's pooled features."""
        return feats[-1]

    def predict_age(self, features: torch.Tensor) -> torch.Tensor:
        """(N,) ages in years from (N, C) pooled features."""
        return self.age_mean_years + self.age_scale_years * self.age_fc(features).squeeze(1)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """(N,) predicted ages in years."""
        return self.predict_age(self.pre_logits(feats))

    def age_loss(self, ages: torch.Tensor, data_samples: list[DataSample]) -> torch.Tensor:
        """The weighted (smooth) L1 loss of ``ages`` against the samples' ``gt_age``."""
        target = torch.as_tensor([float(s.gt_age) for s in data_samples], dtype=ages.dtype,
                                 device=ages.device)
        if self.loss_type == "l1":
            distance = F.l1_loss(ages, target)
        else:
            distance = F.smooth_l1_loss(ages, target, beta=self.beta_years)
        return self.loss_weight * distance / self.age_scale_years

    def loss(self, feats: tuple[torch.Tensor, ...], data_samples: list[DataSample],
             **kwargs: Any) -> dict[str, torch.Tensor]:
        """``{"loss_age": ...}``."""
        return {"loss_age": self.age_loss(self(feats), data_samples)}

    def predict(self, feats: tuple[torch.Tensor, ...],
                data_samples: list[DataSample | None] | None = None) -> list[DataSample]:
        """Data samples with ``pred_age`` (a 0-d tensor, years) set."""
        return _with_ages(self(feats).detach(), data_samples)


def _with_ages(ages: torch.Tensor, data_samples) -> list[DataSample]:
    samples = list(data_samples) if data_samples is not None else [None] * len(ages)
    out = []
    for sample, age in zip(samples, ages, strict=True):
        sample = sample if sample is not None else DataSample()
        sample.set_field(age, "pred_age", dtype=torch.Tensor)
        out.append(sample)
    return out


@MODELS.register_module()
class AgeGenderHead(AgeRegressionHead):
    """Age regression and gender classification on the same pooled features (multi-task).

    Losses: ``loss_age`` (see :class:`AgeRegressionHead`) and ``loss_gender`` (the configured
    classification loss on ``gt_label``). Predictions: ``pred_age`` plus ``pred_score``
    (softmax over genders) and ``pred_label``, which mmpretrain's ``Accuracy`` scores.

    Args:
        in_channels: Feature channels (after global pooling).
        num_genders: Gender classes (2).
        gender_loss: Config of the gender loss.
        **kwargs: :class:`AgeRegressionHead`'s arguments.
    """

    def __init__(self, in_channels: int, num_genders: int = 2,
                 gender_loss: dict | None = None, **kwargs: Any):
        super().__init__(in_channels, **kwargs)
        self.gender_fc = nn.Linear(in_channels, num_genders)
        # Scoped: under another library's default scope (mmaction's, after a video run in the
        # same process) a bare "CrossEntropyLoss" is that library's, with other arguments.
        self.gender_loss = MODELS.build(gender_loss or dict(type="mmpretrain.CrossEntropyLoss",
                                                            loss_weight=1.0))

    def forward(self, feats: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """((N,) ages in years, (N, num_genders) gender logits)."""
        features = self.pre_logits(feats)
        return self.predict_age(features), self.gender_fc(features)

    def loss(self, feats: tuple[torch.Tensor, ...], data_samples: list[DataSample],
             **kwargs: Any) -> dict[str, torch.Tensor]:
        """``{"loss_age": ..., "loss_gender": ...}``."""
        ages, logits = self(feats)
        genders = torch.cat([s.gt_label for s in data_samples]).to(logits.device)
        return {"loss_age": self.age_loss(ages, data_samples),
                "loss_gender": self.gender_loss(logits, genders, avg_factor=logits.size(0))}

    def predict(self, feats: tuple[torch.Tensor, ...],
                data_samples: list[DataSample | None] | None = None) -> list[DataSample]:
        """Data samples with ``pred_age``, ``pred_score`` and ``pred_label`` set."""
        ages, logits = self(feats)
        samples = _with_ages(ages.detach(), data_samples)
        scores = F.softmax(logits.detach(), dim=1)
        for sample, score in zip(samples, scores, strict=True):
            sample.set_pred_score(score).set_pred_label(score.argmax(keepdim=True))
        return samples


# --------------------------------------------------------------------------- metric
@METRICS.register_module()
class MAE(BaseMetric):
    """Mean absolute error between predicted and true values (years, for ages).

    Args:
        pred_key: Data-sample field of the prediction.
        gt_key: Data-sample field of the ground truth.
        collect_device: mmengine's result-collection device.
        prefix: Optional key prefix (none by default: the key is ``"mae"``).
    """

    def __init__(self, pred_key: str = "pred_age", gt_key: str = "gt_age",
                 collect_device: str = "cpu", prefix: str | None = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.pred_key, self.gt_key = pred_key, gt_key

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep (prediction, truth) of each sample."""
        for sample in data_samples:
            self.results.append((float(sample[self.pred_key]), float(sample[self.gt_key])))

    def compute_metrics(self, results: list[tuple[float, float]]) -> dict[str, float]:
        """``{"mae": mean |prediction - truth|}``."""
        pairs = np.asarray(results, dtype=np.float64)
        return {"mae": float(np.mean(np.abs(pairs[:, 0] - pairs[:, 1])))}
