"""Boxes from class activation maps, IoU, and the WSOL metrics (numpy + OpenCV only).

Conventions (shared by every function here):

* A box is ``(x0, y0, x1, y1)`` in pixel coordinates of the image the map covers, with
  **inclusive** ends (``x1`` is the last covered column), so its area is
  ``(x1 - x0 + 1) * (y1 - y0 + 1)`` — the ILSVRC / Tiny ImageNet / wsolevaluation convention.
  Boxes are float arrays; several boxes are an ``(M, 4)`` array.
* :data:`EMPTY_BOX` ``(0, 0, -1, -1)`` has zero area: its IoU with any box is 0. It is what a
  map without localization evidence yields.
* Maps are min-max normalized before thresholding (:func:`normalize_map`). Defined behaviour
  for degenerate maps (no crash, no warning):

  - non-finite pixels (NaN, ±inf) carry no evidence: they are set to the map's smallest finite
    value;
  - a map with no finite pixel, or with a single value everywhere (all-zero, constant),
    normalizes to all zeros and yields :data:`EMPTY_BOX` (IoU 0, so never counted as a correct
    localization).

Protocols:

* **Paper** (CAM, Zhou et al. 2016; Singh & Lee 2017): threshold the normalized map at 20% of
  its max, take the bounding box of the *largest* 8-connected component
  (:func:`largest_component_box`). **Top-1 Loc**: class right and IoU ≥ 0.5 with the predicted
  class's map; **GT-known Loc**: IoU ≥ 0.5 with the ground-truth class's map; **Top-1 Cls**.
* **MaxBoxAccV2** (Choe et al., CVPR 2020, ``wsolevaluation``): the ground-truth class's map
  is thresholded at every ``t`` in ``0, 0.01, ..., 0.99`` (on the map quantized to 0..255,
  pixels strictly above ``int(t * max)``), every contour (``cv2.RETR_TREE``, holes included)
  gives a box, the image's score at ``t`` is its best IoU over (contour box, GT box) pairs;
  BoxAcc(t, δ) is the fraction of images with score ≥ δ; MaxBoxAccV2 is the mean over
  δ ∈ {0.3, 0.5, 0.7} of max_t BoxAcc(t, δ). Our boxes use the inclusive convention above
  (wsolevaluation's contour boxes end one pixel further), so values can differ from theirs by
  that one-pixel margin.
* Images with several GT boxes count the best-matching one (ILSVRC convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: The zero-area box returned when a map carries no localization evidence.
EMPTY_BOX = np.array([0.0, 0.0, -1.0, -1.0])
#: The paper's CAM threshold (fraction of the normalized map's max).
PAPER_THRESHOLD_FRACTION = 0.2
#: IoU a box needs to count as a correct localization (paper protocol).
PAPER_IOU = 0.5
#: IoU thresholds MaxBoxAccV2 averages over.
MAXBOXACC_IOUS: tuple[float, ...] = (0.3, 0.5, 0.7)
#: Spacing of the CAM thresholds MaxBoxAccV2 sweeps (wsolevaluation's ``cam_curve_interval``).
CAM_CURVE_INTERVAL = 0.01


def as_boxes(boxes: Sequence | np.ndarray) -> np.ndarray:
    """Return ``boxes`` as a float ``(M, 4)`` array (one box ``(4,)`` becomes ``(1, 4)``).

    Raises:
        ValueError: when the last dimension is not 4.
    """
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(
            f"boxes must be (x0, y0, x1, y1) rows, shape (M, 4); got shape {array.shape}"
        )
    return array


def box_iou(boxes_a: Sequence | np.ndarray, boxes_b: Sequence | np.ndarray) -> np.ndarray:
    """Pairwise IoU of inclusive-pixel boxes.

    Args:
        boxes_a: ``(N, 4)`` or ``(4,)`` boxes.
        boxes_b: ``(M, 4)`` or ``(4,)`` boxes.

    Returns:
        ``(N, M)`` IoU matrix; pairs whose union is empty (two empty boxes) get 0.
    """
    a, b = as_boxes(boxes_a), as_boxes(boxes_b)
    area_a = _area(a)[:, None]
    area_b = _area(b)[None, :]
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0 + 1, 0, None) * np.clip(iy1 - iy0 + 1, 0, None)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _area(boxes: np.ndarray) -> np.ndarray:
    widths = np.clip(boxes[:, 2] - boxes[:, 0] + 1, 0, None)
    heights = np.clip(boxes[:, 3] - boxes[:, 1] + 1, 0, None)
    return widths * heights


def best_iou(pred_boxes: Sequence | np.ndarray, gt_boxes: Sequence | np.ndarray) -> float:
    """The best IoU over all (predicted box, ground-truth box) pairs (ILSVRC convention).

    Returns 0 when either set is empty.
    """
    pred, gt = as_boxes(pred_boxes), as_boxes(gt_boxes)
    if len(pred) == 0 or len(gt) == 0:
        return 0.0
    return float(box_iou(pred, gt).max())


def normalize_map(cam: np.ndarray) -> np.ndarray:
    """Min-max normalize one map to [0, 1] (float64) with the module's degenerate-map rules.

    Non-finite pixels are set to the smallest finite value; a map without a finite pixel or
    with zero range becomes all zeros.
    """
    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim != 2:
        raise ValueError(f"a CAM must be a 2-D (H, W) map; got shape {cam.shape}")
    finite = np.isfinite(cam)
    if not finite.any():
        return np.zeros_like(cam)
    low, high = cam[finite].min(), cam[finite].max()
    if high <= low:
        return np.zeros_like(cam)
    cam = np.where(finite, cam, low)
    return (cam - low) / (high - low)


def largest_component_box(
    cam: np.ndarray, threshold_fraction: float = PAPER_THRESHOLD_FRACTION
) -> np.ndarray:
    """The paper's box: around the largest 8-connected region of ``cam >= fraction * max``.

    Args:
        cam: ``(H, W)`` map (any scale; it is min-max normalized first).
        threshold_fraction: Fraction of the normalized map's max (1) a pixel needs.

    Returns:
        ``(4,)`` inclusive box, or :data:`EMPTY_BOX` for a degenerate map. Ties between
        equally large components go to the one whose first pixel comes first in raster order.
    """
    norm = normalize_map(cam)
    if norm.max() <= 0:
        return EMPTY_BOX.copy()
    mask = (norm >= threshold_fraction * norm.max()).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return EMPTY_BOX.copy()
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[best, :4])
    return np.array([x, y, x + w - 1, y + h - 1], dtype=np.float64)


def largest_component_boxes(
    cams: np.ndarray, threshold_fraction: float = PAPER_THRESHOLD_FRACTION
) -> np.ndarray:
    """:func:`largest_component_box` for a stack of maps ``(..., H, W)`` -> ``(..., 4)``."""
    cams = np.asarray(cams)
    flat = cams.reshape(-1, *cams.shape[-2:])
    boxes = [largest_component_box(c, threshold_fraction) for c in flat]
    boxes = np.stack(boxes) if boxes else np.zeros((0, 4))
    return boxes.reshape(*cams.shape[:-2], 4)


def cam_thresholds(interval: float = CAM_CURVE_INTERVAL) -> np.ndarray:
    """The thresholds MaxBoxAccV2 sweeps: ``0, interval, ..., < 1``."""
    if not 0 < interval < 1:
        raise ValueError(f"cam curve interval must be in (0, 1); got {interval}")
    return np.arange(0.0, 1.0, interval)


def contour_boxes(mask: np.ndarray) -> np.ndarray:
    """Inclusive boxes of every contour of a binary mask (``cv2.RETR_TREE``), ``(K, 4)``."""
    contours = cv2.findContours(mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if not contours:
        return np.zeros((0, 4))
    rects = np.array([cv2.boundingRect(c) for c in contours], dtype=np.float64)
    return np.stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2] - 1,
                     rects[:, 1] + rects[:, 3] - 1], axis=1)


def best_iou_per_threshold(
    cam: np.ndarray, gt_boxes: Sequence | np.ndarray, thresholds: np.ndarray | None = None
) -> np.ndarray:
    """One image's MaxBoxAccV2 scores: best IoU of any contour box at each CAM threshold.

    Args:
        cam: ``(H, W)`` map of the ground-truth class.
        gt_boxes: ``(M, 4)`` ground-truth boxes in the map's pixel coordinates.
        thresholds: CAM thresholds (default :func:`cam_thresholds`).

    Returns:
        ``(T,)`` best IoU per threshold (0 where the thresholded map has no contour, and
        everywhere for a degenerate map).
    """
    thresholds = cam_thresholds() if thresholds is None else np.asarray(thresholds)
    gt = as_boxes(gt_boxes)
    quantized = (normalize_map(cam) * 255).astype(np.uint8)
    peak = int(quantized.max())
    if peak == 0 or len(gt) == 0:
        return np.zeros(len(thresholds))
    # Thresholds that quantize to the same level give the same mask: one contour pass per
    # level, then one IoU matrix for every box of every level.
    levels = (thresholds * peak).astype(int)
    unique_levels = np.unique(levels)
    per_level = [contour_boxes(quantized > level) for level in unique_levels]
    owner = np.repeat(np.arange(len(unique_levels)), [len(b) for b in per_level])
    best = np.zeros(len(unique_levels))
    if len(owner):
        np.maximum.at(best, owner, box_iou(np.concatenate(per_level), gt).max(axis=1))
    return best[np.searchsorted(unique_levels, levels)]


def max_box_acc(
    best_ious: np.ndarray, iou_thresholds: Sequence[float] = MAXBOXACC_IOUS
) -> dict[float, float]:
    """MaxBoxAcc per IoU threshold (percent) from stacked per-image threshold scores.

    Args:
        best_ious: ``(N, T)`` rows of :func:`best_iou_per_threshold`.
        iou_thresholds: The δ values.

    Returns:
        ``{δ: max_t 100 * mean_i [best_ious[i, t] >= δ]}``; 0 for no images.
    """
    best_ious = np.asarray(best_ious, dtype=np.float64)
    if best_ious.size == 0:
        return {float(d): 0.0 for d in iou_thresholds}
    return {
        float(d): float(100.0 * (best_ious >= d).mean(axis=0).max()) for d in iou_thresholds
    }


@dataclass(frozen=True)
class ImageScore:
    """One image's localization results (what a metric keeps per image)."""

    correct_class: bool
    iou_top1: float
    iou_gt_known: float
    maxbox_scores: np.ndarray
    box_top1: np.ndarray
    box_gt_known: np.ndarray


def score_image(
    cam_pred: np.ndarray,
    cam_gt: np.ndarray,
    pred_label: int,
    gt_label: int,
    gt_boxes: Sequence | np.ndarray,
    *,
    threshold_fraction: float = PAPER_THRESHOLD_FRACTION,
    thresholds: np.ndarray | None = None,
) -> ImageScore:
    """Everything the WSOL metrics need from one image.

    Args:
        cam_pred: Map of the predicted class ``(H, W)``.
        cam_gt: Map of the ground-truth class ``(H, W)``.
        pred_label: Predicted class index.
        gt_label: Ground-truth class index.
        gt_boxes: ``(M, 4)`` ground-truth boxes in the maps' pixel coordinates.
        threshold_fraction: Paper-protocol CAM threshold.
        thresholds: MaxBoxAccV2 thresholds (default :func:`cam_thresholds`).
    """
    box_top1 = largest_component_box(cam_pred, threshold_fraction)
    box_gt = largest_component_box(cam_gt, threshold_fraction)
    return ImageScore(
        correct_class=bool(pred_label == gt_label),
        iou_top1=best_iou(box_top1, gt_boxes),
        iou_gt_known=best_iou(box_gt, gt_boxes),
        maxbox_scores=best_iou_per_threshold(cam_gt, gt_boxes, thresholds),
        box_top1=box_top1,
        box_gt_known=box_gt,
    )


def summarize(
    scores: Sequence[ImageScore],
    *,
    iou_threshold: float = PAPER_IOU,
    maxbox_ious: Sequence[float] = MAXBOXACC_IOUS,
) -> dict[str, float]:
    """The WSOL metrics (percent) over a test set.

    Returns:
        ``top1_cls``, ``top1_loc``, ``gt_known_loc``, ``maxboxaccv2`` and the per-δ
        ``maxboxacc@<δ>`` values; all 0 for an empty list.
    """
    if not scores:
        zeros = {"top1_cls": 0.0, "top1_loc": 0.0, "gt_known_loc": 0.0, "maxboxaccv2": 0.0}
        return {**zeros, **{f"maxboxacc@{d:g}": 0.0 for d in maxbox_ious}}
    correct = np.array([s.correct_class for s in scores])
    iou_top1 = np.array([s.iou_top1 for s in scores])
    iou_gt = np.array([s.iou_gt_known for s in scores])
    per_delta = max_box_acc(np.stack([s.maxbox_scores for s in scores]), maxbox_ious)
    return {
        "top1_cls": float(100.0 * correct.mean()),
        "top1_loc": float(100.0 * (correct & (iou_top1 >= iou_threshold)).mean()),
        "gt_known_loc": float(100.0 * (iou_gt >= iou_threshold).mean()),
        "maxboxaccv2": float(np.mean(list(per_delta.values()))),
        **{f"maxboxacc@{d:g}": v for d, v in per_delta.items()},
    }
