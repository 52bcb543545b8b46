"""What the performance scripts record about the machine they ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_meta() -> dict[str, str | int]:
    """CPU model, cores, machine type and Python, for every result row."""
    return {"cpu": cpu_name(), "cores": os.cpu_count() or 0, "machine": platform.machine(),
            "python": platform.python_version()}
