"""WSSS's figure: training images, their ground truth and each run's pseudo masks side by side.

Read from the runs' work dirs alone (``seeds/SegmentationClassPseudo/*.png``, written by stage
2) and the data root of their spec; no model is rebuilt. Each pseudo mask is titled with its
own mIoU against the ground truth (percent, the classes of either side).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.engine.spec import RunSpec
from benchmark.voc import voc_palette, voc_root
from tasks.wsss import seeds as seeding
from tasks.wsss.data import SPLITS, read_mask


def _coloured(mask: np.ndarray) -> np.ndarray:
    """A VOC-id mask in VOC's colours, ``(H, W, 3)`` uint8."""
    return np.asarray(voc_palette(), np.uint8).reshape(256, 3)[mask]


def _seed_ids(run_dir: Path) -> list[str]:
    listed = Path(run_dir) / "seeds" / seeding.LIST_FILE
    if not listed.is_file():
        raise ValueError(f"{run_dir} has no pseudo masks ({listed}); run its seeds stage first")
    return listed.read_text().split()


def explain(run_dirs: list[Path], out: Path, n: int = 8) -> Path:
    """A PNG grid: per training image, the image, its ground truth and each run's pseudo mask.

    Args:
        run_dirs: Work dirs of WSSS runs on the same data (e.g. baseline and HaS).
        out: PNG to write.
        n: Training images to show (the first ones every run has a pseudo mask of).

    Raises:
        ValueError: when a folder is not a run dir, has no seeds, or the runs used other data.
    """
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = [RunSpec.from_run_dir(Path(d)) for d in run_dirs]
    if len({(s.dataset, s.data_root) for s in specs}) > 1:
        raise ValueError("explain compares runs on the same data; got "
                         f"{sorted({(s.dataset, s.data_root) for s in specs})}")
    shared = set.intersection(*(set(_seed_ids(Path(d))) for d in run_dirs))
    ids = [i for i in _seed_ids(Path(run_dirs[0])) if i in shared][:n]
    if not ids:
        raise ValueError("the runs share no pseudo-masked training image")
    base, split = voc_root(Path(specs[0].data_root)), SPLITS[specs[0].dataset][0]
    cols = 2 + len(run_dirs)
    fig, axes = plt.subplots(len(ids), cols, figsize=(1.8 * cols, 1.9 * len(ids)),
                             squeeze=False)
    for row, image_id in enumerate(ids):
        gt = read_mask(base / split.mask_dir / f"{image_id}.png")
        image = cv2.imread(str(base / "JPEGImages" / f"{image_id}.jpg"))[..., ::-1]
        panels = [(image, "image"), (_coloured(gt), "ground truth")]
        for spec, run_dir in zip(specs, run_dirs, strict=True):
            mask = read_mask(Path(run_dir) / "seeds" / seeding.MASK_DIR / f"{image_id}.png")
            score = seeding.seed_miou([(mask, gt)])
            panels.append((_coloured(mask), f"{spec.method}\nmIoU {score:.1f}"))
        for ax, (picture, title) in zip(axes[row], panels, strict=True):
            ax.imshow(picture)
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    fig.suptitle("CAM seeds (pseudo masks) beside the ground truth", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
