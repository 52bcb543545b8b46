"""Where data lives by default: ``$HASBENCH_DATA``, else ``../shared/data``, else ``./data``."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The folder that holds the datasets' default roots.

    Returns:
        ``$HASBENCH_DATA`` if set; otherwise ``<repo>/../shared/data`` if it exists; otherwise
        ``<repo>/data`` (where ``scripts/prepare_*.sh`` put downloaded datasets).
    """
    env = os.environ.get("HASBENCH_DATA")
    if env:
        return Path(env).expanduser()
    shared = REPO_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return REPO_ROOT / "data"
