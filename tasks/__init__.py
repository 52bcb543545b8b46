"""Task registry: one package per task, imported lazily (frameworks are heavy to import).

Each ``tasks/<name>/__init__.py`` defines ``TASK``, an instance of :class:`tasks.base.Task`
(:class:`tasks.base.MMTask` for the OpenMMLab tasks).
"""

from __future__ import annotations

import importlib
import importlib.util

from tasks.base import Task

#: Every task the paper claims, in the order of the paper's sections.
TASK_NAMES: tuple[str, ...] = (
    "classification",
    "wsol",
    "wsss",
    "segmentation",
    "emotion",
    "age_gender",
    "action_localization",
    "reid",
    "video",
)


def available_tasks() -> list[str]:
    """Task names whose module exists in this checkout."""
    found = []
    for name in TASK_NAMES:
        if importlib.util.find_spec(f"tasks.{name}") is not None:
            found.append(name)
    return found


def get_task(name: str) -> Task:
    """Import and return a task by name.

    Raises:
        ValueError: naming the known tasks when ``name`` is not one of them.
    """
    if name not in available_tasks():
        raise ValueError(
            f"unknown task {name!r}; known tasks: {', '.join(available_tasks())} "
            f"(see `hasbench list`)"
        )
    return importlib.import_module(f"tasks.{name}").TASK
