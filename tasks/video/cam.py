"""Spatio-temporal Grad-CAM for 3D CNN video recognizers, and its figures.

``pytorch-grad-cam`` (1.5.7) handles 5-D activations: for an N x C x T x H x W input and a
3D conv target layer it averages the gradients over (T', H', W') and zooms the weighted map
back to (T, H, W), min-max normalized over the whole clip -- so the per-frame means of one
map compare frames with each other. :func:`clip_grad_cam` wraps an mmaction2 recognizer
(backbone + head) for it.

Figures (:func:`write_explanation`): a PNG strip (frames, then the heatmap overlay of each
model), an animated GIF of the overlays (PIL), and the per-frame saliency curve (the mean of
the map in each frame: the "temporal localization map" view), with the frames where the
action is visible shaded when the clip's annotation is known. :func:`explain_clips` computes
them for the first validation clips of trained models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tasks.video.data import class_names, load_clip_info


class RecognizerLogits(nn.Module):
    """An mmaction2 recognizer as ``clip (N x C x T x H x W, normalized) -> class logits``."""

    def __init__(self, recognizer: nn.Module):
        super().__init__()
        self.recognizer = recognizer

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """Backbone, then the classification head."""
        return self.recognizer.cls_head(self.recognizer.backbone(clip))


def default_target_layer(recognizer: nn.Module) -> nn.Module:
    """The last residual stage of a ResNet3d-like backbone (``layer4``/last ``res_layers``)."""
    backbone = recognizer.backbone
    names = getattr(backbone, "res_layers", None)
    if names:
        return getattr(backbone, names[-1])
    convs = [m for m in backbone.modules() if isinstance(m, nn.Conv3d)]
    if not convs:
        raise ValueError(f"{type(backbone).__name__} has no Conv3d layer for Grad-CAM; "
                         "pass target_layer=")
    return convs[-1]


def clip_grad_cam(recognizer: nn.Module, clip: torch.Tensor, target: int | None = None,
                  target_layer: nn.Module | None = None) -> tuple[np.ndarray, int]:
    """Grad-CAM of one clip.

    Args:
        recognizer: An mmaction2 ``Recognizer3D`` (or anything with ``backbone``/``cls_head``).
        clip: C x T x H x W or 1 x C x T x H x W, already normalized as the model expects.
        target: Class to explain; ``None`` = the predicted class.
        target_layer: Layer whose activations are weighted; default
            :func:`default_target_layer`.

    Returns:
        (map T x H x W in [0, 1], the class explained).
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if clip.dim() == 4:
        clip = clip[None]
    if clip.dim() != 5 or clip.shape[0] != 1:
        raise ValueError(
            f"clip must be C x T x H x W or 1 x C x T x H x W, got {tuple(clip.shape)}")
    wrapper = RecognizerLogits(recognizer).eval()
    with torch.no_grad():
        logits = wrapper(clip.float())
    cls = int(logits.argmax(1)) if target is None else int(target)
    layer = target_layer or default_target_layer(recognizer)
    with GradCAM(model=wrapper, target_layers=[layer]) as cam:
        maps = cam(input_tensor=clip.float(), targets=[ClassifierOutputTarget(cls)])
    return np.asarray(maps[0], dtype=np.float32), cls


def frame_saliency(cam: np.ndarray) -> np.ndarray:
    """Per-frame saliency: the mean of a T x H x W map over each frame."""
    return np.asarray(cam, dtype=np.float32).reshape(cam.shape[0], -1).mean(1)


def overlay(frames: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Heatmap (jet) over T x H x W x 3 uint8 RGB frames; returns the same shape, uint8."""
    import cv2

    frames = np.asarray(frames)
    if frames.shape[:3] != cam.shape:
        raise ValueError(f"frames {frames.shape[:3]} and map {cam.shape} differ in T x H x W")
    out = np.empty_like(frames, dtype=np.uint8)
    for t, (frame, heat) in enumerate(zip(frames, cam, strict=True)):
        colour = cv2.applyColorMap(np.uint8(255 * np.clip(heat, 0, 1)), cv2.COLORMAP_JET)
        blended = (1 - alpha) * frame.astype(np.float32) + alpha * colour[..., ::-1]
        out[t] = np.clip(blended, 0, 255).astype(np.uint8)
    return out


@dataclass
class ClipExplanation:
    """One clip explained by one or more models.

    Attributes:
        name: Clip name (file) for titles.
        frames: T x H x W x 3 uint8 RGB frames as the model saw them.
        cams: Model label -> T x H x W map in [0, 1].
        predicted: Model label -> class name explained.
        label: Ground-truth class name.
        visible_frames: [start, end) frames where the action is visible, when known.
    """

    name: str
    frames: np.ndarray
    cams: dict[str, np.ndarray] = field(default_factory=dict)
    predicted: dict[str, str] = field(default_factory=dict)
    label: str = ""
    visible_frames: tuple[int, int] | None = None


def write_explanation(clips: Sequence[ClipExplanation], out: Path,
                      gif_frame_ms: int = 150) -> dict[str, Path]:
    """Write the PNG strip, the GIF and the saliency-curve PNG of explained clips.

    Args:
        clips: Explained clips (every clip has the same model labels).
        out: The strip's path (``.png``); the GIF is ``<stem>.gif``, the curve
            ``<stem>_curve.png`` next to it.
        gif_frame_ms: GIF frame duration.

    Returns:
        ``{"strip": ..., "gif": ..., "curve": ...}`` paths.
    """
    if not clips:
        raise ValueError("no clips to explain")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = {"strip": out.with_suffix(".png"), "gif": out.with_suffix(".gif"),
             "curve": out.with_name(f"{out.stem}_curve.png")}
    _strip(clips, paths["strip"])
    _gif(clips, paths["gif"], gif_frame_ms)
    _curves(clips, paths["curve"])
    return paths


def _strip(clips: Sequence[ClipExplanation], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(clips[0].cams)
    num_frames = clips[0].frames.shape[0]
    rows = len(clips) * (1 + len(models))
    fig, axes = plt.subplots(rows, num_frames, figsize=(0.8 * num_frames, 0.9 * rows),
                             squeeze=False)
    row = 0
    for clip in clips:
        panels = [("frames", clip.frames)] + [
            (m, overlay(clip.frames, clip.cams[m])) for m in models]
        for label, images in panels:
            for t in range(num_frames):
                ax = axes[row, t]
                ax.imshow(images[t])
                ax.set_xticks([])
                ax.set_yticks([])
                if clip.visible_frames and clip.visible_frames[0] <= t < clip.visible_frames[1]:
                    for spine in ax.spines.values():
                        spine.set_edgecolor("lime")
                        spine.set_linewidth(1.5)
            title = (f"{clip.name} ({clip.label})" if label == "frames"
                     else f"{label}: {clip.predicted.get(label, '')}")
            axes[row, 0].set_ylabel(title, fontsize=5, rotation=0, ha="right", va="center")
            row += 1
    fig.suptitle("Grad-CAM per frame (green frame: action visible)", fontsize=8)
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _gif(clips: Sequence[ClipExplanation], path: Path, frame_ms: int) -> None:
    from PIL import Image

    clip = clips[0]
    panels = [clip.frames] + [overlay(clip.frames, cam) for cam in clip.cams.values()]
    gap = np.full((clip.frames.shape[1], 4, 3), 255, dtype=np.uint8)
    images = []
    for t in range(clip.frames.shape[0]):
        row = np.concatenate([x for p in panels for x in (p[t], gap)][:-1], axis=1)
        images.append(Image.fromarray(row).resize((row.shape[1] * 3, row.shape[0] * 3),
                                                  Image.NEAREST))
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)


def _curves(clips: Sequence[ClipExplanation], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(clips), 1, figsize=(6, 1.8 * len(clips)), squeeze=False)
    for ax, clip in zip(axes[:, 0], clips, strict=True):
        for model, cam in clip.cams.items():
            ax.plot(np.arange(cam.shape[0]), frame_saliency(cam), marker="o", ms=2, label=model)
        if clip.visible_frames:
            ax.axvspan(clip.visible_frames[0] - 0.5, clip.visible_frames[1] - 0.5, color="green",
                       alpha=0.12, label="action visible")
        ax.set_title(f"{clip.name} ({clip.label})", fontsize=7)
        ax.set_ylabel("mean Grad-CAM", fontsize=7)
        ax.legend(fontsize=6)
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def saliency_in_window(cam: np.ndarray, window: tuple[int, int]) -> float:
    """Share (0-1) of a map's per-frame saliency mass on the frames in ``[start, end)``."""
    curve = frame_saliency(cam)
    total = float(curve.sum())
    return float(curve[window[0]:window[1]].sum()) / total if total > 0 else 0.0


def as_uint8_frames(clip: Any, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalized C x T x H x W tensor back to T x H x W x 3 uint8 frames."""
    array = clip.detach().cpu().float().numpy() if isinstance(clip, torch.Tensor) else clip
    array = array * np.asarray(std, dtype=np.float32)[:, None, None, None] + np.asarray(
        mean, dtype=np.float32)[:, None, None, None]
    return np.clip(array.transpose(1, 2, 3, 0), 0, 255).astype(np.uint8)


def explain_clips(root: Path, models: dict[str, Any], cfg: Any, n: int = 2) -> list:
    """Grad-CAM of the first ``n`` validation clips for each model (same decoded frames).

    Args:
        root: Dataset root (video list layout).
        models: Label -> trained mmaction2 recognizer.
        cfg: The runs' config (its test pipeline decodes the clips).
        n: Number of clips.
    """
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    init_default_scope("mmaction")
    dataset_cfg = dict(cfg.test_dataloader.dataset)
    dataset = DATASETS.build(dataset_cfg)
    info = load_clip_info(root)
    any_model = next(iter(models.values()))
    preprocessor = any_model.data_preprocessor
    names = class_names(root, int(cfg.model.cls_head.num_classes))
    clips = []
    for idx in range(min(n, len(dataset))):
        item = dataset[idx]
        batch = preprocessor({"inputs": [item["inputs"]], "data_samples": [item["data_samples"]]},
                             training=False)
        clip = batch["inputs"][0, 0]  # num_clips x C x T x H x W -> first clip
        file_name = Path(dataset.get_data_info(idx)["filename"]).name
        rel = f"videos/{file_name}"
        label = int(item["data_samples"].gt_label.item())
        window = info.get(rel, {}).get("visible_frames")
        explained = ClipExplanation(
            name=file_name, label=names[label],
            frames=as_uint8_frames(clip, preprocessor.mean.flatten().tolist(),
                                   preprocessor.std.flatten().tolist()),
            visible_frames=tuple(window) if window else None)
        for label_name, model in models.items():
            with torch.enable_grad():
                cam, cls = clip_grad_cam(model, clip)
            explained.cams[label_name] = cam
            explained.predicted[label_name] = names[cls]
        clips.append(explained)
    return clips
