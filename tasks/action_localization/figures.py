"""Action localization's figure: T-CAMs of test videos against their ground-truth segments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def plot_tcams(runner: Any, out: Path, n: int = 3, label: str = "model") -> Path | None:
    """Plot the T-CAM of ``n`` test videos of a finished Runner (see :func:`plot_tcam_figure`)."""
    return plot_tcam_figure({label: runner.model}, runner.test_dataloader.dataset, out, n)


def plot_tcam_figure(models: dict[str, Any], dataset: Any, out: Path, n: int = 3) -> Path | None:
    """T-CAMs of ``n`` test videos (each model a line) against the ground-truth segments.

    For each video the classes plotted are its ground-truth classes; their segments are shaded.

    Returns:
        The figure path, or None when the dataset is empty.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from tasks.action_localization import temporal

    count = min(n, len(dataset))
    if count == 0:
        return None
    fig, axes = plt.subplots(count, 1, figsize=(9, 2.2 * count), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, idx in zip(axes[:, 0], range(count), strict=True):
        item = dataset[idx]
        meta = item["data_samples"].metainfo
        stride, fps = meta["stride_frames"], meta["fps"]
        classes = sorted({label for label, _, _ in meta["gt_segments"]})
        for k, cls in enumerate(classes):
            for label, start_s, end_s in meta["gt_segments"]:
                if label == cls:
                    ax.axvspan(start_s, end_s, color=colours[k % len(colours)], alpha=0.12)
        for m, (name, model) in enumerate(models.items()):
            model.eval()
            device = next(model.parameters()).device  # a run's model stays where it trained
            with torch.no_grad():
                tcam, _ = model.temporal_cam(item["inputs"][None].float().to(device))
            tcam = tcam[0].cpu().numpy()
            times = (np.arange(tcam.shape[0]) + 0.5) * stride / fps
            for k, cls in enumerate(classes):
                ax.plot(times, tcam[:, cls], lw=1, color=colours[k % len(colours)],
                        ls=("-", "--", ":", "-.")[m % 4],
                        label=f"{name}: {temporal.THUMOS14_CLASSES[cls]}")
        ax.set_title(f"{meta['video_name']} (shaded: ground truth)", fontsize=8)
        ax.set_ylabel("T-CAM")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=6, loc="upper right")
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
