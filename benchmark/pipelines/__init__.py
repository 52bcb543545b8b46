"""Framework adapters for the Hide-and-Seek core.

Importing this package registers the OpenMMLab stages ``HideAndSeek``, ``HideAndSeekFrames``,
``GridMask`` (:mod:`benchmark.pipelines.gridmask`) and ``ClipCutout``
(:mod:`benchmark.pipelines.cutout`) in the ``TRANSFORMS`` registries of
mmpretrain, mmsegmentation and mmaction2, those of the three that import (see
:mod:`benchmark.pipelines.mm`); it applies the compat shims the pinned stack needs first, so
``import benchmark.pipelines`` (or ``custom_imports=dict(imports=['benchmark.pipelines'])`` in
a config) is all a user needs. Without mmcv/mmengine nothing is registered
(:data:`REGISTERED_SCOPES` is empty) and the other adapters still import: the torchvision
transform (``benchmark.pipelines.torchvision``), the torchreid helper
(``benchmark.pipelines.torchreid``). The HaS data preprocessors
(``benchmark.pipelines.preprocessors``) are imported on their own.
"""

try:
    from benchmark.pipelines.cutout import ClipCutout
    from benchmark.pipelines.gridmask import GridMask
    from benchmark.pipelines.mm import REGISTERED_SCOPES, HideAndSeek, HideAndSeekFrames
except ModuleNotFoundError as err:  # no OpenMMLab here: the other adapters work without it
    if err.name not in ("mmcv", "mmengine"):
        raise
    REGISTERED_SCOPES: tuple[str, ...] = ()
    __all__ = ["REGISTERED_SCOPES"]
else:
    __all__ = ["REGISTERED_SCOPES", "ClipCutout", "GridMask", "HideAndSeek",
               "HideAndSeekFrames"]
