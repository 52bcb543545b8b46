"""PASCAL VOC 2012 (+ SBD aug) for weakly-supervised segmentation, without any framework.

The images and masks are read in mmseg's layout (:mod:`benchmark.voc`). The image-level labels
the classifier trains on are derived from the segmentation masks, as the WSSS literature does
for VOC and SBD: the classes present in an image's mask, background (0) and the ignore value
(255) left out. The training split is ``aug.txt`` (masks ``SegmentationClassAug``) for
``voc12aug`` and ``train.txt`` (masks ``SegmentationClass``) for ``voc12``; the evaluation split
is ``val.txt`` with the released masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.voc import VOC_CLASSES, VOC_IGNORE, VOC_PREPARE, check_voc, voc_root

#: The foreground classes the classifier predicts (VOC ids 1..20 -> classifier indices 0..19).
FOREGROUND = VOC_CLASSES[1:]


@dataclass(frozen=True)
class Split:
    """One list of a VOC tree: its list file and the folder of its masks.

    Attributes:
        list_file: Relative to the ``VOC2012`` folder, e.g. ``ImageSets/Segmentation/aug.txt``.
        mask_dir: Relative to the ``VOC2012`` folder, e.g. ``SegmentationClassAug``.
    """

    list_file: str
    mask_dir: str


#: dataset -> (training split, evaluation split).
SPLITS = {
    "voc12aug": (Split("ImageSets/Segmentation/aug.txt", "SegmentationClassAug"),
                 Split("ImageSets/Segmentation/val.txt", "SegmentationClass")),
    "voc12": (Split("ImageSets/Segmentation/train.txt", "SegmentationClass"),
              Split("ImageSets/Segmentation/val.txt", "SegmentationClass")),
}


def read_mask(path: str | Path) -> np.ndarray:
    """A VOC mask as ``(H, W)`` uint8 class ids (palette PNGs keep their indices; 255 = ignore).

    Raises:
        ValueError: naming the file when it is not a single-channel (index or palette) PNG.
    """
    from PIL import Image

    with Image.open(path) as image:
        if image.mode not in ("P", "L"):
            raise ValueError(f"mask {path} is a {image.mode!r} image; VOC masks are palette "
                             "('P') or grey ('L') PNGs of class ids (mmseg's voc_aug.py "
                             "writes them so)")
        return np.asarray(image, dtype=np.uint8)


def image_labels(mask: np.ndarray) -> tuple[int, ...]:
    """The VOC class ids (1..20) present in a mask, sorted; background and 255 left out."""
    present = np.unique(mask)
    return tuple(int(c) for c in present if 0 < c < len(VOC_CLASSES))


def split_ids(base: Path, split: Split) -> list[str]:
    """The image ids of a split's list file (one per non-empty line)."""
    return (Path(base) / split.list_file).read_text().split()


def labelled_images(base: Path, split: Split) -> list[tuple[str, tuple[int, ...]]]:
    """(image id, VOC class ids present) of every image of a split, from its masks."""
    return [(i, image_labels(read_mask(Path(base) / split.mask_dir / f"{i}.png")))
            for i in split_ids(base, split)]


def check_image_labels(root: Path, dataset: str) -> None:
    """Raise ``ValueError`` unless some training mask holds a foreground class.

    The masks are read in list order and the check stops at the first one with a class, so a
    real VOC tree costs one or two reads.
    """
    base = voc_root(root)
    split = SPLITS[dataset][0]
    for image_id in split_ids(base, split):
        if image_labels(read_mask(base / split.mask_dir / f"{image_id}.png")):
            return
    raise ValueError(
        f"{dataset} under {root}: no image-level labels can be derived: every mask of "
        f"{split.list_file} ({split.mask_dir}/) is background or ignore (ids 0 and 255 only). "
        f"WSSS needs masks whose class ids (1-20) say which classes each image holds; "
        f"point --data-root at the VOC tree with its masks. {VOC_PREPARE}")


def check_wsss_layout(dataset: str):
    """The layout check of ``dataset``: mmseg's VOC layout, then derivable image labels."""
    layout = check_voc(aug=dataset == "voc12aug")

    def check(root: Path) -> None:
        layout(root)
        check_image_labels(root, dataset)

    return check


__all__ = ["FOREGROUND", "SPLITS", "VOC_IGNORE", "Split", "check_wsss_layout", "image_labels",
           "labelled_images", "read_mask", "split_ids"]
