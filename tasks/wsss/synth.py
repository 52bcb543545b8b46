"""Generated multi-object scenes in mmseg's PASCAL VOC 2012 (+ SBD aug) layout, for WSSS.

Each scene holds one to four objects of five VOC classes on a textured background (stripes,
checks or blotches in random colours). A class has its own shape and its own surface pattern,
and each object has a distinctive part (a coloured cap on one side): a classifier can name the
class from the part alone, so its CAM tends to cover the part, while the mask covers the
whole object -- the gap HaS is meant to close. Objects are drawn in turn, so later ones occlude
earlier ones (an object hidden entirely drops out of the mask, and so out of the image labels);
object borders carry the ignore value 255 as VOC's masks do. Deterministic by seed; numpy,
OpenCV and Pillow only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.voc import VOC_IGNORE, write_voc_scenes

#: VOC ids of the generated classes: aeroplane, bottle, car, cat, person.
SYNTH_CLASSES = (1, 5, 7, 8, 15)
#: class id -> base colour (RGB) of its body.
_BODY_RGB = {1: (200, 200, 215), 5: (60, 150, 90), 7: (200, 50, 40), 8: (150, 110, 60),
             15: (70, 80, 190)}
#: class id -> colour (RGB) of its distinctive part.
_PART_RGB = {1: (250, 240, 30), 5: (250, 250, 250), 7: (20, 20, 20), 8: (250, 120, 200),
             15: (240, 190, 150)}


def _shape(cls: int, h: int, w: int, cy: float, cx: float, size: float) -> np.ndarray:
    """The boolean silhouette of a class's object centred at (cy, cx), ``size`` px across."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dy, dx = (yy - cy) / size, (xx - cx) / size
    if cls == 1:  # aeroplane: a fuselage and a wing
        return ((np.abs(dy) < 0.12) & (np.abs(dx) < 0.5)) | (
            (np.abs(dx) < 0.12 + 0.35 * (0.5 - np.abs(dy))) & (np.abs(dy) < 0.5))
    if cls == 5:  # bottle: a tall body and a neck
        return ((np.abs(dx) < 0.18) & (np.abs(dy) < 0.5)) | (
            (np.abs(dx) < 0.07) & (dy > -0.7) & (dy < -0.45))
    if cls == 7:  # car: a wide box with a cabin
        return ((np.abs(dx) < 0.5) & (dy > -0.05) & (dy < 0.25)) | (
            (np.abs(dx) < 0.28) & (dy > -0.3) & (dy <= -0.05))
    if cls == 8:  # cat: a round body with two ears
        ears = (dy < -0.3) & (dy > -0.55) & (np.abs(np.abs(dx) - 0.22) < 0.1 + 0.3 * (dy + 0.3))
        return (dx ** 2 + (dy * 1.3) ** 2 < 0.18) | ears
    return ((dx * 2.6) ** 2 + dy ** 2 < 0.16) | (dx ** 2 + (dy + 0.55) ** 2 < 0.025)  # person


def _part(cls: int, shape: np.ndarray, cy: float, cx: float, size: float) -> np.ndarray:
    """The part of the silhouette carrying the class's distinctive colour."""
    h, w = shape.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if cls in (1, 7):  # nose / wheels side
        return shape & (xx > cx + 0.3 * size) if cls == 1 else shape & (yy > cy + 0.15 * size)
    return shape & (yy < cy - 0.3 * size)  # bottle cap, cat ears, person head


def _texture(rng: np.random.Generator, h: int, w: int, colour, kind: int) -> np.ndarray:
    """An ``(H, W, 3)`` float texture: stripes (0), checks (1) or blotches (2) of a colour."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(4, 9)
    if kind == 0:
        angle = rng.uniform(0, np.pi)
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    elif kind == 1:
        wave = np.sign(np.sin(xx * np.pi / period) * np.sin(yy * np.pi / period))
    else:
        import cv2

        wave = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), period / 2)
        wave /= np.abs(wave).max() + 1e-6
    base = np.asarray(colour, np.float32)
    return base + 35 * wave[..., None] + rng.normal(0, 8, (h, w, 3)).astype(np.float32)


def render_scene(rng: np.random.Generator, height_px: int = 96,
                 width_px: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """One scene: (``(H, W, 3)`` uint8 RGB image, ``(H, W)`` uint8 VOC mask, 255 on borders)."""
    import cv2

    h, w = height_px, width_px
    img = _texture(rng, h, w, rng.uniform(60, 190, 3), int(rng.integers(3)))
    mask = np.zeros((h, w), np.uint8)
    count = int(rng.integers(1, 5))
    classes = rng.choice(SYNTH_CLASSES, size=count, replace=count > len(SYNTH_CLASSES))
    for cls in classes:
        size = rng.uniform(0.35, 0.6) * min(h, w)
        cy, cx = rng.uniform(0.25 * h, 0.75 * h), rng.uniform(0.25 * w, 0.75 * w)
        shape = _shape(int(cls), h, w, cy, cx, size)
        body = _texture(rng, h, w, np.asarray(_BODY_RGB[int(cls)]) + rng.normal(0, 15, 3),
                        {1: 0, 5: 1, 7: 0, 8: 2, 15: 1}[int(cls)])
        part = _part(int(cls), shape, cy, cx, size)
        body[part] = np.asarray(_PART_RGB[int(cls)], np.float32) + rng.normal(0, 6, (
            int(part.sum()), 3)).astype(np.float32)
        img[shape] = body[shape]
        mask[shape] = cls
    objects = (mask > 0).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    border = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, kernel) > 0
    mask[border & (cv2.dilate(objects, kernel) > 0)] = VOC_IGNORE
    img *= rng.uniform(0.8, 1.15)  # global lighting
    return np.clip(img, 0, 255).astype(np.uint8), mask


def write_wsss_voc_layout(out_dir: Path, seed: int = 0,
                          counts: tuple[int, int, int] = (48, 16, 16),
                          height_px: int = 96, width_px: int = 96) -> None:
    """Write generated scenes in mmseg's VOC 2012 + SBD-aug layout.

    Under ``out_dir/VOCdevkit/VOC2012``: ``JPEGImages/*.jpg``, ``SegmentationClass/*.png``
    (palette PNGs, as VOC releases them), ``SegmentationClassAug/*.png`` (grey PNGs, as mmseg's
    ``voc_aug.py`` writes them) and ``ImageSets/Segmentation/{train,val,aug}.txt``.

    Args:
        out_dir: Dataset root.
        seed: Generator seed.
        counts: (train, val, aug-only) image counts; ``aug.txt`` lists train + aug-only.
        height_px: Image height.
        width_px: Image width.
    """
    rng = np.random.default_rng([seed, 23])
    splits = [split for split, count in zip(("train", "val", "extra"), counts, strict=True)
              for _ in range(count)]
    write_voc_scenes(out_dir, ((split, *render_scene(rng, height_px, width_px))
                               for split in splits), seed)
