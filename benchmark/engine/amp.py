"""Mixed precision (``--amp``): which dtypes a device runs, and the CPU optimizer wrapper.

On CUDA the OpenMMLab tasks use mmengine's own ``AmpOptimWrapper`` (autocast, and a gradient
scaler for float16). mmengine's wrapper refuses to build without CUDA, so CPU runs use
:class:`CPUAutocastOptimWrapper`: mmengine's plain ``OptimWrapper`` with the forward pass under
``torch.autocast("cpu", bfloat16)`` (bfloat16 has float32's range: no scaler needed). torchreid
runs autocast the same way (``tasks.reid.train``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

#: ``--amp`` values.
AMP_DTYPES = ("bfloat16", "float16")


def check_amp(dtype: str, device: str) -> None:
    """Raise ``ValueError`` when ``device`` cannot train with autocast to ``dtype``."""
    import torch

    if dtype not in AMP_DTYPES:
        raise ValueError(f"--amp takes {' or '.join(AMP_DTYPES)}, got {dtype!r}")
    if device == "cpu" and dtype != "bfloat16":
        raise ValueError(f"--amp {dtype} needs a GPU; on the CPU use --amp bfloat16")
    if device.startswith("cuda") and torch.cuda.is_available() and dtype == "bfloat16" \
            and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU has no bfloat16; use --amp float16")


def optim_wrapper_type(device: str) -> str:
    """The optimizer wrapper an ``--amp`` run uses on ``device``."""
    return "CPUAutocastOptimWrapper" if device == "cpu" else "AmpOptimWrapper"


@contextlib.contextmanager
def autocast(dtype: str | None, device: str) -> Iterator[None]:
    """``torch.autocast`` to ``dtype`` on ``device``'s type; nothing when ``dtype`` is None."""
    import torch

    if dtype is None:
        yield
        return
    with torch.autocast(device.split(":")[0], dtype=getattr(torch, dtype)):
        yield


def register() -> None:
    """Register :class:`CPUAutocastOptimWrapper` in mmengine's ``OPTIM_WRAPPERS`` (once)."""
    from mmengine.optim import OptimWrapper
    from mmengine.registry import OPTIM_WRAPPERS

    if OPTIM_WRAPPERS.get("CPUAutocastOptimWrapper") is not None:
        return

    @OPTIM_WRAPPERS.register_module(name="CPUAutocastOptimWrapper")
    class CPUAutocastOptimWrapper(OptimWrapper):
        """mmengine's ``OptimWrapper`` with the forward pass autocast to bfloat16 on the CPU."""

        def __init__(self, dtype: str = "bfloat16", **kwargs: Any):
            check_amp(dtype, "cpu")
            super().__init__(**kwargs)
            self.cast_dtype = dtype

        @contextlib.contextmanager
        def optim_context(self, model: Any) -> Iterator[None]:
            with super().optim_context(model), autocast(self.cast_dtype, "cpu"):
                yield


def patch_mmaction_bfloat16_scores() -> bool:
    """Let mmaction2's recognizer heads train under ``--amp bfloat16`` (once per process).

    ``BaseHead.loss_by_feat`` logs its top-k accuracy from ``cls_scores.detach().cpu().numpy()``,
    which numpy refuses for bfloat16 -- the dtype the head's linear layer gives under bfloat16
    autocast (CPU or CUDA) -- so every such video run failed at its first iteration. The patch
    hands the head float32 scores when they are bfloat16 (its loss is computed in float32
    anyway); other dtypes go through untouched. Returns whether it patched (False: done
    before).
    """
    import torch
    from mmaction.models.heads.base import BaseHead

    if getattr(BaseHead.loss_by_feat, "_float_bfloat16_scores", False):
        return False
    loss_by_feat = BaseHead.loss_by_feat

    def float_bfloat16_scores(self: Any, cls_scores: Any, data_samples: Any) -> Any:
        if isinstance(cls_scores, torch.Tensor) and cls_scores.dtype == torch.bfloat16:
            cls_scores = cls_scores.float()
        return loss_by_feat(self, cls_scores, data_samples)

    float_bfloat16_scores._float_bfloat16_scores = True  # type: ignore[attr-defined]
    BaseHead.loss_by_feat = float_bfloat16_scores
    return True
