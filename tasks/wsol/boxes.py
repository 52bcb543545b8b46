"""Boxes from class activation maps, IoU, and the WSOL metrics (numpy + OpenCV only).

Conventions (shared by every function here):

* A box is ``(x0, y0, x1, y1)`` in pixel coordinates of the image the map covers, with
  **inclusive** ends for IoU: its area is ``(x1 - x0 + 1) * (y1 - y0 + 1)`` — the ILSVRC /
  Tiny ImageNet / wsolevaluation convention (:func:`box_iou`). Boxes are float arrays;
  several boxes are an ``(M, 4)`` array.
* :data:`EMPTY_BOX` ``(0, 0, -1, -1)`` has zero area: its IoU with any box is 0. It is what
  a map without localization evidence yields in the paper protocol.
* Maps are min-max normalized before thresholding (:func:`normalize_map`). Defined behaviour
  for degenerate maps (no crash, no warning):

  - non-finite pixels (NaN, ±inf) carry no evidence: they are set to the map's smallest finite
    value;
  - a map with no finite pixel, or with a single value everywhere (all-zero, constant),
    normalizes to all zeros. The paper protocol then yields :data:`EMPTY_BOX` (IoU 0);
    MaxBoxAccV2 yields wsolevaluation's :data:`NO_CONTOUR_BOX` (see below).

Protocols:

* **Paper** (CAM, Zhou et al. 2016; Singh & Lee 2017): threshold the normalized map at 20% of
  its max (``>=``), take the box of the *largest* 8-connected component
  (:func:`largest_component_box`), ``(x, y, x + w - 1, y + h - 1)`` — exactly the pixels it
  covers. **Top-1 Loc**: class right and IoU ≥ 0.5 with the predicted class's map;
  **GT-known Loc**: IoU ≥ 0.5 with the ground-truth class's map; **Top-1 Cls**.
* **MaxBoxAccV2** (Choe et al., CVPR 2020), computed as ``clovaai/wsolevaluation`` does
  (read at commit 96f4b88, files ``evaluation.py``, ``inference.py``, ``config.py``,
  ``util.py`` at the repository root; the rules are restated here, no code is taken):

  1. *Score map* (``inference.py``, ``normalize_scoremap``): min-max normalized to [0, 1];
     constant maps (and, there, maps with any NaN) become all zeros. We use
     :func:`normalize_map`, which agrees except that NaN pixels are set to the minimum.
  2. *Thresholds* (``evaluation.py``, ``evaluate_wsol`` / ``inference.py``,
     ``CAMComputer``): ``np.arange(0, 1, cam_curve_interval)``. wsolevaluation's
     ``config.py`` and ``evaluate_wsol`` default to ``cam_curve_interval = 0.001``, its
     ``evaluation.py`` command line and README example to 0.01; ours is
     :data:`CAM_CURVE_INTERVAL`.
  3. *Binarization* (``compute_bboxes_from_scoremaps``, inner ``scoremap2bbox``): the map is
     quantized to ``uint8`` as ``(map * 255)`` truncated; at threshold ``t`` a pixel is on
     when its quantized value is **strictly greater** than ``int(t * max(quantized))``
     (``cv2.threshold`` with ``THRESH_BINARY``, which keeps ``src > thresh``).
  4. *Contours* (same function): ``cv2.findContours`` with ``cv2.RETR_TREE`` and
     ``cv2.CHAIN_APPROX_SIMPLE`` on the 0/255 mask (``_CONTOUR_INDEX`` takes the contour
     list from OpenCV 3's and 4's return values alike; we run OpenCV 4, where pixels on the
     image border belong to contours like any other). ``RETR_TREE``
     returns every outer contour *and* every hole contour; a hole's contour runs through the
     foreground pixels bordering the hole. With ``multi_contour_eval=True`` — what V2 means
     (``config.py``, ``box_v2_metric``) — every contour gives a box; with ``False`` (the old
     MaxBoxAcc) only the contour of largest ``cv2.contourArea``.
  5. *Contour box* (same function): for ``x, y, w, h = cv2.boundingRect(contour)`` the box
     is ``(x, y, min(x + w, W - 1), min(y + h, H - 1))``; scored with the inclusive ``+ 1``
     area rule, it covers one column / row **more** than the contour on the right / bottom,
     except where that would leave the ``W × H`` map. A thresholded map without any
     contour (only possible when the quantized map is all zero) gives the single box
     ``(0, 0, 0, 0)`` — one pixel at the origin, *not* an empty box.
  6. *IoU* (``calculate_multiple_iou``): inclusive ``+ 1`` widths and heights, intersection
     clipped at 0, IoU 0 where the union is ≤ 0 (:func:`box_iou` is the same rule).
  7. *Ground truth* (``BoxEvaluator._load_resized_boxes`` / ``resize_bbox``): the
     ``x0, y0, x1, y1`` boxes of ``localization.txt`` are scaled by ``224 / W`` and
     ``224 / H`` (every coordinate alike, ``x1`` too) and truncated to integers, without
     clipping. Our callers pass boxes already scaled to the map (in floating point);
     :func:`integer_gt_boxes` truncates them the same way, leaving integer boxes as they
     are.
  8. *Per image and threshold* (``BoxEvaluator.accumulate``): the score is the best IoU
     over all (contour box, GT box) pairs — for each box its best GT box, then the best
     box of that threshold; the image counts as correct at ``t`` for IoU threshold ``δ``
     when that score is ``>= δ`` (``δ`` given in percent, 30/50/70, compared as
     ``δ / 100``).
  9. *Aggregation* (``BoxEvaluator.compute``, ``evaluate_wsol``): BoxAcc(t, δ) = 100 ×
     correct count / image count, MaxBoxAcc(δ) = max over ``t`` (each δ picks its own best
     threshold), and with ``multi_iou_eval`` MaxBoxAccV2 = the plain mean over
     δ ∈ {0.3, 0.5, 0.7}.

  :func:`contour_boxes`, :func:`best_iou_per_threshold` and :func:`max_box_acc` implement
  steps 3–9; they reproduce wsolevaluation's per-image best IoUs (see
  ``tests/tasks/wsol/test_boxes.py`` for hand-computed cases).
* Images with several GT boxes count the best-matching one (ILSVRC convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: The zero-area box returned when a map carries no localization evidence.
EMPTY_BOX = np.array([0.0, 0.0, -1.0, -1.0])
#: MaxBoxAccV2's box for a thresholded map without any contour (wsolevaluation's
#: ``[0, 0, 0, 0]``): the one pixel at the origin, area 1 under the inclusive rule.
NO_CONTOUR_BOX = np.array([0.0, 0.0, 0.0, 0.0])
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
    """Boxes of every contour of a binary mask as wsolevaluation draws them, ``(K, 4)``.

    Every contour ``cv2.findContours`` finds with ``cv2.RETR_TREE`` and
    ``cv2.CHAIN_APPROX_SIMPLE`` — outer contours and hole contours alike — gives the box
    ``(x, y, min(x + w, W - 1), min(y + h, H - 1))`` of its bounding rectangle
    ``(x, y, w, h)``: one column / row beyond the contour on the right / bottom unless that
    leaves the map (MaxBoxAccV2 steps 4–5 of the module docstring). These are *not* the
    inclusive boxes of :func:`largest_component_box`.

    Args:
        mask: ``(H, W)`` binary mask (nonzero = on).

    Returns:
        ``(K, 4)`` boxes in pixel coordinates, ``K = 0`` for an all-off mask.

    Raises:
        ValueError: when ``mask`` is not 2-D or is empty.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"a mask must be a non-empty 2-D (H, W) array; got shape {mask.shape}")
    height, width = mask.shape
    binary = np.where(mask != 0, 255, 0).astype(np.uint8)
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if not contours:
        return np.zeros((0, 4))
    rects = np.array([cv2.boundingRect(c) for c in contours], dtype=np.float64)
    x, y, w, h = rects.T
    return np.stack([x, y, np.minimum(x + w, width - 1), np.minimum(y + h, height - 1)], axis=1)


#: Tolerance of :func:`integer_gt_boxes`' floor, far below any real fractional part.
_FLOOR_TOLERANCE = 1e-6


def integer_gt_boxes(gt_boxes: Sequence | np.ndarray) -> np.ndarray:
    """GT boxes truncated to integer pixels as wsolevaluation's ``resize_bbox`` leaves them.

    wsolevaluation scales ``localization.txt`` boxes to the 224-pixel map as
    ``int(x * 224 / W)``; our pipelines hand over the scaled float ``x * (224 / W)``, which
    rounding can leave just below an integer (``223.99999999999997``). Each coordinate is
    therefore floored after adding ``1e-6``: exact integers stay, a real fractional part
    (at least ``1 / W``, so ≫ 1e-6) is dropped.

    Args:
        gt_boxes: ``(M, 4)`` or ``(4,)`` boxes in the map's pixels, coordinates ≥ 0.

    Returns:
        ``(M, 4)`` float array of integer-valued boxes.

    Raises:
        ValueError: for a bad box shape.
    """
    return np.floor(as_boxes(gt_boxes) + _FLOOR_TOLERANCE)


def best_iou_per_threshold(
    cam: np.ndarray, gt_boxes: Sequence | np.ndarray, thresholds: np.ndarray | None = None
) -> np.ndarray:
    """One image's MaxBoxAccV2 scores: best IoU of any contour box at each CAM threshold.

    Follows wsolevaluation (module docstring, MaxBoxAccV2 steps 3–8): the normalized map is
    quantized to 0..255; at threshold ``t`` the pixels strictly above
    ``int(t * max(quantized))`` form the mask; every contour gives a :func:`contour_boxes`
    box (a mask without contour, i.e. a degenerate map, gives :data:`NO_CONTOUR_BOX`); the
    score is the best IoU over (box, GT box) pairs.

    Args:
        cam: ``(H, W)`` map of the ground-truth class (any scale; min-max normalized here).
        gt_boxes: ``(M, 4)`` ground-truth boxes in the map's pixel coordinates, made
            integer by :func:`integer_gt_boxes`.
        thresholds: 1-D CAM thresholds, fractions of the quantized map's max (default
            :func:`cam_thresholds`).

    Returns:
        ``(T,)`` best IoU per threshold, each in [0, 1]; all 0 when there is no GT box.

    Raises:
        ValueError: when ``thresholds`` is not 1-D, or for a bad map or box shape.
    """
    thresholds = cam_thresholds() if thresholds is None else np.asarray(thresholds, float)
    if thresholds.ndim != 1:
        raise ValueError(f"thresholds must be a 1-D array; got shape {thresholds.shape}")
    gt = integer_gt_boxes(gt_boxes)
    quantized = (normalize_map(cam) * 255).astype(np.uint8)
    if len(gt) == 0:
        return np.zeros(len(thresholds))
    peak = int(quantized.max())
    # Thresholds that quantize to the same level give the same mask: one contour pass per
    # level, then one IoU matrix for every box of every level.
    levels = (thresholds * peak).astype(int)
    unique_levels = np.unique(levels)
    per_level = []
    for level in unique_levels:
        found = contour_boxes(quantized > level)
        per_level.append(found if len(found) else NO_CONTOUR_BOX[None])
    owner = np.repeat(np.arange(len(unique_levels)), [len(b) for b in per_level])
    best = np.zeros(len(unique_levels))
    if len(owner):
        np.maximum.at(best, owner, box_iou(np.concatenate(per_level), gt).max(axis=1))
    return best[np.searchsorted(unique_levels, levels)]


def max_box_acc(
    best_ious: np.ndarray, iou_thresholds: Sequence[float] = MAXBOXACC_IOUS
) -> dict[float, float]:
    """MaxBoxAcc per IoU threshold (percent) from stacked per-image threshold scores.

    As wsolevaluation's ``BoxEvaluator``: per threshold ``t`` the count of images whose
    score is ``>= δ``, times 100, over the image count; the best ``t`` for each ``δ``.

    Args:
        best_ious: ``(N, T)`` rows of :func:`best_iou_per_threshold` (IoUs in [0, 1]).
        iou_thresholds: The δ values, fractions in [0, 1].

    Returns:
        ``{δ: max_t 100 * count_i[best_ious[i, t] >= δ] / N}`` in percent [0, 100]; 0 for
        no images.

    Raises:
        ValueError: when ``best_ious`` is not 2-D.
    """
    best_ious = np.asarray(best_ious, dtype=np.float64)
    if best_ious.ndim != 2:
        raise ValueError(
            f"best_ious must be (images, thresholds), 2-D; got shape {best_ious.shape}"
        )
    if best_ious.size == 0:
        return {float(d): 0.0 for d in iou_thresholds}
    return {
        float(d): float(((best_ious >= d).sum(axis=0) * 100.0 / len(best_ious)).max())
        for d in iou_thresholds
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
