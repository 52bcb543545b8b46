"""Generated THUMOS14 snippet features on the real annotation timeline.

**Snippet features on the real THUMOS14 timeline** (:func:`write_thumos14_features`). For every
video of the real ActionFormer annotation file, a T x D float32 sequence with one row per
16-frame snippet at the video's own fps (T = floor(duration * fps / 16), as I3D releases do),
written as ``features/<video>.npy`` (or ``<video>_rgb.npy`` + ``<video>_flow.npy``, D/2 each),
with the annotation json copied next to it. Every row is Gaussian noise plus a per-video scene
offset (background carries no class signal). Snippets inside an annotated segment of class c
add class c's signal, in two parts (like the two-part images of the classification demo):

- a short *key* part (about a quarter of the segment, at a random place inside it) carries a
  strong, easy cue ``key_c``;
- the whole segment carries a weaker cue ``body_c`` plus a class-agnostic "actionness" cue.

A localizer trained with video labels only can classify videos from the key parts alone, so it
tends to fire on them and miss the rest of each action (low tIoU); hiding snippets during
training (HaS) takes the key parts away now and then, so the weaker body cue must be learned
too -- the failure mode and remedy the paper describes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tasks.action_localization.temporal import (
    load_annotations,
    num_snippets_for,
    seconds_to_snippets,
)

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
    from benchmark.engine.paths import data_dir

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
        "note": ("generated by hasbench (tasks/action_localization/synth.py); fps null = "
                 "each video's fps"),
    }, indent=1))
    return sorted(keep)
