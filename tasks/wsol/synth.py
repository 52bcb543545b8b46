"""Generated WSOL data: objects with a small discriminative part and a larger body.

Every object is an ellipse (the *body*, 40-70% of the image side) filled with stripes whose
orientation (and period, for classes 5-9) follow the class in 80% of the images (another
class's stripes otherwise), carrying near its rim a small disc (the *part*, ~1/8 of the side)
of the class's saturated colour — like a bird's red head. The part always tells the class;
the body usually does. A classifier trained normally can rely on the part alone, so its CAM
tends to concentrate around it, and the box around the CAM is then smaller than the object's.
Hiding patches during training (HaS) hides the part in many images, forcing the network to
also use the stripes — the rest of the object — which widens the CAM. The ground-truth box is
the tight box of the body (the part lies inside it). Backgrounds are smooth low-saturation
colour fields plus pixel noise, with no stripes and no saturated colours.

The writers put the same kind of images into each real layout read by
:mod:`tasks.wsol.data` (Tiny ImageNet, CUB-200-2011, wsolevaluation metadata,
ILSVRC), boxes in each format's own convention.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import cv2
import numpy as np

#: Saturated part colours (RGB), one per class (cycled when there are more classes).
PART_COLOURS_RGB = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [0, 0, 128], [128, 128, 0]],
    dtype=np.float32,
)
STRIPE_ANGLES_DEG = (0.0, 36.0, 72.0, 108.0, 144.0)
STRIPE_PERIODS_FRACTION = (0.09, 0.16)  # of the image side
BODY_RGB = np.array([150.0, 130.0, 110.0], dtype=np.float32)
#: Half the grey-level difference between a body's light and dark stripes.
STRIPE_CONTRAST = 40.0
#: Probability that a body shows its own class's stripes (else another class's): the body
#: is informative but less reliable than the part, which always shows the class colour.
BODY_RELIABILITY = 0.8
#: How far background colours stray from grey (so no background looks like a part).
BACKGROUND_TINT = 25.0


@dataclass(frozen=True)
class SynthSpec:
    """Sizes of a generated WSOL dataset.

    Attributes:
        num_classes: Classes (≤ 10: every class gets its own colour and stripe pattern).
        train_per_class: Training images per class.
        test_per_class: Evaluation images per class.
        side_px: Image side in pixels (square images, as Tiny ImageNet's 64).
    """

    num_classes: int = 5
    train_per_class: int = 60
    test_per_class: int = 20
    side_px: int = 64

    def __post_init__(self):
        if not 1 <= self.num_classes <= len(PART_COLOURS_RGB):
            raise ValueError(
                f"generated WSOL data supports 1-{len(PART_COLOURS_RGB)} classes; "
                f"got {self.num_classes}"
            )
        if self.side_px < 24:
            raise ValueError(f"side_px must be at least 24 to draw a part; got {self.side_px}")


def _background(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    grey = rng.uniform(60, 190, size=(4, 4, 1)).astype(np.float32)
    tint = rng.uniform(-1, 1, size=(4, 4, 3)).astype(np.float32) * BACKGROUND_TINT
    coarse = grey + tint
    smooth = cv2.resize(coarse, (hw[1], hw[0]), interpolation=cv2.INTER_CUBIC)
    return smooth + rng.normal(0, 8, size=(*hw, 3)).astype(np.float32)


def draw_object(
    rng: np.random.Generator, label: int, hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One RGB uint8 image of class ``label`` with its body box and part box.

    Returns:
        (image ``(H, W, 3)`` RGB uint8, body box ``(4,)``, part box ``(4,)``), boxes inclusive
        ``(x0, y0, x1, y1)`` pixels.
    """
    height, width = hw
    side = min(hw)
    image = _background(rng, hw)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    semi = rng.uniform(0.2, 0.35, size=2) * side  # semi-axes (along, across)
    tilt = rng.uniform(0, np.pi)
    reach_x = np.hypot(semi[0] * np.cos(tilt), semi[1] * np.sin(tilt))
    reach_y = np.hypot(semi[0] * np.sin(tilt), semi[1] * np.cos(tilt))
    cx = rng.uniform(reach_x, width - 1 - reach_x)
    cy = rng.uniform(reach_y, height - 1 - reach_y)
    u = (xx - cx) * np.cos(tilt) + (yy - cy) * np.sin(tilt)
    v = -(xx - cx) * np.sin(tilt) + (yy - cy) * np.cos(tilt)
    body = (u / semi[0]) ** 2 + (v / semi[1]) ** 2 <= 1.0
    pattern = label if rng.random() < BODY_RELIABILITY else int(rng.integers(10))
    angle = np.deg2rad(STRIPE_ANGLES_DEG[pattern % 5] + rng.normal(0, 4))
    period = STRIPE_PERIODS_FRACTION[(pattern // 5) % 2] * side
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period + rng.uniform(0, 7)
    stripes = np.where(np.sin(phase) > 0, STRIPE_CONTRAST, -STRIPE_CONTRAST)[..., None]
    shade = rng.uniform(0.8, 1.2)
    image[body] = (BODY_RGB * shade + stripes)[body]
    # the part: a disc of the class colour inside the body, near its rim
    radius = max(2.0, side / 16)
    theta = rng.uniform(0, 2 * np.pi)
    rim = 1.0 - (radius + 1.5) / min(semi)
    pu, pv = semi[0] * rim * np.cos(theta), semi[1] * rim * np.sin(theta)
    px = cx + pu * np.cos(tilt) - pv * np.sin(tilt)
    py = cy + pu * np.sin(tilt) + pv * np.cos(tilt)
    part = (xx - px) ** 2 + (yy - py) ** 2 <= radius**2
    colour = PART_COLOURS_RGB[label % len(PART_COLOURS_RGB)]
    image[part] = colour + rng.normal(0, 6, size=(int(part.sum()), 3))
    image = np.clip(image, 0, 255).astype(np.uint8)
    return image, _mask_box(body | part), _mask_box(part)


def _mask_box(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float64)


def _write_rgb(path: Path, image_rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(str(path), image_rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise OSError(f"could not write {path}")


def _fresh(out: Path) -> Path:
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    return out


def _fmt_box(box: np.ndarray) -> list[str]:
    return [str(int(v)) for v in box]


def _samples(spec: SynthSpec, seed: int, split: str):
    """Yield (index, label, image, body box) for one split, deterministically per seed."""
    count = spec.train_per_class if split == "train" else spec.test_per_class
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    index = 0
    for label in range(spec.num_classes):
        for _ in range(count):
            image, box, _ = draw_object(rng, label, (spec.side_px, spec.side_px))
            yield index, label, image, box
            index += 1


def write_tiny_imagenet(out: Path, seed: int = 0, spec: SynthSpec | None = None) -> Path:
    """Tiny ImageNet layout: ``wnids.txt``, ``words.txt``, ``train/``, ``val/``."""
    spec = spec or SynthSpec()
    out = _fresh(out)
    wnids = [f"n9{label:07d}" for label in range(spec.num_classes)]
    (out / "wnids.txt").write_text("".join(f"{w}\n" for w in wnids))
    (out / "words.txt").write_text("".join(f"{w}\tsynthetic class {i}\n"
                                           for i, w in enumerate(wnids)))
    boxes: dict[str, list[str]] = {w: [] for w in wnids}
    for index, label, image, box in _samples(spec, seed, "train"):
        wnid = wnids[label]
        name = f"{wnid}_{index}.JPEG"
        _write_rgb(out / "train" / wnid / "images" / name, image)
        boxes[wnid].append("\t".join([name, *_fmt_box(box)]))
    for wnid, lines in boxes.items():
        (out / "train" / wnid / f"{wnid}_boxes.txt").write_text("\n".join(lines) + "\n")
    annotations = []
    for index, label, image, box in _samples(spec, seed, "val"):
        name = f"val_{index}.JPEG"
        _write_rgb(out / "val" / "images" / name, image)
        annotations.append("\t".join([name, wnids[label], *_fmt_box(box)]))
    (out / "val" / "val_annotations.txt").write_text("\n".join(annotations) + "\n")
    return out


def _varied_hw(spec: SynthSpec, index: int) -> tuple[int, int]:
    """Non-square sizes for the layouts whose real images vary in size."""
    side = spec.side_px
    return (side, side + 16) if index % 2 else (side + 8, side)


def write_cub(out: Path, seed: int = 0, spec: SynthSpec | None = None) -> Path:
    """CUB-200-2011 layout (1-based ids, ``x y width height`` boxes, images of varied size)."""
    spec = spec or SynthSpec()
    out = _fresh(out)
    folders = [f"{k + 1:03d}.Synthetic_{k}" for k in range(spec.num_classes)]
    (out / "classes.txt").write_text("".join(f"{k + 1} {f}\n" for k, f in enumerate(folders)))
    images, labels, split, boxes = [], [], [], []
    image_id = 0
    for is_train, per_class in ((1, spec.train_per_class), (0, spec.test_per_class)):
        for label in range(spec.num_classes):
            for _ in range(per_class):
                image_id += 1
                image, box, _ = draw_object(np.random.default_rng([seed, image_id]), label,
                                            _varied_hw(spec, image_id))
                rel = f"{folders[label]}/Synthetic_{image_id:05d}.jpg"
                _write_rgb(out / "images" / rel, image)
                x0, y0, x1, y1 = box
                images.append(f"{image_id} {rel}")
                labels.append(f"{image_id} {label + 1}")
                split.append(f"{image_id} {is_train}")
                boxes.append(f"{image_id} {x0:.1f} {y0:.1f} {x1 - x0 + 1:.1f} {y1 - y0 + 1:.1f}")
    for name, lines in (("images.txt", images), ("image_class_labels.txt", labels),
                        ("train_test_split.txt", split), ("bounding_boxes.txt", boxes)):
        (out / name).write_text("\n".join(lines) + "\n")
    return out


def write_wsoleval(out: Path, seed: int = 0, spec: SynthSpec | None = None) -> Path:
    """Write the wsolevaluation layout: images and ``metadata/{train,val,test}/*.txt``."""
    spec = spec or SynthSpec()
    out = _fresh(out)
    for split, source in (("train", "train"), ("val", "val"), ("test", "val")):
        meta = out / "metadata" / split
        meta.mkdir(parents=True)
        ids, labels, sizes, locs = [], [], [], []
        split_seed = seed * 10 + {"train": 0, "val": 1, "test": 2}[split]
        for index, label, image, box in _samples(spec, split_seed, source):
            rel = f"{split}/class{label}/{split}_{index:05d}.jpg"
            _write_rgb(out / rel, image)
            ids.append(rel)
            labels.append(f"{rel},{label}")
            sizes.append(f"{rel},{image.shape[1]},{image.shape[0]}")
            locs.append(",".join([rel, *_fmt_box(box)]))
        (meta / "image_ids.txt").write_text("\n".join(ids) + "\n")
        (meta / "class_labels.txt").write_text("\n".join(labels) + "\n")
        (meta / "image_sizes.txt").write_text("\n".join(sizes) + "\n")
        if split != "train":
            (meta / "localization.txt").write_text("\n".join(locs) + "\n")
    return out


def _voc_xml(name: str, wnid: str, hw: tuple[int, int], boxes: list[np.ndarray]) -> str:
    objects = "".join(
        f"<object><name>{escape(wnid)}</name><bndbox><xmin>{int(b[0])}</xmin>"
        f"<ymin>{int(b[1])}</ymin><xmax>{int(b[2])}</xmax><ymax>{int(b[3])}</ymax>"
        f"</bndbox></object>"
        for b in boxes
    )
    return (f"<annotation><filename>{escape(name)}</filename><size><width>{hw[1]}</width>"
            f"<height>{hw[0]}</height><depth>3</depth></size>{objects}</annotation>\n")


def write_ilsvrc(out: Path, seed: int = 0, spec: SynthSpec | None = None) -> Path:
    """ILSVRC layout: ``train/<wnid>/``, ``val/``, ``bbox_val/*.xml``, ``val.txt``.

    Every other val image gets a second box (a copy shifted by 2 pixels) to exercise the
    several-objects case.
    """
    spec = spec or SynthSpec()
    out = _fresh(out)
    wnids = [f"n8{label:07d}" for label in range(spec.num_classes)]
    for index, label, image, _ in _samples(spec, seed, "train"):
        _write_rgb(out / "train" / wnids[label] / f"{wnids[label]}_{index}.JPEG", image)
    (out / "bbox_val").mkdir()
    lines = []
    for index, label, _, _ in _samples(spec, seed, "val"):
        hw = _varied_hw(spec, index)
        image, box, _ = draw_object(np.random.default_rng([seed, 7, index]), label, hw)
        name = f"ILSVRC2012_val_{index + 1:08d}"
        _write_rgb(out / "val" / f"{name}.JPEG", image)
        limit = np.array([hw[1], hw[0], hw[1], hw[0]]) - 1
        boxes = [box] if index % 2 == 0 else [box, np.minimum(box + 2, limit)]
        (out / "bbox_val" / f"{name}.xml").write_text(_voc_xml(name, wnids[label], hw, boxes))
        lines.append(f"{name}.JPEG {label}")
    (out / "val.txt").write_text("\n".join(lines) + "\n")
    return out
