"""Generated video data in real layouts: THUMOS14 snippet features, short action clips.

**Snippet features on the real THUMOS14 timeline** (:func:`write_thumos14_features`). For every
video of the real ActionFormer annotation file, a T x D float32 sequence with one row per
16-frame snippet at the video's own fps (T = floor(duration * fps / 16), as I3D releases do),
written as ``features/<video>.npy`` (or ``<video>_rgb.npy`` + ``<video>_flow.npy``, D/2 each),
with the annotation json copied next to it. Every row is Gaussian noise plus a per-video scene
offset (background carries no class signal). Snippets inside an annotated segment of class c
add class c's signal, in two parts, like the two-part images of :mod:`benchmark.synth_parts`:

- a short *key* part (about a quarter of the segment, at a random place inside it) carries a
  strong, easy cue ``key_c``;
- the whole segment carries a weaker cue ``body_c`` plus a class-agnostic "actionness" cue.

A localizer trained with video labels only can classify videos from the key parts alone, so it
tends to fire on them and miss the rest of each action (low tIoU); hiding snippets during
training (HaS) takes the key parts away now and then, so the weaker body cue must be learned
too -- the failure mode and remedy the paper describes.

**Short clips** (:func:`write_video_clips`): mmaction2's video-list layout
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

from benchmark.temporal import load_annotations, num_snippets_for, seconds_to_snippets

#: Feature timeline of the generated THUMOS14 features (16-frame snippets at the video's fps).
FEATURE_STRIDE_FRAMES = 16
FEATURE_WINDOW_FRAMES = 16
FEATURE_DIM = 64
NUM_THUMOS_CLASSES = 20
KEY_FRACTION = 0.25
KEY_AMPLITUDE = 3.0
BODY_AMPLITUDE = 1.3
ACTIONNESS_AMPLITUDE = 0.6
SCENE_AMPLITUDE = 0.5
FEATURE_INFO_FILE = "feature_info.json"


def _unit_rows(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    vectors = rng.normal(size=(rows, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def thumos_feature_sequence(
    video, rng: np.random.Generator, cues: dict[str, np.ndarray],
    stride_frames: int = FEATURE_STRIDE_FRAMES,
) -> np.ndarray:
    """The generated T x D features of one annotated video (see module docstring)."""
    dim = cues["key"].shape[1]
    length = num_snippets_for(video.duration_seconds, video.fps, stride_frames)
    features = rng.normal(size=(length, dim)).astype(np.float32)
    features += SCENE_AMPLITUDE * _unit_rows(rng, 1, dim) * np.sqrt(dim) / 4
    for seg in video.segments:
        start, end = seconds_to_snippets(seg.start_seconds, seg.end_seconds, stride_frames,
                                         video.fps, length)
        span = end - start
        features[start:end] += (BODY_AMPLITUDE * cues["body"][seg.label_id]
                                + ACTIONNESS_AMPLITUDE * cues["actionness"][0]) * np.sqrt(dim) / 4
        key_len = max(1, round(span * KEY_FRACTION))
        key_start = start + int(rng.integers(0, span - key_len + 1))
        features[key_start:key_start + key_len] += (
            KEY_AMPLITUDE * cues["key"][seg.label_id] * np.sqrt(dim) / 4
        )
    return features


def write_thumos14_features(
    out_dir: Path,
    seed: int = 0,
    annotations: Path | None = None,
    *,
    feature_dim: int = FEATURE_DIM,
    max_videos_per_subset: int | None = None,
    two_stream: bool = False,
) -> list[str]:
    """Write generated features for the videos of a real THUMOS14 annotation file.

    Args:
        out_dir: Dataset root to write (``thumos14.json`` + ``features/``).
        seed: Seed of the cues and the noise.
        annotations: ActionFormer json; defaults to ``data_dir()/thumos14-annotations``.
        feature_dim: D (even when ``two_stream``).
        max_videos_per_subset: Keep only this many videos of each subset (a seeded choice),
            to keep tests fast; ``None`` writes all of them.
        two_stream: Write ``<id>_rgb.npy`` and ``<id>_flow.npy`` (D/2 each) instead of one file.

    Returns:
        The video ids written.
    """
    from benchmark.paths import data_dir

    source = Path(annotations) if annotations else (
        data_dir() / "thumos14-annotations" / "thumos14.json")
    if not source.exists():
        raise ValueError(
            f"the THUMOS14 annotation file {source} is missing; the generated features follow "
            "the real annotation timeline (set HASBENCH_DATA to the folder holding "
            "thumos14-annotations/thumos14.json)"
        )
    if two_stream and feature_dim % 2:
        raise ValueError(f"two_stream needs an even feature_dim, got {feature_dim}")
    rng = np.random.default_rng(seed)
    cues = {"key": _unit_rows(rng, NUM_THUMOS_CLASSES, feature_dim),
            "body": _unit_rows(rng, NUM_THUMOS_CLASSES, feature_dim),
            "actionness": _unit_rows(rng, 1, feature_dim)}
    videos = load_annotations(source)
    if max_videos_per_subset is not None:
        chosen = []
        for subset in sorted({v.subset for v in videos}):
            members = [v for v in videos if v.subset == subset]
            picks = np.random.default_rng(seed + 1).permutation(len(members))
            chosen += [members[i] for i in sorted(picks[:max_videos_per_subset])]
        videos = chosen
    out = Path(out_dir)
    feature_dir = out / "features"
    feature_dir.mkdir(parents=True, exist_ok=True)
    for video in videos:
        video_rng = np.random.default_rng([seed, int(video.video_id.rsplit("_", 1)[-1])])
        features = thumos_feature_sequence(video, video_rng, cues)
        if two_stream:
            half = feature_dim // 2
            np.save(feature_dir / f"{video.video_id}_rgb.npy", features[:, :half])
            np.save(feature_dir / f"{video.video_id}_flow.npy", features[:, half:])
        else:
            np.save(feature_dir / f"{video.video_id}.npy", features)
    database = json.loads(source.read_text())
    keep = {v.video_id for v in videos}
    database["database"] = {k: v for k, v in database["database"].items() if k in keep}
    (out / "thumos14.json").write_text(json.dumps(database))
    (feature_dir / FEATURE_INFO_FILE).write_text(json.dumps({
        "stride_frames": FEATURE_STRIDE_FRAMES, "window_frames": FEATURE_WINDOW_FRAMES,
        "fps": None, "dim": feature_dim, "two_stream": two_stream,
        "note": "generated by hasbench (benchmark/synth_video.py); fps null = each video's fps",
    }, indent=1))
    return sorted(keep)


# --------------------------------------------------------------------------- short clips
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
