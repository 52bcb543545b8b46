"""WSOL datasets in their original on-disk layouts: layout checks and parsers (no framework).

Each parser returns ``(classes, samples)``: class names in label order and one
:class:`WSOLSample` per image. Boxes are ``(x0, y0, x1, y1)`` float arrays in the original
image's pixel coordinates, inclusive ends (see :mod:`tasks.wsol.boxes`), one row per
object; they are read only for evaluation splits (``with_boxes``) — training never sees them.
The mmpretrain dataset classes in :mod:`tasks.wsol.datasets` wrap these parsers; the
checks run before anything is trained (``Task.check``) and name every missing piece.

Layouts:

* **Tiny ImageNet** (``tiny-imagenet-200.zip``): ``wnids.txt``; ``train/<wnid>/images/*.JPEG``
  + ``train/<wnid>/<wnid>_boxes.txt`` (``file x0 y0 x1 y1``); ``val/images/*.JPEG`` +
  ``val/val_annotations.txt`` (``file wnid x0 y0 x1 y1``). Labels follow ``wnids.txt`` order.
* **CUB-200-2011**: ``images/<class folder>/*.jpg``, ``images.txt`` (``id path``),
  ``image_class_labels.txt`` (``id label``, 1-based), ``train_test_split.txt``
  (``id is_train``), ``bounding_boxes.txt`` (``id x y width height``), ``classes.txt``.
* **wsolevaluation metadata** (Choe et al. 2020): ``<metadata>/<split>/image_ids.txt``
  (image paths relative to the data root), ``class_labels.txt`` (``path,label``),
  ``localization.txt`` (``path,x0,y0,x1,y1``, one line per box), ``image_sizes.txt``
  (``path,width,height``); splits ``train``, ``val``, ``test``; ``<metadata>`` defaults to
  ``<root>/metadata``. ``localization.txt`` is required for evaluation splits only.
* **ILSVRC** (CLS-LOC 2012): ``train/<wnid>/*.JPEG``; ``val/*.JPEG``; ``bbox_val/*.xml`` (the
  PASCAL-VOC-style files of ``ILSVRC2012_bbox_val_v3.tgz``); ``val.txt`` (``file label``, the
  label being the index of the wnid among the sorted train folders — mmpretrain's
  ``meta/val.txt`` convention).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.base import require_paths

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


@dataclass
class WSOLSample:
    """One image of a WSOL dataset.

    Attributes:
        img_path: Absolute image path.
        gt_label: Class index.
        gt_bboxes: ``(M, 4)`` float32 boxes in original pixels, or ``None`` (not read).
    """

    img_path: str
    gt_label: int
    gt_bboxes: np.ndarray | None = None


def _boxes(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(-1, 4)


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _missing_error(dataset: str, root: Path, missing: list[str], hint: str) -> ValueError:
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    return ValueError(f"{dataset} layout under {root} is missing: {shown}. {hint}".strip())


# --------------------------------------------------------------------------- Tiny ImageNet
TINY_HINT = ("Expected the original Tiny ImageNet layout (unzip tiny-imagenet-200.zip) or "
             "generate one with `hasbench synth tiny-imagenet --out DIR`.")


def check_tiny_imagenet(root: Path) -> None:
    """Raise ``ValueError`` naming what the Tiny ImageNet layout under ``root`` lacks."""
    root = Path(root)
    require_paths(root, ["wnids.txt", "train", "val/images", "val/val_annotations.txt"],
                  "tiny-imagenet", TINY_HINT)
    wnids = _lines(root / "wnids.txt")
    if not wnids:
        raise ValueError(f"tiny-imagenet: {root / 'wnids.txt'} lists no classes. {TINY_HINT}")
    missing = [p for w in wnids for p in (f"train/{w}/images", f"train/{w}/{w}_boxes.txt")
               if not (root / p).exists()]
    if missing:
        raise _missing_error("tiny-imagenet", root, missing, TINY_HINT)
    unknown = sorted({line.split()[1] for line in _lines(root / "val/val_annotations.txt")}
                     - set(wnids))
    if unknown:
        raise ValueError(
            f"tiny-imagenet: val/val_annotations.txt names wnids missing from wnids.txt: "
            f"{unknown[:5]}; use the same wnids.txt as the annotations"
        )


def parse_tiny_imagenet(
    root: Path, split: str, with_boxes: bool
) -> tuple[list[str], list[WSOLSample]]:
    """Read Tiny ImageNet's ``train`` or ``val`` split (see module docstring)."""
    root = Path(root)
    wnids = _lines(root / "wnids.txt")
    index = {w: i for i, w in enumerate(wnids)}
    samples: list[WSOLSample] = []
    if split == "train":
        for wnid in wnids:
            boxes = {}
            if with_boxes:
                for line in _lines(root / "train" / wnid / f"{wnid}_boxes.txt"):
                    name, *coords = line.split()
                    boxes[name] = _boxes([[float(v) for v in coords]])
            for path in _list_images(root / "train" / wnid / "images"):
                samples.append(WSOLSample(str(path), index[wnid], boxes.get(path.name)))
    elif split == "val":
        grouped: dict[str, list] = defaultdict(list)
        labels: dict[str, int] = {}
        for line in _lines(root / "val" / "val_annotations.txt"):
            name, wnid, *coords = line.split()
            labels[name] = index[wnid]
            grouped[name].append([float(v) for v in coords])
        for name in sorted(labels):
            boxes = _boxes(grouped[name]) if with_boxes else None
            samples.append(WSOLSample(str(root / "val" / "images" / name), labels[name], boxes))
    else:
        raise ValueError(f"tiny-imagenet has splits 'train' and 'val'; got {split!r}")
    return wnids, samples


# --------------------------------------------------------------------------- CUB-200-2011
CUB_FILES = ["images", "images.txt", "image_class_labels.txt", "train_test_split.txt",
             "bounding_boxes.txt", "classes.txt"]
CUB_HINT = ("Expected the original CUB_200_2011 folder (CUB_200_2011.tgz) or generate one "
            "with `hasbench synth cub --out DIR`.")


def check_cub(root: Path) -> None:
    """Raise ``ValueError`` naming what the CUB-200-2011 layout under ``root`` lacks."""
    require_paths(Path(root), CUB_FILES, "cub", CUB_HINT)


def _id_table(path: Path) -> dict[str, list[str]]:
    return {parts[0]: parts[1:] for parts in (line.split() for line in _lines(path))}


def parse_cub(root: Path, split: str, with_boxes: bool) -> tuple[list[str], list[WSOLSample]]:
    """Read CUB-200-2011's ``train`` or ``test`` split; boxes ``x y w h`` become inclusive."""
    if split not in ("train", "test"):
        raise ValueError(f"cub has splits 'train' and 'test'; got {split!r}")
    root = Path(root)
    classes = [parts[0] for parts in _id_table(root / "classes.txt").values()]
    paths = _id_table(root / "images.txt")
    labels = _id_table(root / "image_class_labels.txt")
    is_train = _id_table(root / "train_test_split.txt")
    boxes = _id_table(root / "bounding_boxes.txt") if with_boxes else {}
    wanted = "1" if split == "train" else "0"
    samples = []
    for image_id, (rel,) in paths.items():
        if is_train[image_id][0] != wanted:
            continue
        box = None
        if with_boxes:
            x, y, w, h = (float(v) for v in boxes[image_id])
            box = _boxes([[x, y, x + w - 1, y + h - 1]])
        samples.append(WSOLSample(str(root / "images" / rel), int(labels[image_id][0]) - 1, box))
    return classes, samples


# --------------------------------------------------------------------------- wsolevaluation
WSOLEVAL_SPLITS = ("train", "val", "test")
WSOLEVAL_HINT = ("Expected wsolevaluation metadata (github.com/clovaai/wsolevaluation, "
                 "metadata/<DATASET>/<split>/) under <root>/metadata/<split>/, or generate "
                 "one with `hasbench synth wsoleval --out DIR`.")


def _metadata_dir(root: Path, metadata: str | Path | None) -> Path:
    folder = Path(metadata) if metadata is not None else Path("metadata")
    return folder if folder.is_absolute() else Path(root) / folder


def check_wsoleval(root: Path, metadata: str | Path | None = None,
                   eval_split: str = "test") -> None:
    """Raise ``ValueError`` naming the wsolevaluation metadata files ``root`` lacks."""
    meta = _metadata_dir(root, metadata)
    needed = [f"train/{f}" for f in ("image_ids.txt", "class_labels.txt")]
    needed += [f"{eval_split}/{f}" for f in ("image_ids.txt", "class_labels.txt",
                                               "localization.txt", "image_sizes.txt")]
    missing = [str(meta / p) for p in needed if not (meta / p).exists()]
    if missing:
        raise _missing_error("wsoleval", Path(root), missing, WSOLEVAL_HINT)


def _csv_rows(path: Path) -> list[list[str]]:
    return [[v.strip() for v in line.split(",")] for line in _lines(path)]


def parse_wsoleval(
    root: Path, split: str, with_boxes: bool, metadata: str | Path | None = None
) -> tuple[list[str], list[WSOLSample]]:
    """Read one wsolevaluation split; class names are ``class<k>`` (the format has none)."""
    if split not in WSOLEVAL_SPLITS:
        raise ValueError(f"wsoleval has splits {WSOLEVAL_SPLITS}; got {split!r}")
    root = Path(root)
    meta = _metadata_dir(root, metadata) / split
    labels = {path: int(label) for path, label in _csv_rows(meta / "class_labels.txt")}
    grouped: dict[str, list] = defaultdict(list)
    if with_boxes:
        for path, *coords in _csv_rows(meta / "localization.txt"):
            grouped[path].append([float(v) for v in coords])
    samples = []
    for image_id in _lines(meta / "image_ids.txt"):
        if image_id not in labels:
            raise ValueError(f"wsoleval: {image_id} of {meta}/image_ids.txt has no class label "
                             f"in class_labels.txt")
        if with_boxes and not grouped.get(image_id):
            raise ValueError(f"wsoleval: {image_id} has no box in {meta}/localization.txt")
        boxes = _boxes(grouped[image_id]) if with_boxes else None
        samples.append(WSOLSample(str(root / image_id), labels[image_id], boxes))
    num_classes = max(labels.values()) + 1 if labels else 0
    return [f"class{k}" for k in range(num_classes)], samples


# --------------------------------------------------------------------------- ILSVRC
ILSVRC_HINT = ("Expected ILSVRC2012 CLS-LOC: train/<wnid>/*.JPEG, val/*.JPEG, bbox_val/*.xml "
               "(ILSVRC2012_bbox_val_v3.tgz) and val.txt ('<file> <label>'); "
               "or generate one with `hasbench synth ilsvrc --out DIR`.")


def check_ilsvrc(root: Path) -> None:
    """Raise ``ValueError`` naming what the ILSVRC layout under ``root`` lacks."""
    root = Path(root)
    require_paths(root, ["train", "val", "bbox_val", "val.txt"], "ilsvrc", ILSVRC_HINT)
    if not any(p.is_dir() for p in (root / "train").iterdir()):
        raise ValueError(f"ilsvrc: {root / 'train'} has no <wnid> class folders. {ILSVRC_HINT}")
    names = [line.split()[0] for line in _lines(root / "val.txt")]
    missing = [f"val/{n}" for n in names if not (root / "val" / n).exists()]
    missing += [f"bbox_val/{Path(n).stem}.xml" for n in names
                if not (root / "bbox_val" / f"{Path(n).stem}.xml").exists()]
    if missing:
        raise _missing_error("ilsvrc", root, missing, ILSVRC_HINT)


def read_voc_boxes(path: Path) -> np.ndarray:
    """All object boxes of a PASCAL-VOC-style XML file, ``(M, 4)`` float32."""
    tree = ET.parse(path)
    rows = []
    for obj in tree.getroot().iter("object"):
        box = obj.find("bndbox")
        if box is None:
            continue
        rows.append([float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
    if not rows:
        raise ValueError(f"{path} has no <object><bndbox> entry; every val image needs a box")
    return _boxes(rows)


def parse_ilsvrc(root: Path, split: str, with_boxes: bool) -> tuple[list[str], list[WSOLSample]]:
    """Read ILSVRC's ``train`` (class folders) or ``val`` (val.txt + XML boxes) split."""
    root = Path(root)
    wnids = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    samples = []
    if split == "train":
        for label, wnid in enumerate(wnids):
            samples += [WSOLSample(str(p), label) for p in _list_images(root / "train" / wnid)]
    elif split == "val":
        for line in _lines(root / "val.txt"):
            name, label = line.split()[:2]
            boxes = read_voc_boxes(root / "bbox_val" / f"{Path(name).stem}.xml") if with_boxes \
                else None
            samples.append(WSOLSample(str(root / "val" / name), int(label), boxes))
    else:
        raise ValueError(f"ilsvrc has splits 'train' and 'val'; got {split!r}")
    return wnids, samples
