"""Generated street scenes with per-pixel labels, in the CamVid (SegNet) and PASCAL VOC layouts.

Each scene is a small road view: a sky band over buildings with window textures, trees,
a road trapezoid with lane marks, sidewalks, poles with signs, a fence, and a few cars,
pedestrians and cyclists, plus some unlabelled clutter (void). Every region is textured
and noisy, so a segmentation network has to use local appearance and context, not one
colour per class. Generation is deterministic by seed and needs numpy and OpenCV only.

CamVid class ids follow the SegNet release: 0 sky, 1 building, 2 pole, 3 road,
4 sidewalk, 5 tree, 6 sign, 7 fence, 8 car, 9 pedestrian, 10 bicyclist, 11 void.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.voc import write_voc_scenes
from tasks.segmentation.data import CAMVID_VOID

SKY, BUILDING, POLE, ROAD, SIDEWALK, TREE, SIGN, FENCE, CAR, PEDESTRIAN, BICYCLIST = range(11)
#: VOC ids used by the generated VOC scenes (background, bicycle, bus, car, person, pottedplant).
VOC_FROM_CAMVID = {CAR: 7, PEDESTRIAN: 15, BICYCLIST: 2, TREE: 16}
VOC_IGNORE = 255


def _noisy(rng: np.random.Generator, shape: tuple[int, int], colour, std: float) -> np.ndarray:
    """An HxWx3 float patch of ``colour`` (RGB) with Gaussian noise."""
    return np.asarray(colour, np.float32) + rng.normal(0, std, (*shape, 3)).astype(np.float32)


def _paint(img, label, mask, pixels, cls) -> None:
    img[mask] = pixels[mask]
    label[mask] = cls


def _box(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
    return mask


def _ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx) / max(rx, 0.5)) ** 2 <= 1.0


def _sky_buildings_trees(rng, img, label, horizon: int) -> None:
    h, w = label.shape
    rows = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = np.asarray([120, 160, 220], np.float32) * (0.8 + 0.3 * rows)
    _paint(img, label, _box(h, w, 0, horizon, 0, w),
           sky + rng.normal(0, 5, (h, w, 3)).astype(np.float32), SKY)
    x = int(rng.integers(-w // 10, w // 10))
    while x < w:
        width = int(rng.integers(w // 8, w // 3))
        top = int(rng.integers(int(0.08 * h), max(int(0.08 * h) + 1, horizon - h // 10)))
        colour = rng.uniform(70, 170, 3) * np.array([1.0, 0.9, 0.8])
        pixels = _noisy(rng, (h, w), colour, 10)
        period = int(rng.integers(4, 7))
        yy, xx = np.mgrid[0:h, 0:w]
        windows = ((yy - top) % period < period // 2) & ((xx - x) % period < period // 2)
        pixels[windows] *= 0.55
        _paint(img, label, _box(h, w, top, horizon + h // 20, x, x + width), pixels, BUILDING)
        x += width + int(rng.integers(0, w // 12))
    for _ in range(int(rng.integers(1, 4))):
        cy = rng.uniform(0.25 * h, horizon)
        cx = rng.uniform(0, w)
        ry, rx = rng.uniform(0.08 * h, 0.18 * h), rng.uniform(0.06 * w, 0.14 * w)
        leaves = _noisy(rng, (h, w), rng.uniform([30, 90, 20], [80, 150, 60]), 25)
        _paint(img, label, _ellipse(h, w, cy, cx, ry, rx), leaves, TREE)
        trunk = _box(h, w, int(cy + ry * 0.8), horizon + h // 20, int(cx) - 1, int(cx) + 1)
        _paint(img, label, trunk, _noisy(rng, (h, w), [90, 60, 30], 8), TREE)


def _ground(rng, img, label, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Sidewalk and road below the horizon; returns (road mask, sidewalk mask)."""
    h, w = label.shape
    ground_top = horizon + h // 20
    yy, xx = np.mgrid[0:h, 0:w]
    vanish_x = rng.uniform(0.35 * w, 0.65 * w)
    depth = np.clip((yy - ground_top) / max(1, h - ground_top), 0, 1)
    half_width = 0.08 * w + depth * rng.uniform(0.45 * w, 0.7 * w)
    road = (yy >= ground_top) & (np.abs(xx - vanish_x) <= half_width)
    sidewalk = (yy >= ground_top) & ~road
    _paint(img, label, sidewalk, _noisy(rng, (h, w), rng.uniform(140, 190, 3), 12), SIDEWALK)
    asphalt = _noisy(rng, (h, w), rng.uniform(55, 85) * np.ones(3), 9)
    lane = (np.abs(xx - vanish_x) <= 0.5 + depth * 1.5) & ((yy // 4) % 2 == 0)
    asphalt[lane] = 230
    _paint(img, label, road, asphalt, ROAD)
    return road, sidewalk


def _street_furniture(rng, img, label, horizon: int, sidewalk: np.ndarray) -> None:
    h, w = label.shape
    if rng.random() < 0.6:
        top = horizon - h // 30
        bottom = min(h, top + max(3, h // 12))
        x0, x1 = sorted(rng.integers(0, w, 2))
        slats = _noisy(rng, (h, w), [110, 100, 80], 6)
        slats[:, ::3] *= 0.5
        _paint(img, label, _box(h, w, top, bottom, int(x0), int(x1) + 4), slats, FENCE)
    for _ in range(int(rng.integers(1, 4))):
        ys, xs = np.nonzero(sidewalk)
        if len(ys) == 0:
            break
        i = int(rng.integers(len(ys)))
        foot, x = int(ys[i]), int(xs[i])
        top = max(2, int(foot - rng.uniform(0.3, 0.5) * h))
        _paint(img, label, _box(h, w, top, foot, x, x + 2),
               _noisy(rng, (h, w), [150, 150, 140], 5), POLE)
        if rng.random() < 0.6:
            sign = _box(h, w, top - 2, top + max(3, h // 18), x - 3, x + 5)
            _paint(img, label, sign, _noisy(rng, (h, w), rng.choice([[200, 30, 30],
                                                                     [30, 60, 200]]), 10), SIGN)


def _agents(rng, img, label, road: np.ndarray, sidewalk: np.ndarray) -> None:
    h, w = label.shape
    for _ in range(int(rng.integers(0, 4))):
        ys, xs = np.nonzero(road & (np.mgrid[0:h, 0:w][0] > 0.6 * h))
        if len(ys) == 0:
            break
        i = int(rng.integers(len(ys)))
        bottom, cx = int(ys[i]), int(xs[i])
        scale = bottom / h
        cw, ch = int(0.22 * w * scale), int(0.13 * h * scale)
        body = _noisy(rng, (h, w), rng.uniform(20, 230, 3), 8)
        box = _box(h, w, bottom - ch, bottom, cx - cw // 2, cx + cw // 2)
        window = _box(h, w, bottom - ch, bottom - ch // 2, cx - cw // 3, cx + cw // 3)
        body[window] = body[window] * 0.3 + 40
        _paint(img, label, box, body, CAR)
        for wx in (cx - cw // 3, cx + cw // 3):
            wheel = _ellipse(h, w, bottom - 1, wx, max(1.5, ch / 5), max(1.5, ch / 5))
            _paint(img, label, wheel, _noisy(rng, (h, w), [20, 20, 20], 4), CAR)
    for cls, region, count in ((PEDESTRIAN, sidewalk, int(rng.integers(0, 3))),
                               (BICYCLIST, road, int(rng.random() < 0.4))):
        for _ in range(count):
            ys, xs = np.nonzero(region)
            if len(ys) == 0:
                break
            i = int(rng.integers(len(ys)))
            foot, cx = int(ys[i]), int(xs[i])
            tall = max(6.0, 0.25 * h * foot / h)
            person = _ellipse(h, w, foot - tall / 2, cx, tall / 2, max(1.5, tall / 6))
            clothes = _noisy(rng, (h, w), rng.uniform(20, 200, 3), 10)
            _paint(img, label, person, clothes, cls)
            if cls == BICYCLIST:
                for dx in (-tall / 3, tall / 3):
                    ring = _ellipse(h, w, foot - tall / 6, cx + dx, tall / 6, tall / 6)
                    ring &= ~_ellipse(h, w, foot - tall / 6, cx + dx, tall / 10, tall / 10)
                    _paint(img, label, ring, _noisy(rng, (h, w), [30, 30, 30], 4), cls)


def render_scene(rng: np.random.Generator, height_px: int = 90,
                 width_px: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """One street scene: (HxWx3 uint8 RGB image, HxW uint8 CamVid label with 11 = void)."""
    img = np.zeros((height_px, width_px, 3), np.float32)
    label = np.full((height_px, width_px), CAMVID_VOID, np.uint8)
    horizon = int(rng.uniform(0.35, 0.5) * height_px)
    _sky_buildings_trees(rng, img, label, horizon)
    road, sidewalk = _ground(rng, img, label, horizon)
    _street_furniture(rng, img, label, horizon, sidewalk)
    _agents(rng, img, label, road, sidewalk)
    for _ in range(int(rng.integers(0, 3))):  # unlabelled clutter (void)
        y, x = int(rng.integers(0, height_px)), int(rng.integers(0, width_px))
        size = int(rng.integers(2, max(3, height_px // 10)))
        clutter = _box(height_px, width_px, y, y + size, x, x + size)
        _paint(img, label, clutter, _noisy(rng, img.shape[:2], rng.uniform(0, 255, 3), 30),
               CAMVID_VOID)
    img *= rng.uniform(0.75, 1.2)  # global lighting
    return np.clip(img, 0, 255).astype(np.uint8), label


def write_camvid_layout(out_dir: Path, seed: int = 0,
                        counts: tuple[int, int, int] = (40, 12, 12),
                        height_px: int = 90, width_px: int = 120) -> None:
    """Write generated scenes in the SegNet CamVid layout.

    ``{train,val,test}/NNNN.png`` (RGB), ``{train,val,test}annot/NNNN.png`` (uint8 class
    ids 0-10, 11 = void) and list files ``train.txt``/``val.txt``/``test.txt`` with lines
    ``train/NNNN.png trainannot/NNNN.png`` (paths relative to ``out_dir``).
    """
    import cv2

    out_dir = Path(out_dir)
    for offset, (split, count) in enumerate(zip(("train", "val", "test"), counts, strict=True)):
        if count == 0:  # e.g. no test split: val is then used for testing
            continue
        rng = np.random.default_rng([seed, offset])
        (out_dir / split).mkdir(parents=True, exist_ok=True)
        (out_dir / f"{split}annot").mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(count):
            img, label = render_scene(rng, height_px, width_px)
            name = f"synth{seed:02d}_{i:04d}.png"
            cv2.imwrite(str(out_dir / split / name), img[..., ::-1])
            cv2.imwrite(str(out_dir / f"{split}annot" / name), label)
            lines.append(f"{split}/{name} {split}annot/{name}\n")
        (out_dir / f"{split}.txt").write_text("".join(lines))


def camvid_to_voc(label: np.ndarray) -> np.ndarray:
    """Map a CamVid label to VOC ids: agents/plants keep a class, the rest is background."""
    voc = np.zeros_like(label)
    for camvid_id, voc_id in VOC_FROM_CAMVID.items():
        voc[label == camvid_id] = voc_id
    voc[label == CAMVID_VOID] = VOC_IGNORE
    return voc


def write_voc_layout(out_dir: Path, seed: int = 0, counts: tuple[int, int, int] = (16, 8, 8),
                     height_px: int = 96, width_px: int = 128) -> None:
    """Write generated scenes in mmseg's PASCAL VOC 2012 + SBD-aug layout.

    Under ``out_dir/VOCdevkit/VOC2012``: ``JPEGImages/*.jpg``, ``SegmentationClass/*.png``
    (palette PNGs, as released), ``SegmentationClassAug/*.png`` (grey PNGs, as mmseg's
    ``voc_aug.py`` writes them) and ``ImageSets/Segmentation/{train,val,aug}.txt``.
    ``counts`` = (train, val, extra aug-only images); ``aug.txt`` lists train + extra.
    """
    rng = np.random.default_rng([seed, 7])
    splits = [split for split, count in zip(("train", "val", "extra"), counts, strict=True)
              for _ in range(count)]

    def scene(split: str) -> tuple:
        img, label = render_scene(rng, height_px, width_px)
        return split, img, camvid_to_voc(label)

    write_voc_scenes(out_dir, (scene(split) for split in splits), seed)
