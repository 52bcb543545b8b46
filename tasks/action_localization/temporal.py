"""Temporal action localization on snippet features: annotations, timelines, detections, mAP.

Framework-free (numpy only; mAP calls mmaction2's own ``average_precision_at_temporal_iou``).

Timeline convention. A video's feature sequence has one row per *snippet*: snippet ``i``
covers frames ``[i * stride, i * stride + window)`` of the video (I3D/C3D releases: 16-frame
windows every 16 frames at the video's fps, or every 4 frames for ActionFormer's). A run of
snippets ``[start, end)`` (end exclusive) is the time span ``[start * stride, end * stride)``
frames, i.e. ``[start * stride / fps, end * stride / fps)`` seconds (the snippets' stride
cells, not their overlapping windows, so consecutive runs tile the timeline). Seconds map back
with ``floor(t * fps / stride)`` for a start and ``ceil(t * fps / stride)`` for an end.

Detections (STPN / W-TALC style). For each class whose video-level score passes
``class_threshold``, the class's temporal class activation map (T-CAM) is thresholded at a few
fractions of its range; each run of consecutive snippets above a threshold is a candidate
segment, scored by its mean activation minus the mean of its surroundings (outer-inner contrast,
AutoLoc/BaS-Net) plus a share of the video score; class-wise temporal NMS removes duplicates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: THUMOS14's 20 detection classes in ActionFormer's label_id order.
THUMOS14_CLASSES: tuple[str, ...] = (
    "BaseballPitch", "BasketballDunk", "Billiards", "CleanAndJerk", "CliffDiving",
    "CricketBowling", "CricketShot", "Diving", "FrisbeeCatch", "GolfSwing", "HammerThrow",
    "HighJump", "JavelinThrow", "LongJump", "PoleVault", "Shotput", "SoccerPenalty",
    "TennisSwing", "ThrowDiscus", "VolleyballSpiking",
)
#: tIoU thresholds of the paper's table, and the 0.3:0.7 average used by recent papers.
TIOU_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
AVERAGE_TIOUS: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)
#: Most candidate segments per class and video that enter NMS (the best-scoring ones).
MAX_CANDIDATES = 600


# --------------------------------------------------------------------------- annotations
@dataclass(frozen=True)
class Segment:
    """One annotated action instance, in seconds."""

    label_id: int
    start_seconds: float
    end_seconds: float


@dataclass(frozen=True)
class VideoAnnotation:
    """A video of an ActionFormer-style annotation file."""

    video_id: str
    subset: str
    duration_seconds: float
    fps: float
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    def label_ids(self) -> list[int]:
        """The distinct class ids present in the video (its video-level labels), sorted."""
        return sorted({s.label_id for s in self.segments})


def load_annotations(json_path: str | Path, subset: str | None = None) -> list[VideoAnnotation]:
    """Parse an ActionFormer THUMOS14 json (``database.<video>.{subset,duration,fps,annotations}``).

    Args:
        json_path: The annotation file.
        subset: Keep only this subset (``"Validation"`` or ``"Test"``, case-insensitive);
            ``None`` keeps all.

    Returns:
        Videos sorted by id.

    Raises:
        ValueError: when the file is not in that layout.
    """
    path = Path(json_path)
    try:
        database = json.loads(path.read_text())["database"]
    except (OSError, KeyError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is not an ActionFormer annotation json with a 'database' key ({err}); "
            "expected database.<video>.{subset,duration,fps,annotations[{label,segment,label_id}]}"
        ) from err
    videos = []
    for video_id, entry in sorted(database.items()):
        if subset is not None and entry.get("subset", "").lower() != subset.lower():
            continue
        missing = [k for k in ("subset", "duration", "fps") if k not in entry]
        if missing:
            raise ValueError(f"{path}: video {video_id} lacks {missing}")
        segments = tuple(
            Segment(int(a["label_id"]), float(a["segment"][0]), float(a["segment"][1]))
            for a in entry.get("annotations", [])
        )
        videos.append(VideoAnnotation(video_id, entry["subset"], float(entry["duration"]),
                                      float(entry["fps"]), segments))
    return videos


# --------------------------------------------------------------------------- features
def feature_files(feature_dir: str | Path, video_id: str) -> list[Path]:
    """The feature file(s) of a video: ``<id>.npy``, else ``<id>_rgb.npy`` + ``<id>_flow.npy``.

    Raises:
        ValueError: naming the files looked for when neither form exists.
    """
    folder = Path(feature_dir)
    single = folder / f"{video_id}.npy"
    if single.exists():
        return [single]
    pair = [folder / f"{video_id}_rgb.npy", folder / f"{video_id}_flow.npy"]
    if all(p.exists() for p in pair):
        return pair
    raise ValueError(
        f"no features for video {video_id} in {folder}: expected {single.name} (RGB and flow "
        f"concatenated) or {pair[0].name} + {pair[1].name}"
    )


def load_features(feature_dir: str | Path, video_id: str) -> np.ndarray:
    """A video's snippet features, T x D float32 (two-stream files concatenated along D).

    Raises:
        ValueError: when files are missing, not 2-D, or the two streams differ in length.
    """
    arrays = []
    for path in feature_files(feature_dir, video_id):
        array = np.load(path)
        if array.ndim != 2:
            raise ValueError(f"{path} has shape {array.shape}; snippet features must be T x D")
        arrays.append(array.astype(np.float32, copy=False))
    if len(arrays) == 2 and len(arrays[0]) != len(arrays[1]):
        # Releases sometimes differ by a snippet or two between streams: keep the common part.
        if abs(len(arrays[0]) - len(arrays[1])) > 2:
            raise ValueError(
                f"RGB and flow features of {video_id} differ in length "
                f"({len(arrays[0])} vs {len(arrays[1])} snippets)"
            )
        common = min(len(a) for a in arrays)
        arrays = [a[:common] for a in arrays]
    return np.concatenate(arrays, axis=1) if len(arrays) > 1 else arrays[0]


# --------------------------------------------------------------------------- timeline
def snippets_to_seconds(
    start: float | np.ndarray, end: float | np.ndarray, stride_frames: float, fps: float
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Snippet run ``[start, end)`` -> seconds ``[start, end)`` (see module docstring)."""
    if stride_frames <= 0 or fps <= 0:
        raise ValueError(f"stride_frames ({stride_frames}) and fps ({fps}) must be positive")
    scale = stride_frames / fps
    return np.multiply(start, scale), np.multiply(end, scale)


def seconds_to_snippets(
    start_seconds: float, end_seconds: float, stride_frames: float, fps: float,
    num_snippets: int | None = None,
) -> tuple[int, int]:
    """Seconds -> the snippet run ``[start, end)`` covering them, clipped to the sequence.

    A non-empty time span always maps to at least one snippet.
    """
    if stride_frames <= 0 or fps <= 0:
        raise ValueError(f"stride_frames ({stride_frames}) and fps ({fps}) must be positive")
    per_second = fps / stride_frames
    start = math.floor(start_seconds * per_second + 1e-9)
    end = max(start + 1, math.ceil(end_seconds * per_second - 1e-9))
    if num_snippets is not None:
        start = min(max(start, 0), max(num_snippets - 1, 0))
        end = min(max(end, start + 1), num_snippets)
    return start, end


def num_snippets_for(duration_seconds: float, fps: float, stride_frames: float) -> int:
    """How many snippets a video of this duration yields (at least one)."""
    return max(1, math.floor(duration_seconds * fps / stride_frames))


# --------------------------------------------------------------------------- detections
def group_runs(mask: Sequence[bool] | np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive True values as ``(start, end)`` index pairs, end exclusive."""
    values = np.asarray(mask, dtype=bool).ravel()
    if values.size == 0:
        return []
    padded = np.concatenate([[False], values, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(s), int(e)) for s, e in zip(edges[0::2], edges[1::2], strict=True)]


def temporal_nms(segments: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy NMS: indices of kept segments, highest score first."""
    segments = np.asarray(segments, dtype=float).reshape(-1, 2)
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    if len(order) == 0:
        return []
    ordered = segments[order]
    inter = np.clip(np.minimum(ordered[:, None, 1], ordered[None, :, 1])
                    - np.maximum(ordered[:, None, 0], ordered[None, :, 0]), 0, None)
    lengths = ordered[:, 1] - ordered[:, 0]
    union = lengths[:, None] + lengths[None, :] - inter
    ious = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    suppressed = np.zeros(len(order), dtype=bool)
    keep: list[int] = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(int(order[i]))
        suppressed |= ious[i] > iou_threshold
    return keep


@dataclass(frozen=True)
class Detection:
    """A detected action segment (snippet indices, end exclusive)."""

    label_id: int
    start: int
    end: int
    score: float


def outer_inner_scores(activation: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                       outer_fraction: float = 0.25) -> np.ndarray:
    """Mean activation inside each ``[start, end)`` minus the mean in the flanks around it.

    Each flank is ``outer_fraction`` of the segment length (at least one snippet), clipped to
    the sequence; with no flank (the segment spans the video) the outer mean is 0.
    """
    activation = np.asarray(activation, dtype=np.float64)
    starts, ends = np.asarray(starts, dtype=int), np.asarray(ends, dtype=int)
    cumsum = np.concatenate([[0.0], np.cumsum(activation)])
    inner = (cumsum[ends] - cumsum[starts]) / np.maximum(ends - starts, 1)
    flank = np.maximum(1, np.round((ends - starts) * outer_fraction).astype(int))
    left0 = np.maximum(0, starts - flank)
    right1 = np.minimum(len(activation), ends + flank)
    outer_sum = (cumsum[starts] - cumsum[left0]) + (cumsum[right1] - cumsum[ends])
    outer_len = (starts - left0) + (right1 - ends)
    outer = np.where(outer_len > 0, outer_sum / np.maximum(outer_len, 1), 0.0)
    return inner - outer


def detect_segments(
    tcam: np.ndarray,
    video_scores: np.ndarray,
    *,
    class_threshold: float = 0.2,
    max_classes: int = 3,
    thresholds: Iterable[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    nms_iou: float = 0.5,
    video_score_weight: float = 0.2,
    min_snippets: int = 1,
    max_per_class: int = 100,
) -> list[Detection]:
    """Action segments from a T-CAM (T x C, values in [0, 1]) and video scores (C,).

    Args:
        tcam: Per-snippet class activations.
        video_scores: Video-level class probabilities; the ``max_classes`` best classes whose
            score reaches ``class_threshold`` are localized (the best one always is).
        class_threshold: Minimum video score of a class to localize it.
        max_classes: Most classes localized per video.
        thresholds: Fractions of each class's activation range (min..max over the video) at
            which the T-CAM is cut into runs of consecutive snippets.
        nms_iou: tIoU above which a lower-scoring segment of the same class is suppressed.
        video_score_weight: Share of the video score added to each segment's score.
        min_snippets: Shortest run kept.
        max_per_class: Most segments kept per class.

    Returns:
        Detections, best first within each class.
    """
    tcam = np.asarray(tcam, dtype=np.float64)
    if tcam.ndim != 2:
        raise ValueError(f"tcam must be T x C, got shape {tcam.shape}")
    video_scores = np.asarray(video_scores, dtype=np.float64).ravel()
    if len(video_scores) != tcam.shape[1]:
        raise ValueError(f"{len(video_scores)} video scores for a T-CAM of {tcam.shape[1]} classes")
    if tcam.shape[0] == 0:
        return []
    ranked = np.argsort(-video_scores, kind="stable")
    classes = [int(c) for i, c in enumerate(ranked[:max(1, max_classes)])
               if i == 0 or video_scores[c] >= class_threshold]
    detections: list[Detection] = []
    for cls in classes:
        activation = tcam[:, cls]
        low, high = float(activation.min()), float(activation.max())
        spans = set()
        for fraction in thresholds:
            cut = low + fraction * (high - low) if high > low else high
            spans.update(r for r in group_runs(activation >= cut) if r[1] - r[0] >= min_snippets)
        if not spans:
            continue
        runs = np.array(sorted(spans), dtype=int)
        scores = (outer_inner_scores(activation, runs[:, 0], runs[:, 1])
                  + video_score_weight * float(video_scores[cls]))
        if len(runs) > MAX_CANDIDATES:  # bound NMS's pairwise matrix on noisy T-CAMs
            best = np.argsort(-scores, kind="stable")[:MAX_CANDIDATES]
            runs, scores = runs[best], scores[best]
        for i in temporal_nms(runs, scores, nms_iou)[:max_per_class]:
            detections.append(Detection(cls, int(runs[i, 0]), int(runs[i, 1]), float(scores[i])))
    return detections


# --------------------------------------------------------------------------- metric
def mean_average_precision(
    ground_truth: dict[str, list[tuple[int, float, float]]],
    detections: dict[str, list[tuple[int, float, float, float]]],
    tious: Sequence[float] = TIOU_THRESHOLDS,
) -> tuple[np.ndarray, list[int]]:
    """Class-averaged AP at each tIoU, with mmaction2's ``average_precision_at_temporal_iou``.

    Args:
        ground_truth: video id -> ``[(label_id, start_s, end_s), ...]`` for every evaluated
            video (videos without actions still count: their detections are false positives).
        detections: video id -> ``[(label_id, start_s, end_s, score), ...]``.
        tious: tIoU thresholds.

    Returns:
        (mAP per tIoU in [0, 1], the class ids averaged over: those with at least one
        ground-truth instance among the evaluated videos).
    """
    from mmaction.evaluation.functional import average_precision_at_temporal_iou

    classes = sorted({label for segs in ground_truth.values() for label, _, _ in segs})
    tiou_array = np.asarray(tious, dtype=float)
    if not classes:
        return np.zeros(len(tiou_array)), []
    aps = []
    for cls in classes:
        gt = {vid: np.array([[s, e] for label, s, e in segs if label == cls], dtype=float)
              .reshape(-1, 2) for vid, segs in ground_truth.items()}
        gt = {vid: v for vid, v in gt.items() if len(v)}
        preds = [[vid, cls, s, e, score] for vid, dets in detections.items()
                 for label, s, e, score in dets if label == cls]
        aps.append(average_precision_at_temporal_iou(gt, preds, tiou_array))
    return np.mean(np.stack(aps), axis=0), classes


def map_metrics(
    ground_truth: dict[str, list[tuple[int, float, float]]],
    detections: dict[str, list[tuple[int, float, float, float]]],
) -> dict[str, float]:
    """The results table's metrics in percent: ``map@0.1`` ... ``map@0.5`` and ``map@0.3:0.7``."""
    tious = sorted(set(TIOU_THRESHOLDS) | set(AVERAGE_TIOUS))
    values, _ = mean_average_precision(ground_truth, detections, tious)
    by_tiou = dict(zip(tious, values.tolist(), strict=True))
    metrics = {f"map@{t}": 100.0 * by_tiou[t] for t in TIOU_THRESHOLDS}
    metrics["map@0.3:0.7"] = 100.0 * float(np.mean([by_tiou[t] for t in AVERAGE_TIOUS]))
    return metrics
