"""Generated classification data where an object's class is decided by more than one part.

Each class has two independent, redundant cues placed at random positions on a noisy
background: a *colour* part (a small square of the class's colour — the easy cue) and a
*texture* part (a larger patch of stripes with the class's orientation and period — the
harder cue). Training images always show both parts, so a network can get away with
learning only the colour. Test images show both parts (1/3), only the colour (1/3) or only
the texture (1/3): accuracy then rewards a model that learned *every* part of the object,
which is what hiding patches during training is meant to teach (Singh & Lee, 2017).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

SIDE_PX = 32
COLOUR_PART_PX = 7
TEXTURE_PART_PX = 12
NUM_CLASSES = 10
CLASS_NAMES = [f"class{c}" for c in range(NUM_CLASSES)]
# Well-separated hues (RGB) for the colour part.
_PALETTE = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [250, 190, 190], [0, 128, 128]],
    dtype=np.float32,
)
_ORIENTATIONS_RAD = np.deg2rad([0, 36, 72, 108, 144])
_PERIODS_PX = (3.0, 5.0)


def _texture(cls: int, size: int) -> np.ndarray:
    """A grey stripe pattern in [0, 1] whose orientation and period encode ``cls``."""
    angle = _ORIENTATIONS_RAD[cls % 5]
    period = _PERIODS_PX[cls // 5]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period
    return (np.sin(phase) > 0).astype(np.float32)


def _place(rng: np.random.Generator, size: int, avoid: tuple[int, int, int] | None) -> tuple:
    """Top-left corner for a part of ``size`` pixels, not overlapping ``avoid`` (y, x, size)."""
    for _ in range(100):
        y, x = rng.integers(0, SIDE_PX - size + 1, size=2)
        if avoid is None:
            return int(y), int(x)
        ay, ax, asz = avoid
        if y + size <= ay or ay + asz <= y or x + size <= ax or ax + asz <= x:
            return int(y), int(x)
    return int(y), int(x)


def render(cls: int, rng: np.random.Generator, show_colour: bool = True,
           show_texture: bool = True) -> np.ndarray:
    """One 32x32x3 uint8 RGB image of class ``cls`` with the chosen parts visible."""
    background = rng.uniform(70, 150, size=3).astype(np.float32)
    img = background + rng.normal(0, 18, size=(SIDE_PX, SIDE_PX, 3)).astype(np.float32)
    ty, tx = _place(rng, TEXTURE_PART_PX, None)
    if show_texture:
        stripes = _texture(cls, TEXTURE_PART_PX)[..., None]
        img[ty:ty + TEXTURE_PART_PX, tx:tx + TEXTURE_PART_PX] = 40 + 170 * stripes
    cy, cx = _place(rng, COLOUR_PART_PX, (ty, tx, TEXTURE_PART_PX))
    if show_colour:
        colour = _PALETTE[cls] + rng.normal(0, 10, size=3)
        img[cy:cy + COLOUR_PART_PX, cx:cx + COLOUR_PART_PX] = colour
    return np.clip(img, 0, 255).astype(np.uint8)


def generate(num_per_class: int, seed: int, test: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) int, deterministic by ``seed``."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(NUM_CLASSES), num_per_class)
    rng.shuffle(labels)
    images = []
    for i, cls in enumerate(labels):
        variant = i % 3 if test else 0  # test: both / colour only / texture only
        images.append(render(int(cls), rng, show_colour=variant != 2, show_texture=variant != 1))
    return np.stack(images), labels


def write_cifar10_layout(out_dir: Path, seed: int = 0, train_per_class: int = 200,
                         test_per_class: int = 60) -> None:
    """Write generated parts data in the ``cifar-10-batches-py`` layout mmpretrain reads.

    Five ``data_batch_*`` files, ``test_batch`` and ``batches.meta``, each a pickled dict
    with ``data`` (N x 3072 uint8, channel-major rows as in the release) and ``labels``.
    """
    folder = Path(out_dir) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = generate(train_per_class, seed, test=False)
    test_x, test_y = generate(test_per_class, seed + 1, test=True)
    for i, (xs, ys) in enumerate(zip(np.array_split(train_x, 5), np.array_split(train_y, 5),
                                     strict=True)):
        _dump(folder / f"data_batch_{i + 1}", xs, ys, f"training batch {i + 1} of 5")
    _dump(folder / "test_batch", test_x, test_y, "testing batch 1 of 1")
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CLASS_NAMES, "num_vis": SIDE_PX * SIDE_PX * 3}, f)


def _dump(path: Path, images: np.ndarray, labels: np.ndarray, batch_label: str) -> None:
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    entry = {
        "batch_label": batch_label,
        "labels": [int(v) for v in labels],
        "data": np.ascontiguousarray(rows, dtype=np.uint8),
        "filenames": [f"synth_{i:05d}.png" for i in range(len(images))],
    }
    with open(path, "wb") as f:
        pickle.dump(entry, f)


def write_image_folder_layout(out_dir: Path, seed: int = 0, train_per_class: int = 100,
                              test_per_class: int = 30, splits: tuple[str, str] = ("train", "test"),
                              ext: str = ".png") -> None:
    """Write generated parts data as ``<split>/<class>/<n>.<ext>`` image folders."""
    import cv2

    for split, per_class, offset in ((splits[0], train_per_class, 0),
                                     (splits[1], test_per_class, 1)):
        images, labels = generate(per_class, seed + offset, test=split == splits[1])
        counters = dict.fromkeys(range(NUM_CLASSES), 0)
        for img, cls in zip(images, labels, strict=True):
            folder = Path(out_dir) / split / CLASS_NAMES[cls]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{counters[cls]:04d}{ext}"), img[..., ::-1])
            counters[cls] += 1
