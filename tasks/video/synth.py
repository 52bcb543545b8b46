"""Generated short action clips in mmaction2's video-list layout.

The clips (:func:`write_video_clips`) use mmaction2's video-list layout
(``videos/*.mp4`` + ``train_list.txt`` / ``val_list.txt`` with "relative/path label" lines),
written with OpenCV's mp4v codec, 64x64 pixels, 16 frames at 8 fps. Each class is a square of
the class's hue moving in the class's direction over a noisy background with a static grey
distractor square; the moving square is present only during a random stretch of the clip, so
both where and when matter (``clip_info.json`` records that stretch for the saliency figures).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CLIP_SIDE_PX = 64  # decord 0.6.0 fails on widths below 64
CLIP_FRAMES = 16
CLIP_FPS = 8
CLIP_CLASSES: tuple[str, ...] = ("moves_right", "moves_left", "moves_down", "moves_up")
_DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))  # (dy, dx) per class
_CLIP_PALETTE = np.array([[230, 40, 40], [40, 200, 60], [40, 90, 230], [240, 220, 30]],
                         dtype=np.float64)  # RGB per class
OBJECT_PX = 12
DISTRACTOR_PX = 12
CLIP_INFO_FILE = "clip_info.json"


def render_clip(cls: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """One T x H x W x 3 uint8 RGB clip of class ``cls`` and its visible-frame span [start, end).

    A square moves in the class's direction during a random stretch of at least half the clip
    and is absent otherwise. Two redundant cues tell the class: the square's colour (the
    class's hue, jittered: the easy cue) and its motion direction (the harder one). A static
    grey square of random brightness is always there as a distractor.
    """
    side, frames = CLIP_SIDE_PX, CLIP_FRAMES
    background = rng.uniform(60, 160, size=3)
    clip = background + rng.normal(0, 12, size=(frames, side, side, 3))
    dy, dx = _DIRECTIONS[cls]
    visible = int(rng.integers(frames // 2, frames + 1))
    start = int(rng.integers(0, frames - visible + 1))
    speed = float(rng.uniform(1.5, 2.5))
    travel = speed * (visible - 1)
    margin = side - OBJECT_PX
    y0 = rng.uniform(0, margin) if dy == 0 else (rng.uniform(0, margin - travel) if dy > 0
                                                 else rng.uniform(travel, margin))
    x0 = rng.uniform(0, margin) if dx == 0 else (rng.uniform(0, margin - travel) if dx > 0
                                                 else rng.uniform(travel, margin))
    sy, sx = rng.integers(0, side - DISTRACTOR_PX, size=2)
    clip[:, sy:sy + DISTRACTOR_PX, sx:sx + DISTRACTOR_PX] = rng.uniform(0, 255)
    colour = _CLIP_PALETTE[cls] + rng.normal(0, 20, size=3)
    for step in range(visible):
        y = round(y0 + dy * speed * step)
        x = round(x0 + dx * speed * step)
        clip[start + step, y:y + OBJECT_PX, x:x + OBJECT_PX] = colour
    return np.clip(clip, 0, 255).astype(np.uint8), (start, start + visible)


def write_video_clips(out_dir: Path, seed: int = 0, train_per_class: int = 16,
                      val_per_class: int = 8) -> None:
    """Write generated clips in mmaction2's video-list layout (see module docstring).

    Also writes ``clip_info.json`` (file -> label, class name, visible frames) for figures.
    """
    import cv2

    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    info = {}
    for split, per_class in (("train", train_per_class), ("val", val_per_class)):
        labels = np.repeat(np.arange(len(CLIP_CLASSES)), per_class)
        rng.shuffle(labels)
        lines = []
        for i, cls in enumerate(labels.tolist()):
            name = f"videos/{split}_{i:04d}.mp4"
            clip, (start, end) = render_clip(cls, rng)
            writer = cv2.VideoWriter(str(out / name), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS,
                                     (CLIP_SIDE_PX, CLIP_SIDE_PX))
            if not writer.isOpened():
                raise RuntimeError("OpenCV cannot write mp4v videos here (no codec)")
            for frame in clip:
                writer.write(np.ascontiguousarray(frame[..., ::-1]))  # RGB -> BGR
            writer.release()
            lines.append(f"{name} {cls}")
            info[name] = {"label": cls, "class": CLIP_CLASSES[cls], "visible_frames": [start, end]}
        (out / f"{split}_list.txt").write_text("\n".join(lines) + "\n")
    (out / "classes.txt").write_text("\n".join(CLIP_CLASSES) + "\n")
    (out / CLIP_INFO_FILE).write_text(json.dumps(info, indent=0))
