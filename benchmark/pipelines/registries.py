"""The OpenMMLab libraries our stages and data preprocessors register into: those that import.

mmpretrain, mmsegmentation and mmaction2 are each optional: :func:`installed_scopes` names the
ones this environment has, after :func:`benchmark.engine.compat.apply` (building from mmseg's
or mmaction2's registries imports their model code, which the pinned stack cannot import
without the shims). A library that is installed but fails to import raises its own error; one
that is not installed is left out. With none of the three, nothing is registered and the
classes can still be constructed directly.
"""

from __future__ import annotations

import importlib
from typing import Any

from benchmark.engine import compat

#: The libraries that can hold our classes, by OpenMMLab scope name (mmaction = mmaction2).
SCOPES = ("mmpretrain", "mmseg", "mmaction")


def installed_scopes() -> tuple[str, ...]:
    """The scopes of :data:`SCOPES` whose library imports here (compat shims applied first)."""
    compat.apply()
    found = []
    for scope in SCOPES:
        try:
            importlib.import_module(scope)
        except ModuleNotFoundError as err:
            if err.name != scope:  # installed, but something it needs is missing: say so
                raise
            continue
        found.append(scope)
    return tuple(found)


def registry(scope: str, name: str) -> Any:
    """The registry ``name`` (``"TRANSFORMS"``, ``"MODELS"``) of the library ``scope``."""
    return getattr(importlib.import_module(f"{scope}.registry"), name)


def register_transform(cls: type) -> tuple[str, ...]:
    """Register ``cls`` in the ``TRANSFORMS`` of every installed library; return the scopes."""
    scopes = installed_scopes()
    for scope in scopes:
        transforms = registry(scope, "TRANSFORMS")
        if transforms.module_dict.get(cls.__name__) is not cls:
            transforms.register_module(module=cls, force=True)
    return scopes
