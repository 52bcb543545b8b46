"""Class activation maps (CAM) and Grad-CAM, batched, in torch.

CAM (Zhou et al., CVPR 2016) needs a network whose classifier is global average pooling
followed by one linear layer: the map of class ``k`` is ``sum_c w[k, c] * A[c]`` over the last
convolutional feature map ``A``. :func:`class_activation_maps` computes the maps of several
classes per image (e.g. the predicted and the ground-truth class) in one ``einsum`` — no
Python loop over images or classes — upsamples them bilinearly to the input size and min-max
normalizes each (the classifier bias is a constant per map and vanishes in the normalization).

For backbones without a GAP + linear head, :func:`grad_cam_maps` uses pytorch-grad-cam's
``GradCAM`` (gradient-weighted feature maps, ReLU'd). For a GAP + linear head Grad-CAM's
channel weights are ``w[k, c] / (h * w)``, so Grad-CAM equals the ReLU'd CAM up to scale.

Degenerate maps (what WSOL's box search expects): non-finite pixels get the map's smallest
finite value; a map with zero range (or no finite pixel) normalizes to all zeros. Shared by
``wsol`` (``tasks.wsol.cam`` re-exports it) and ``wsss``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def minmax_normalize(maps: torch.Tensor) -> torch.Tensor:
    """Min-max normalize each ``(H, W)`` map of a ``(..., H, W)`` tensor to [0, 1].

    Non-finite pixels are set to their map's smallest finite value first; maps with zero
    range or without any finite pixel become all zeros.
    """
    if maps.ndim < 2:
        raise ValueError(f"maps must be (..., H, W); got shape {tuple(maps.shape)}")
    flat = maps.reshape(-1, maps.shape[-2] * maps.shape[-1]).float()
    finite = torch.isfinite(flat)
    big = torch.finfo(flat.dtype).max
    low = torch.where(finite, flat, torch.full_like(flat, big)).amin(dim=1, keepdim=True)
    high = torch.where(finite, flat, torch.full_like(flat, -big)).amax(dim=1, keepdim=True)
    valid = finite.any(dim=1, keepdim=True) & (high > low)
    flat = torch.where(finite, flat, low)
    span = torch.where(valid, high - low, torch.ones_like(high))
    out = torch.where(valid, (flat - low) / span, torch.zeros_like(flat))
    return out.reshape(maps.shape)


def class_activation_maps(
    features: torch.Tensor,
    class_weights: torch.Tensor,
    class_indices: torch.Tensor,
    out_hw: tuple[int, int] | None = None,
    *,
    normalize: bool = True,
    relu: bool = False,
) -> torch.Tensor:
    """CAMs of chosen classes for a batch, in one pass.

    Args:
        features: Last conv feature map ``(N, C, h, w)`` (before global average pooling).
        class_weights: The linear classifier's weight ``(K, C)``.
        class_indices: ``(N,)`` or ``(N, M)`` class indices per image, e.g.
            ``torch.stack([pred, gt], 1)``.
        out_hw: Size to upsample to (bilinear, ``align_corners=False``); ``None`` keeps
            ``(h, w)``.
        normalize: Min-max normalize each map (:func:`minmax_normalize`).
        relu: Clamp negative evidence to 0 before upsampling (as Grad-CAM does).

    Returns:
        ``(N, H, W)`` for 1-D ``class_indices``, else ``(N, M, H, W)``.
    """
    if features.ndim != 4:
        raise ValueError(f"features must be (N, C, h, w); got shape {tuple(features.shape)}")
    if class_weights.ndim != 2 or class_weights.shape[1] != features.shape[1]:
        raise ValueError(
            f"class weights must be (num_classes, {features.shape[1]}) to match the feature "
            f"channels; got shape {tuple(class_weights.shape)}"
        )
    squeeze = class_indices.ndim == 1
    indices = class_indices.long().reshape(features.shape[0], -1)
    weights = class_weights[indices]  # (N, M, C)
    cams = torch.einsum("nmc,nchw->nmhw", weights.to(features.dtype), features)
    if relu:
        cams = cams.clamp_min(0)
    if out_hw is not None and tuple(out_hw) != tuple(cams.shape[-2:]):
        cams = F.interpolate(cams, size=tuple(out_hw), mode="bilinear", align_corners=False)
    if normalize:
        cams = minmax_normalize(cams)
    return cams[:, 0] if squeeze else cams


def grad_cam_maps(
    model: torch.nn.Module,
    target_layer: torch.nn.Module,
    inputs: torch.Tensor,
    class_indices: torch.Tensor,
    reshape_transform: Callable | None = None,
) -> torch.Tensor:
    """Grad-CAM maps (pytorch-grad-cam) of chosen classes, normalized to [0, 1].

    One forward/backward per column of ``class_indices`` (e.g. predicted, ground truth), each
    over the whole batch. Gradients are enabled even inside ``torch.no_grad()``; the model is
    put in eval mode (pytorch-grad-cam does so) and restored afterwards.

    Args:
        model: Maps ``inputs`` to logits ``(N, K)``.
        target_layer: The module whose output is the feature map (usually the last conv stage).
        inputs: ``(N, 3, H, W)`` network inputs.
        class_indices: ``(N,)`` or ``(N, M)`` class indices.
        reshape_transform: Passed to pytorch-grad-cam (for non-CNN feature layouts).

    Returns:
        ``(N, H, W)`` or ``(N, M, H, W)`` float tensor on ``inputs``' device.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    squeeze = class_indices.ndim == 1
    indices = class_indices.long().reshape(inputs.shape[0], -1).cpu()
    was_training = model.training
    columns = []
    try:
        with torch.enable_grad(), GradCAM(model, [target_layer], reshape_transform) as grad_cam:
            for column in indices.T:
                targets = [ClassifierOutputTarget(int(k)) for k in column]
                columns.append(torch.from_numpy(grad_cam(input_tensor=inputs, targets=targets)))
    finally:
        model.train(was_training)
    maps = minmax_normalize(torch.stack(columns, dim=1)).to(inputs.device)
    return maps[:, 0] if squeeze else maps
