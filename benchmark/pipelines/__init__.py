"""Framework adapters for the Hide-and-Seek core.

Importing this package registers the OpenMMLab stages ``HideAndSeek`` and
``HideAndSeekFrames`` in the ``TRANSFORMS`` registries of mmpretrain, mmsegmentation and
mmaction2, those of the three that import (see :mod:`benchmark.pipelines.mm`). The HaS data
preprocessors (``benchmark.pipelines.preprocessors``) and the torchreid helper
(``benchmark.pipelines.torchreid``) are imported on their own.
"""

from benchmark.pipelines.mm import REGISTERED_SCOPES, HideAndSeek, HideAndSeekFrames

__all__ = ["REGISTERED_SCOPES", "HideAndSeek", "HideAndSeekFrames"]
