"""What the performance scripts record about the machine they ran on."""

from __future__ import annotations

import os
import platform

from benchmark.engine.runner import cpu_model


def machine_meta() -> dict[str, str | int]:
    """CPU model, cores, machine type and Python, for every result row."""
    return {"cpu": cpu_model(), "cores": os.cpu_count() or 0, "machine": platform.machine(),
            "python": platform.python_version()}
