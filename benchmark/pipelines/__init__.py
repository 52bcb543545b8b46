"""Framework adapters for the Hide-and-Seek core.

Importing this package registers the OpenMMLab stages ``HideAndSeek`` and
``HideAndSeekFrames`` in the ``TRANSFORMS`` registries of mmpretrain, mmsegmentation and
mmaction2 (see :mod:`benchmark.pipelines.mm`). The torchreid helper lives in
``benchmark.pipelines.torchreid`` and is imported on its own.
"""

from benchmark.pipelines.mm import REGISTERED_SCOPES, HideAndSeek, HideAndSeekFrames

__all__ = ["REGISTERED_SCOPES", "HideAndSeek", "HideAndSeekFrames"]
