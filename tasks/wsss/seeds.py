"""Stage 2 of WSSS: CAM seeds -> pseudo masks, and their quality (``seed_miou``).

For each training image, the CAMs (:func:`benchmark.cam.class_activation_maps`, no bias) of
the classes its image-level label holds are computed at the classifier's input size, averaged
with those of the horizontally flipped image, upsampled bilinearly to the image's own size,
ReLU'd and divided by their maximum, so each map lies in [0, 1] with max 1
(:func:`max_normalize`). A constant background map, the *background threshold*, is put in
front, and the per-pixel argmax over [background, classes present] is the pseudo mask. The
default threshold 0.15 is the CAM-seed evaluation threshold of IRN (Ahn, Cho & Kwak, CVPR
2019: ``cam_eval_thres`` in its ``run_sample.py``), the setting most later WSSS work reports
seed mIoU at. There is no dense-CRF refinement: no maintained CRF package installs from PyPI
on Python 3.11 without a C compiler (pydensecrf, pydensecrf2 and SimpleCRF ship only sources).
Single scale (IRN averages scales 0.5-2.0; a deviation).

``seed_miou`` is mmseg's mIoU (``IoUMetric``'s intersect-and-union, classes with an empty union
left out, in percent) of the pseudo masks against the training images' ground-truth masks,
255 ignored. Pseudo masks are written as palette PNGs (VOC ids, VOC's colour map), one per
training image, with a list file, in mmseg's layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmark.voc import VOC_CLASSES, VOC_IGNORE, voc_palette
from tasks.wsss.data import Split, labelled_images, read_mask

if TYPE_CHECKING:  # torch is imported where it is used: `hasbench list` stays light
    import torch

#: The background score of the pseudo masks (IRN's ``cam_eval_thres``), in (0, 1).
DEFAULT_BG_THRESHOLD = 0.15
#: Folder (in the stage's dir) of the pseudo masks and the list file naming them.
MASK_DIR = "SegmentationClassPseudo"
LIST_FILE = "train.txt"
#: The stage's summary, written last: its presence means the stage finished.
DONE_FILE = "stage.json"


def check_bg_threshold(value: Any) -> float:
    """The background threshold as a float.

    Raises:
        ValueError: when it is not a number strictly between 0 and 1.
    """
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        threshold = float("nan")
    if isinstance(value, bool) or not 0.0 < threshold < 1.0:
        raise ValueError(
            f"bg_threshold={value!r} must be a number strictly between 0 and 1 (the background "
            f"score against CAMs normalized to max 1; 0 would leave no background, 1 no "
            f"object); e.g. --option bg_threshold={DEFAULT_BG_THRESHOLD}")
    return threshold


def max_normalize(cams: torch.Tensor) -> torch.Tensor:
    """``(..., H, W)`` maps ReLU'd and divided by their own maximum (all-zero maps stay 0)."""
    import torch

    cams = cams.clamp_min(0)
    peak = cams.flatten(-2).amax(-1)[..., None, None]
    return cams / torch.where(peak > 0, peak, torch.ones_like(peak))


def pseudo_mask(cams: np.ndarray, classes: Sequence[int], bg_threshold: float) -> np.ndarray:
    """The argmax over [background = ``bg_threshold``, the classes' maps], as VOC ids.

    Args:
        cams: ``(M, H, W)`` maps in [0, 1], one per entry of ``classes``.
        classes: The VOC ids (1..20) present in the image (may be empty).
        bg_threshold: Background score in (0, 1).

    Returns:
        ``(H, W)`` uint8 VOC ids (0 = background).
    """
    cams = np.asarray(cams, np.float32).reshape(len(classes), *np.shape(cams)[-2:])
    scores = np.concatenate([np.full((1, *cams.shape[1:]), bg_threshold, np.float32), cams])
    ids = np.asarray([0, *classes], np.uint8)
    return ids[scores.argmax(0)]


def intersect_and_union(pred: np.ndarray, gt: np.ndarray,
                        num_classes: int = len(VOC_CLASSES)) -> np.ndarray:
    """Per-class areas ``(4, K)``: intersection, union, prediction, label (mmseg's IoUMetric)."""
    import torch

    from benchmark.engine import compat

    compat.apply()
    from mmseg.evaluation.metrics import IoUMetric

    areas = IoUMetric.intersect_and_union(torch.from_numpy(pred.astype(np.int64)),
                                          torch.from_numpy(gt.astype(np.int64)), num_classes,
                                          VOC_IGNORE)
    return torch.stack([a.double() for a in areas]).numpy()


def miou(total_areas: np.ndarray) -> float:
    """The mIoU (percent, mmseg's IoUMetric) of summed :func:`intersect_and_union` areas."""
    import torch
    from mmseg.evaluation.metrics import IoUMetric

    metrics = IoUMetric.total_area_to_metrics(*(torch.from_numpy(a) for a in total_areas),
                                              metrics=["mIoU"])
    return float(np.nanmean(np.asarray(metrics["IoU"], np.float64)) * 100.0)


def seed_miou(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """The mIoU (percent) of (pseudo mask, ground truth) pairs; 255 in the truth is ignored."""
    total = sum(intersect_and_union(pred, gt) for pred, gt in pairs)
    return miou(np.asarray(total))


# ----------------------------------------------------------------------------- CAMs
def _input(image_bgr: np.ndarray, input_hw: tuple[int, int], preprocessor: dict) -> torch.Tensor:
    """The classifier's normalized ``(1, 3, h, w)`` input, as its data preprocessor makes it."""
    import cv2
    import torch

    resized = cv2.resize(image_bgr, (input_hw[1], input_hw[0]), interpolation=cv2.INTER_LINEAR)
    if preprocessor.get("to_rgb", False):
        resized = resized[..., ::-1]
    x = torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1).float()
    mean = torch.tensor(preprocessor["mean"]).view(3, 1, 1)
    std = torch.tensor(preprocessor["std"]).view(3, 1, 1)
    return ((x - mean) / std)[None]


def image_cams(model: torch.nn.Module, image_bgr: np.ndarray, classes: Sequence[int],
               input_hw: tuple[int, int], preprocessor: dict) -> np.ndarray:
    """``(M, H, W)`` maps in [0, 1] of ``classes`` (VOC ids) at the image's own size.

    Args:
        model: An mmpretrain ``ImageClassifier`` with a GAP neck and a linear multi-label head
            (``head.fc``), in eval mode, on the device the CAMs are computed on.
        image_bgr: ``(H, W, 3)`` uint8 image as OpenCV reads it.
        classes: VOC ids (1..20) present in the image.
        input_hw: The classifier's input size.
        preprocessor: Its data preprocessor's ``mean``, ``std`` and ``to_rgb``.
    """
    import torch
    import torch.nn.functional as F

    from benchmark.cam import class_activation_maps

    height, width = image_bgr.shape[:2]
    if not classes:
        return np.zeros((0, height, width), np.float32)
    x = _input(image_bgr, input_hw, preprocessor).to(next(model.parameters()).device)
    with torch.no_grad():
        features = model.backbone(torch.cat([x, x.flip(-1)]))[-1]
        indices = torch.tensor([c - 1 for c in classes]).repeat(2, 1)
        cams = class_activation_maps(features, model.head.fc.weight, indices, normalize=False)
        cams = (cams[0] + cams[1].flip(-1))[None] / 2
        cams = F.interpolate(cams, size=(height, width), mode="bilinear", align_corners=False)
    return max_normalize(cams[0]).cpu().numpy()


def write_mask(mask: np.ndarray, path: Path) -> None:
    """A VOC-id mask as a palette PNG (indices kept, VOC's colours)."""
    from PIL import Image

    image = Image.fromarray(mask.astype(np.uint8))
    image.putpalette(voc_palette())
    image.save(path)


def make_seeds(model: torch.nn.Module, base: Path, split: Split, out_dir: Path, *,
               input_hw: tuple[int, int], preprocessor: dict,
               bg_threshold: float) -> dict[str, Any]:
    """Stage 2: pseudo masks of every image of ``split`` under ``out_dir``; their seed mIoU.

    Writes ``out_dir/SegmentationClassPseudo/<id>.png``, ``out_dir/train.txt`` and, last,
    ``out_dir/stage.json`` (the summary this returns: ``seed_miou`` in percent, image counts,
    the threshold).
    """
    import cv2

    out_dir = Path(out_dir)
    (out_dir / MASK_DIR).mkdir(parents=True, exist_ok=True)
    model.eval()
    total, ids = 0, []
    for image_id, classes in labelled_images(base, split):
        image = cv2.imread(str(Path(base) / "JPEGImages" / f"{image_id}.jpg"), cv2.IMREAD_COLOR)
        cams = image_cams(model, image, classes, input_hw, preprocessor)
        mask = pseudo_mask(cams, classes, bg_threshold)
        write_mask(mask, out_dir / MASK_DIR / f"{image_id}.png")
        total = total + intersect_and_union(mask, read_mask(Path(base) / split.mask_dir /
                                                            f"{image_id}.png"))
        ids.append(image_id)
    (out_dir / LIST_FILE).write_text("".join(f"{i}\n" for i in ids))
    summary = {"seed_miou": miou(np.asarray(total)), "images": len(ids),
               "bg_threshold": bg_threshold, "crf": False, "cam_scales": [1.0],
               "cam_flip": True}
    (out_dir / DONE_FILE).write_text(json.dumps(summary, indent=1))
    return summary
