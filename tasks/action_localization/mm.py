"""mmaction2 pieces for weakly-supervised temporal action localization on snippet features.

Registered in mmaction2's registries (import this module to register them):

- ``DATASETS``: :class:`ThumosFeatureDataset` -- an ActionFormer annotation json + a folder of
  per-video ``.npy`` snippet features (see :mod:`tasks.action_localization.temporal`), one
  sample per video with its video-level multi-hot label (no temporal labels reach the model).
- ``TRANSFORMS``: :class:`LoadSnippetFeatures` (load + standardize with training-set mean/std,
  so 0 is the mean feature), :class:`SampleSnippets` (STPN-style uniform sampling to a fixed
  length for batching), :class:`EraseSnippetSpan` (feature-level random erasing: the counterpart
  of Zhong et al.'s Random Erasing on a sequence), :class:`PackSnippetInputs`.
- ``MODELS``: :class:`WeakTemporalLocalizer` -- per-snippet class scores (the T-CAM) and a
  class-agnostic attention over a small temporal conv embedding, trained with a top-k MIL loss
  (W-TALC) plus an attention-pooled loss and an attention sparsity term (STPN). The T-CAM is
  the sigmoid of the class scores (W-TALC); weighting it by the attention (STPN,
  ``cam_weighting='attention'``) made it spiky and lost most of each action on the generated
  features (mAP@0.5 0.4 vs 14.5 at the same training), so it is off by default.
- ``METRICS``: :class:`TemporalDetectionMAP` -- detections from the T-CAM
  (:func:`tasks.action_localization.temporal.detect_segments`), in seconds, and mAP at each
  tIoU through mmaction2's ``average_precision_at_temporal_iou``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from mmaction.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from mmaction.structures import ActionDataSample
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch import nn

from tasks.action_localization import temporal

FEATURE_KEY = "snippet_features"


# --------------------------------------------------------------------------- dataset
def select_videos(videos: list, max_videos: int | None, seed: int = 0) -> list:
    """A seeded, order-preserving choice of at most ``max_videos`` videos (all when None)."""
    if max_videos is None or max_videos >= len(videos):
        return list(videos)
    picks = np.random.default_rng(seed).permutation(len(videos))[:max_videos]
    return [videos[i] for i in sorted(picks)]


@DATASETS.register_module()
class ThumosFeatureDataset(BaseDataset):
    """Videos of one annotation subset with their feature paths and video-level labels.

    Args:
        ann_file: ActionFormer annotation json.
        feature_dir: Folder of ``<video>.npy`` or ``<video>_rgb.npy``/``<video>_flow.npy``.
        subset: ``"Validation"`` (train) or ``"Test"``.
        stride_frames: Frames between consecutive snippets.
        feature_fps: Frame rate the features were extracted at; ``None`` = each video's fps.
        num_classes: Number of classes (label ids 0..C-1).
        max_videos: Use a seeded subset of this many videos (``None``: all).
        subset_seed: Seed of that choice (fixed across runs so methods see the same videos).
        standardize_with: Videos whose per-dimension feature mean/std standardize every video
            (the training videos: ``dict(subset='Validation', max_videos=..., subset_seed=...)``)
            -- handed to the pipeline's :class:`LoadSnippetFeatures`, so that 0 is the training
            mean feature. ``None`` leaves the features as stored.
    """

    def __init__(self, ann_file: str, feature_dir: str, subset: str,
                 stride_frames: float = 16, feature_fps: float | None = None,
                 num_classes: int = 20, max_videos: int | None = None, subset_seed: int = 0,
                 standardize_with: dict | None = None, **kwargs: Any):
        self.feature_dir = feature_dir
        self.subset = subset
        self.stride_frames = float(stride_frames)
        self.feature_fps = feature_fps
        self.num_classes = num_classes
        self.max_videos = max_videos
        self.subset_seed = subset_seed
        self.standardize_with = dict(standardize_with) if standardize_with else None
        super().__init__(ann_file=ann_file, **kwargs)
        if self.standardize_with is not None:
            mean, std = training_statistics(ann_file, feature_dir, **self.standardize_with)
            for stage in self.pipeline.transforms:
                if isinstance(stage, LoadSnippetFeatures):
                    stage.set_statistics(mean, std)

    def load_data_list(self) -> list[dict]:
        """One dict per video: id, feature folder, timeline, labels, ground-truth segments."""
        videos = temporal.load_annotations(self.ann_file, self.subset)
        if not videos:
            raise ValueError(f"{self.ann_file} has no videos in subset {self.subset!r}")
        videos = select_videos(videos, self.max_videos, self.subset_seed)
        data = []
        for video in videos:
            label = np.zeros(self.num_classes, dtype=np.float32)
            label[video.label_ids()] = 1.0
            info = dict(video_name=video.video_id, feature_dir=self.feature_dir,
                        fps=float(self.feature_fps or video.fps), stride_frames=self.stride_frames,
                        duration_seconds=video.duration_seconds, video_label=label)
            if self.test_mode:  # temporal annotations only where detections are scored
                info["gt_segments"] = [(s.label_id, s.start_seconds, s.end_seconds)
                                       for s in video.segments]
            data.append(info)
        return data


# --------------------------------------------------------------------------- transforms
@TRANSFORMS.register_module()
class LoadSnippetFeatures(BaseTransform):
    """Load a video's T x D features into ``results['snippet_features']``, standardized.

    The standardization statistics (per-dimension mean and std of the training features) are
    set by :class:`ThumosFeatureDataset` (``standardize_with``) or :meth:`set_statistics`;
    after standardization 0 is the mean feature (HaS fills hidden snippets with it).

    Args:
        cache_mb: Keep standardized features in memory up to this many megabytes (later
            videos are read from disk each time); 0 disables the cache.
    """

    def __init__(self, cache_mb: float = 256):
        self.cache_mb = cache_mb
        self._stats: tuple[np.ndarray, np.ndarray] | None = None
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        self._cached_bytes = 0

    def set_statistics(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Standardize with ``mean`` / ``std`` (D,) from now on (clears the cache)."""
        self._stats = (np.asarray(mean, dtype=np.float32),
                       np.maximum(np.asarray(std, dtype=np.float32), 1e-6))
        self._cache.clear()
        self._cached_bytes = 0

    def transform(self, results: dict) -> dict:
        """Load (or reuse), standardize, and record the number of snippets."""
        key = (str(results["feature_dir"]), str(results["video_name"]))
        features = self._cache.get(key)
        if features is None:
            features = self._load(*key)
            if self._cached_bytes + features.nbytes <= self.cache_mb * 2**20:
                self._cache[key] = features
                self._cached_bytes += features.nbytes
        results[FEATURE_KEY] = features  # shared when cached: later stages must copy
        results["num_snippets"] = features.shape[0]
        return results

    def _load(self, feature_dir: str, video_name: str) -> np.ndarray:
        features = temporal.load_features(feature_dir, video_name)
        stats = self._stats
        if stats is not None:
            if stats[0].shape[0] != features.shape[1]:
                raise ValueError(
                    f"feature statistics have {stats[0].shape[0]} dims but {video_name}"
                    f" has {features.shape[1]}; recompute them for these features"
                )
            features = (features - stats[0]) / stats[1]
        features = features.astype(np.float32)
        features.setflags(write=False)  # cached arrays must never be modified in place
        return features


@TRANSFORMS.register_module()
class SampleSnippets(BaseTransform):
    """Resample a sequence to ``num_snippets`` rows, STPN-style (for batching in training).

    The sequence is cut into ``num_snippets`` equal bins; one snippet is taken per bin (a
    random one in ``"random"`` mode, the middle one in ``"uniform"`` mode). Shorter sequences
    repeat snippets. The timeline of the result is no longer the video's, so it is only for
    training (video-level labels); evaluation uses the full sequence.
    """

    def __init__(self, num_snippets: int = 256, mode: str = "random"):
        if mode not in ("random", "uniform"):
            raise ValueError(f"SampleSnippets mode must be 'random' or 'uniform', got {mode!r}")
        self.num_snippets = num_snippets
        self.mode = mode

    def transform(self, results: dict) -> dict:
        """Pick the rows."""
        features = results[FEATURE_KEY]
        length = features.shape[0]
        edges = np.linspace(0, length, self.num_snippets + 1)
        if self.mode == "random":
            positions = edges[:-1] + np.random.rand(self.num_snippets) * np.diff(edges)
        else:
            positions = (edges[:-1] + edges[1:]) / 2
        index = np.clip(np.floor(positions).astype(int), 0, length - 1)
        results[FEATURE_KEY] = features[index]
        return results


@TRANSFORMS.register_module()
class EraseSnippetSpan(BaseTransform):
    """Feature-level Random Erasing: with probability ``prob``, fill one random span of snippets.

    The 1-D counterpart of Zhong et al.'s Random Erasing (p=0.5, erased area 2%-40% of the
    input): one contiguous span whose length is a uniform fraction in
    [``min_fraction``, ``max_fraction``] of the sequence is set to ``fill`` (0 = the mean
    feature after standardization).
    """

    def __init__(self, prob: float = 0.5, min_fraction: float = 0.02, max_fraction: float = 0.4,
                 fill: float = 0.0, keys: Sequence[str] = (FEATURE_KEY,)):
        if not 0 <= prob <= 1 or not 0 < min_fraction <= max_fraction <= 1:
            raise ValueError(
                f"EraseSnippetSpan needs 0<=prob<=1 and 0<min_fraction<=max_fraction<=1, got "
                f"prob={prob}, fractions=({min_fraction}, {max_fraction})"
            )
        self.prob, self.min_fraction, self.max_fraction = prob, min_fraction, max_fraction
        self.fill = fill
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        """Erase (or not) one span, the same span in every key."""
        if np.random.rand() >= self.prob:
            return results
        length = results[self.keys[0]].shape[0]
        fraction = np.random.uniform(self.min_fraction, self.max_fraction)
        span = min(length, max(1, round(fraction * length)))
        start = np.random.randint(0, length - span + 1)
        for key in self.keys:
            erased = results[key].copy()
            erased[start:start + span] = self.fill
            results[key] = erased
        return results


@TRANSFORMS.register_module()
class PackSnippetInputs(BaseTransform):
    """Pack ``snippet_features`` (T x D tensor) and the video's metadata into a data sample."""

    META_KEYS = ("video_name", "fps", "stride_frames", "duration_seconds", "num_snippets",
                 "gt_segments", "video_label")

    def transform(self, results: dict) -> dict:
        """Return ``{"inputs": tensor, "data_samples": ActionDataSample}``."""
        sample = ActionDataSample()
        sample.set_metainfo({k: results[k] for k in self.META_KEYS if k in results})
        return {"inputs": torch.tensor(results[FEATURE_KEY], dtype=torch.float32),
                "data_samples": sample}


# --------------------------------------------------------------------------- model
@MODELS.register_module()
class WeakTemporalLocalizer(BaseModel):
    """A weakly-supervised localizer: T-CAM + attention, top-k MIL over snippets.

    Args:
        feature_dim: D of the input features.
        num_classes: Number of action classes.
        hidden_dim: Width of the temporal conv embedding.
        kernel_size: Temporal kernel of the embedding conv (odd).
        dropout: Dropout on the embedding.
        topk_divisor: k = max(1, T // topk_divisor) snippets are pooled per class (W-TALC: 8).
        attention_loss_weight: Weight of the attention-pooled classification loss.
        sparsity_weight: Weight of the L1 sparsity of the attention (STPN).
        cam_weighting: ``"none"``: T-CAM = sigmoid(class scores); ``"attention"``: times the
            attention (STPN).
        data_preprocessor: mmengine data preprocessor config (moves data to the device).
    """

    def __init__(self, feature_dim: int, num_classes: int = 20, hidden_dim: int = 128,
                 kernel_size: int = 3, dropout: float = 0.5, topk_divisor: int = 8,
                 attention_loss_weight: float = 1.0, sparsity_weight: float = 1e-3,
                 cam_weighting: str = "none", data_preprocessor: dict | None = None):
        super().__init__(data_preprocessor=data_preprocessor or dict(type="BaseDataPreprocessor"))
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd to keep the timeline, got {kernel_size}")
        if cam_weighting not in ("none", "attention"):
            raise ValueError(f"cam_weighting must be 'none' or 'attention', got {cam_weighting!r}")
        self.cam_weighting = cam_weighting
        self.embed = nn.Conv1d(feature_dim, hidden_dim, kernel_size, padding=kernel_size // 2)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv1d(hidden_dim, num_classes, 1)
        self.attention = nn.Conv1d(hidden_dim, 1, 1)
        self.topk_divisor = topk_divisor
        self.attention_loss_weight = attention_loss_weight
        self.sparsity_weight = sparsity_weight

    def _forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features B x T x D -> (class scores B x C x T logits, attention B x 1 x T in (0,1))."""
        hidden = self.dropout(F.relu(self.embed(features.transpose(1, 2))))
        return self.classifier(hidden), torch.sigmoid(self.attention(hidden))

    def _video_logits(self, cas: torch.Tensor, attention: torch.Tensor):
        k = max(1, cas.shape[-1] // self.topk_divisor)
        mil = cas.topk(k, dim=-1).values.mean(-1)
        pooled = (cas * attention).sum(-1) / attention.sum(-1).clamp_min(1e-6)
        return mil, pooled

    @staticmethod
    def _stack(inputs: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        if isinstance(inputs, torch.Tensor):
            return inputs if inputs.dim() == 3 else inputs[None]
        lengths = {x.shape[0] for x in inputs}
        if len(lengths) > 1:
            raise ValueError(
                f"a batch mixes sequence lengths {sorted(lengths)}: resample training sequences "
                "(SampleSnippets) or evaluate with batch_size=1"
            )
        return torch.stack(list(inputs))

    def forward(self, inputs, data_samples=None, mode: str = "tensor"):
        """Run in mmengine's modes.

        ``loss``: dict of losses; ``predict``: data samples with ``tcam`` (T x C) and
        ``video_scores`` (C,); ``tensor``: (class scores, attention).
        """
        features = self._stack(inputs).float()
        if mode == "tensor":
            return self._forward(features)
        if mode == "loss":
            return self.loss(features, data_samples)
        if mode == "predict":
            return self.predict(features, data_samples)
        raise ValueError(f"invalid mode {mode!r}; use 'loss', 'predict' or 'tensor'")

    def loss(self, features: torch.Tensor, data_samples) -> dict[str, torch.Tensor]:
        """Video-level losses only: MIL (top-k), attention-pooled BCE, attention sparsity."""
        labels = torch.as_tensor(np.stack([s.metainfo["video_label"] for s in data_samples]),
                                 dtype=torch.float32, device=features.device)
        cas, attention = self._forward(features)
        mil, pooled = self._video_logits(cas, attention)
        return {
            "loss_mil": F.binary_cross_entropy_with_logits(mil, labels),
            "loss_att": self.attention_loss_weight
            * F.binary_cross_entropy_with_logits(pooled, labels),
            "loss_sparsity": self.sparsity_weight * attention.abs().mean(),
        }

    def temporal_cam(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(T-CAM B x T x C in [0, 1], video scores B x C in [0, 1])."""
        cas, attention = self._forward(features)
        mil, _ = self._video_logits(cas, attention)
        tcam = torch.sigmoid(cas)
        if self.cam_weighting == "attention":
            tcam = tcam * attention
        return tcam.transpose(1, 2), torch.sigmoid(mil)

    @torch.no_grad()
    def predict(self, features: torch.Tensor, data_samples) -> list:
        """Attach the T-CAM and video scores to each data sample."""
        tcam, scores = self.temporal_cam(features)
        for sample, cam, score in zip(data_samples, tcam, scores, strict=True):
            sample.tcam = cam.cpu()
            sample.video_scores = score.cpu()
        return data_samples


# --------------------------------------------------------------------------- metric
@METRICS.register_module()
class TemporalDetectionMAP(BaseMetric):
    """Detections from each video's T-CAM and mAP at tIoU 0.1...0.5 and 0.3:0.7, in percent.

    Args:
        detection: Keyword arguments of :func:`tasks.action_localization.temporal.detect_segments`.
    """

    def __init__(self, detection: dict | None = None, collect_device: str = "cpu",
                 prefix: str | None = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.detection = dict(detection or {})

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        """Turn each video's T-CAM into detections in seconds."""
        for sample in data_samples:
            meta = sample if isinstance(sample, dict) else sample.to_dict()
            tcam = np.asarray(meta["tcam"], dtype=np.float32)
            scores = np.asarray(meta["video_scores"], dtype=np.float32)
            found = temporal.detect_segments(tcam, scores, **self.detection)
            dets = []
            for det in found:
                start_s, end_s = temporal.snippets_to_seconds(
                    det.start, det.end, meta["stride_frames"], meta["fps"])
                dets.append((det.label_id, float(start_s), float(end_s), det.score))
            self.results.append(dict(video_name=meta["video_name"], detections=dets,
                                     gt_segments=list(meta["gt_segments"])))

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Mean AP over the evaluated videos (classes with ground truth among them)."""
        ground_truth = {r["video_name"]: r["gt_segments"] for r in results}
        detections = {r["video_name"]: r["detections"] for r in results}
        return temporal.map_metrics(ground_truth, detections)


_STATISTICS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def training_statistics(ann_file: str, feature_dir: str, subset: str = "Validation",
                        max_videos: int | None = None, subset_seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of the features of a subset's selected videos, cached per process."""
    key = (str(ann_file), str(feature_dir), subset.lower(), max_videos, subset_seed)
    if key not in _STATISTICS:
        videos = select_videos(temporal.load_annotations(ann_file, subset), max_videos,
                               subset_seed)
        if not videos:
            raise ValueError(f"{ann_file} has no {subset} videos to compute feature statistics")
        stats = feature_statistics(feature_dir, [v.video_id for v in videos])
        _STATISTICS[key] = (stats["mean"], stats["std"])
    return _STATISTICS[key]


def feature_statistics(feature_dir: str | Path, video_ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-dimension mean and std of the snippet features of ``video_ids`` (one pass)."""
    total, total_sq, count = None, None, 0
    for video_id in video_ids:
        features = temporal.load_features(feature_dir, video_id).astype(np.float64)
        total = features.sum(0) if total is None else total + features.sum(0)
        total_sq = (features**2).sum(0) if total_sq is None else total_sq + (features**2).sum(0)
        count += len(features)
    if count == 0:
        raise ValueError("no features to compute statistics from")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0))
    return {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
