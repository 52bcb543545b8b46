"""Video-list datasets on disk (mmaction2's ``path label`` lists), without mmaction2.

Layout checks, class counts and names, and the ``clip_info.json`` of generated clips (where in
each clip the action is visible).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tasks.base import require_paths


def check_video_list(name: str):
    """The layout check of an mmaction2 video-list dataset named ``name``."""
    def check(root: Path) -> None:
        require_paths(root, ["train_list.txt", "val_list.txt"], name,
                      hint="Expected <root>/{train,val}_list.txt with 'relative/path.mp4 label' "
                           f"lines (generate clips with `hasbench synth clips --out {root}`).")
        for split in ("train_list.txt", "val_list.txt"):
            lines = [ln.split() for ln in (root / split).read_text().splitlines() if ln.strip()]
            if not lines:
                raise ValueError(f"{name}: {root / split} lists no videos")
            bad = [ln for ln in lines if len(ln) < 2 or not ln[-1].isdigit()]
            if bad:
                raise ValueError(f"{name}: {root / split} has lines without 'path label': {bad[0]}")
            missing = [ln[0] for ln in lines if not (root / ln[0]).is_file()]
            if missing:
                raise ValueError(f"{name}: {len(missing)} videos listed in {split} are missing "
                                 f"under {root} (e.g. {missing[0]})")

    return check


def num_classes_of(root: Path) -> int:
    """1 + the largest label in the training list."""
    labels = [int(ln.split()[-1]) for ln in (Path(root) / "train_list.txt").read_text()
              .splitlines() if ln.strip()]
    return max(labels) + 1


def class_names(root: Path, count: int) -> list[str]:
    """Names from ``classes.txt`` when present, else ``class<i>``."""
    path = Path(root) / "classes.txt"
    names = path.read_text().split() if path.is_file() else []
    return names if len(names) == count else [f"class{i}" for i in range(count)]


def load_clip_info(root: Path) -> dict[str, Any]:
    """``clip_info.json`` of a generated clip folder (empty when absent)."""
    path = Path(root) / "clip_info.json"
    return json.loads(path.read_text()) if path.is_file() else {}
