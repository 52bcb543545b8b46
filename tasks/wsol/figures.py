"""WSOL's figure: CAM overlays of test images with the ground-truth and predicted boxes.

:func:`collect_examples` takes what the figure needs from a trained model (images, CAMs of the
predicted and ground-truth classes, boxes); :func:`draw_examples` draws one or several runs
side by side on the same images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Test images kept per run for the CAM figure.
EXAMPLES = 16


def collect_examples(runner: Any, n: int) -> dict[str, np.ndarray]:
    """CAMs, boxes and images of the first ``n`` test images, from a trained runner."""
    return examples_from(runner.model, runner.test_dataloader, n)


def examples_from(model: Any, dataloader: Any, n: int) -> dict[str, np.ndarray]:
    """CAMs, boxes and images (what ``cams.npz`` holds) of the first ``n`` images of a loader."""
    import torch

    from tasks.wsol.boxes import largest_component_boxes

    model = getattr(model, "module", model)  # unwrap (Distributed)DataParallel
    images, cams, preds, gts, boxes = [], [], [], [], []
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            gt = torch.cat([s.gt_label.view(-1)[:1] for s in data["data_samples"]])
            logits, maps = model.logits_and_cams(data["inputs"], gt)
            images += [_to_rgb(img) for img in batch["inputs"]]
            cams.append(maps.float().cpu().numpy())
            preds.append(logits.argmax(1).cpu().numpy())
            gts.append(gt.cpu().numpy())
            boxes += [np.asarray(s.metainfo["gt_bboxes"], dtype=np.float32)
                      for s in data["data_samples"]]
            if len(images) >= n:
                break
    cam_array = np.concatenate(cams)[:n]
    return {
        "images": np.stack(images[:n]), "cams": cam_array.astype(np.float16),
        "pred_labels": np.concatenate(preds)[:n], "gt_labels": np.concatenate(gts)[:n],
        "gt_boxes": _pad_boxes(boxes[:n]),
        "pred_boxes": largest_component_boxes(cam_array).astype(np.float32),
    }


def _to_rgb(chw_bgr: Any) -> np.ndarray:
    """A pipeline image (uint8 CHW, BGR as loaded by OpenCV) as HWC RGB."""
    return np.ascontiguousarray(chw_bgr.cpu().numpy().transpose(1, 2, 0)[..., ::-1])


def _pad_boxes(boxes: list[np.ndarray]) -> np.ndarray:
    """Stack per-image ``(M_i, 4)`` boxes into ``(N, max M, 4)``, NaN-padded."""
    most = max((len(b) for b in boxes), default=0)
    out = np.full((len(boxes), most, 4), np.nan, dtype=np.float32)
    for i, b in enumerate(boxes):
        out[i, : len(b)] = b
    return out


def draw_examples(runs: list[tuple[str, dict[str, np.ndarray]]], out: Path,
                  n: int = EXAMPLES) -> Path:
    """A PNG grid: each test image once per run (side by side), CAM overlay, boxes.

    The overlay is the ground-truth class's CAM (what GT-known Loc scores); green boxes are the
    ground truth, red the box of the largest component of that CAM at 20% of its max.

    Args:
        runs: (label, examples) per run, examples as written to ``cams.npz``.
        out: PNG path.
        n: Images to show (at most the number every run holds).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from tasks.wsol.boxes import best_iou, largest_component_box

    n = min([n, *(len(ex["images"]) for _, ex in runs)])
    if n == 0:
        raise ValueError("no test images to draw")
    groups_per_row = max(1, min(4, 8 // len(runs)))
    rows = -(-n // groups_per_row)
    cols = groups_per_row * len(runs)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        for r, (label, ex) in enumerate(runs):
            ax = axes[i // groups_per_row, (i % groups_per_row) * len(runs) + r]
            cam = ex["cams"][i, 1].astype(np.float32)
            gt = ex["gt_boxes"][i][~np.isnan(ex["gt_boxes"][i]).any(axis=1)]
            box = largest_component_box(cam)
            heat = plt.get_cmap("jet")(np.clip(cam, 0, 1))
            heat[..., 3] = 0.65 * np.clip(cam, 0, 1)  # weak evidence stays transparent
            ax.imshow(ex["images"][i])
            ax.imshow(heat)
            for b, colour in [*((g, "lime") for g in gt), (box, "red")]:
                if b[2] >= b[0]:
                    ax.add_patch(Rectangle((b[0] - 0.5, b[1] - 0.5), b[2] - b[0] + 1,
                                           b[3] - b[1] + 1, fill=False, lw=1.5, ec=colour))
            ok = "✓" if ex["pred_labels"][i] == ex["gt_labels"][i] else "✗"
            ax.set_title(f"{label}\nIoU {best_iou(box, gt):.2f} cls {ok}", fontsize=7)
    fig.suptitle("GT-class CAM; green: ground truth, red: box at 20% of max", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
