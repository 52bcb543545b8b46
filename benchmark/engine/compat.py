"""Runtime shims for the pinned stack's known breakages; each a no-op where not needed.

Call :func:`apply` before importing OpenMMLab model code; ``benchmark.pipelines`` (on import)
and the OpenMMLab run loop (``benchmark.engine.mmrun``) call it themselves. Every shim first
checks whether its breakage is present and does nothing otherwise, so a cluster with a full
mmcv (compiled ops) or a fixed mmaction2 runs the upstream code untouched.
Upstream files are never edited. :data:`APPLIED` lists what was patched in this process.
:func:`torchreid_module` (not a shim) imports torchreid code in either of its import layouts.

The breakages (verified on the pinned stack, see requirements/README.md):

1. ``mmcv-lite`` has no compiled ``mmcv._ext``, so ``import mmcv.ops`` fails, and with it
   ``import mmseg.models`` / ``mmseg.utils`` (they import ``point_sample``). The shim installs
   a stand-in ``mmcv.ops`` package over mmcv's own ops folder: names whose mmcv file loads
   without ``_ext`` (``point_sample`` is pure PyTorch) come from that file; the others become
   placeholders that raise, on use, an error saying to install full mmcv.
2. The mmaction2 1.2.0 wheel lacks ``mmaction/models/localizers/drn``, so
   ``import mmaction.models`` fails. The shim registers an empty ``drn`` package whose ``DRN``
   raises on use (DRN is not used here).
3. torch >= 2.6 loads checkpoints with ``weights_only=True``; mmengine's resume pickles
   ``HistoryBuffer`` and numpy scalars into checkpoints. The shim allow-lists exactly those
   classes with ``torch.serialization.add_safe_globals`` (no global switch).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

#: Names of the shims applied in this process.
APPLIED: list[str] = []


class _MissingOp:
    """Placeholder for an mmcv op that needs the compiled ``mmcv._ext``."""

    def __init__(self, name: str, reason: str):
        self._name, self._reason = name, reason

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"mmcv.ops.{self._name} needs mmcv's compiled ops, which mmcv-lite lacks "
            f"({self._reason}). "
            "Install full mmcv 2.1.0 with ops (README: 'Full mmcv') to use it."
        )

    def __repr__(self) -> str:
        return f"<missing mmcv op {self._name}>"


def _ops_name_to_module(ops_init: Path) -> dict[str, str]:
    """Map each public name of ``mmcv/ops/__init__.py`` to the submodule defining it."""
    text = ops_init.read_text()
    mapping = {}
    for module, names in re.findall(
        r"from \.(\w+) import \(?([^()]+?)\)?\n(?=from|\n|__all__)", text, re.S
    ):
        for name in re.split(r"[\s,]+", names.strip()):
            if name:
                mapping[name] = module
    return mapping


def _mmcv_ops_importable() -> bool:
    try:
        importlib.import_module("mmcv.ops")
        return True
    except ImportError:
        for key in [k for k in sys.modules if k == "mmcv.ops" or k.startswith("mmcv.ops.")]:
            del sys.modules[key]
        return False


def patch_mmcv_ops() -> bool:
    """Install the stand-in ``mmcv.ops`` when mmcv lacks compiled ops. Returns True if applied."""
    if importlib.util.find_spec("mmcv") is None or "mmcv.ops" in sys.modules:
        return False
    if _mmcv_ops_importable():
        return False
    import mmcv

    ops_dir = Path(mmcv.__file__).parent / "ops"
    mapping = _ops_name_to_module(ops_dir / "__init__.py")
    stand_in = types.ModuleType("mmcv.ops")
    stand_in.__path__ = [str(ops_dir)]  # submodules import from mmcv's own files
    stand_in.__file__ = str(ops_dir / "__init__.py")
    stand_in.__doc__ = "hasbench stand-in for mmcv.ops under mmcv-lite (benchmark.engine.compat)."
    stand_in.__all__ = sorted(mapping)

    def __getattr__(name: str) -> Any:
        if name not in mapping:
            raise AttributeError(f"module 'mmcv.ops' has no attribute {name!r}")
        try:
            value = getattr(importlib.import_module(f"mmcv.ops.{mapping[name]}"), name)
        except (ImportError, AttributeError) as err:
            value = _MissingOp(name, str(err))
        setattr(stand_in, name, value)
        return value

    stand_in.__getattr__ = __getattr__
    sys.modules["mmcv.ops"] = stand_in
    mmcv.ops = stand_in
    APPLIED.append("mmcv.ops stand-in")
    return True


def patch_mmaction_drn() -> bool:
    """Register an empty ``mmaction.models.localizers.drn`` when the wheel lacks it."""
    if importlib.util.find_spec("mmaction") is None:
        return False
    name = "mmaction.models.localizers.drn"
    if name in sys.modules:
        return False
    # Look at the files: find_spec of the subpackage would import mmaction.models, which is
    # exactly what fails.
    import mmaction

    drn_dir = Path(mmaction.__file__).parent / "models" / "localizers" / "drn"
    if (drn_dir / "drn.py").exists() and (drn_dir / "drn_utils").exists():
        return False
    package = types.ModuleType(name)
    package.__path__ = []
    module = types.ModuleType(f"{name}.drn")
    module.DRN = _MissingOp("DRN (mmaction2 wheel lacks localizers/drn)", "missing from the wheel")
    package.drn = module
    sys.modules[name] = package
    sys.modules[f"{name}.drn"] = module
    APPLIED.append("mmaction drn placeholder")
    return True


def allow_mmengine_checkpoint_globals() -> bool:
    """Allow-list the classes mmengine pickles into checkpoints for ``weights_only`` loads."""
    import torch

    if not hasattr(torch.serialization, "add_safe_globals"):
        return False
    if importlib.util.find_spec("mmengine") is None:
        return False
    import codecs
    import collections

    import numpy as np
    from mmengine.logging import HistoryBuffer

    multiarray = importlib.import_module(
        "numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray"
    )
    # What mmengine's message hub pickles: HistoryBuffer (numpy arrays and scalars inside),
    # Counter, and numpy 2's dtype reduction (getattr on numpy.dtypes, codecs.encode).
    safe: list[Any] = [HistoryBuffer, collections.Counter, codecs.encode, getattr,
                       np.dtype, np.ndarray, multiarray._reconstruct, multiarray.scalar]
    safe += [type(np.dtype(t)) for t in ("float64", "float32", "float16", "int64", "int32",
                                         "int16", "int8", "uint8", "bool")]
    torch.serialization.add_safe_globals(safe)
    APPLIED.append("torch.load allow-list for mmengine checkpoints")
    return True


def torchreid_module(path: str) -> types.ModuleType:
    """Import torchreid's module ``path`` in whichever of its two layouts is installed.

    PyPI's ``torchreid`` 0.2.5 (the package the lock installs; torchreid-pip, a repackaging of
    deep-person-reid 1.4.0) keeps the code under ``torchreid.reid`` (``torchreid.reid.data``);
    the official deep-person-reid, installed from its repository, has it at the top
    (``torchreid.data``). Both set the top-level attributes (``torchreid.data``,
    ``torchreid.models``, ...), but only one of the two dotted module paths imports.

    Args:
        path: The module below the package's code, e.g. ``"data.datasets.image"``.

    Returns:
        ``torchreid.reid.<path>`` where the PyPI layout is installed, else ``torchreid.<path>``.

    Raises:
        ModuleNotFoundError: torchreid is not installed, or its layout has no such module.
    """
    pypi_layout = importlib.util.find_spec("torchreid.reid") is not None  # imports torchreid
    return importlib.import_module(f"torchreid.reid.{path}" if pypi_layout else f"torchreid.{path}")


_DONE = False


def apply() -> list[str]:
    """Apply every needed shim once per process; return the list applied."""
    global _DONE
    if not _DONE:
        _DONE = True
        patch_mmcv_ops()
        patch_mmaction_drn()
        allow_mmengine_checkpoint_globals()
    return list(APPLIED)
