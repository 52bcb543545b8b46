"""mmpretrain pieces for WSOL, registered in mmpretrain's registries on import.

* ``VGGGAP`` (``MODELS``): the VGG16-GAP / VGG16-CAM backbone of the CAM and HaS papers —
  mmpretrain's VGG16 convolutional layers without the last max-pool and without the FC stack,
  plus one 3x3 conv (1024 channels) + ReLU; followed in the configs by mmpretrain's
  ``GlobalAveragePooling`` neck and ``LinearClsHead``.
* ``AlexNetGAP``, ``GoogLeNetGAP`` (``MODELS``, from :mod:`tasks.wsol.models`): the HaS paper's
  AlexNet-GAP and GoogLeNet-GAP on torchvision's definitions.
* ``WSOLClassifier`` (``MODELS``): mmpretrain's ``ImageClassifier`` (training unchanged: labels
  only) whose ``predict`` also returns, per image, the maps of the predicted and of the
  ground-truth class (``cams``: ``(2, H, W)`` in [0, 1] at the network input's size). CAM for
  GAP (or GMP, ``pooling=gmp``) + ``LinearClsHead`` models, Grad-CAM (pytorch-grad-cam)
  otherwise.
* ``WSOLMetric`` (``METRICS``): Top-1 Cls, Top-1 Loc, GT-known Loc (paper protocol) and
  MaxBoxAccV2 (wsolevaluation), in percent, from those maps and the samples' ``gt_bboxes``
  (already in the network input's pixels, see :mod:`tasks.wsol.datasets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.models import ImageClassifier
from mmpretrain.models.backbones import VGG
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.models.necks import GlobalAveragePooling
from mmpretrain.registry import METRICS, MODELS
from torch import nn

import tasks.wsol.datasets  # noqa: F401  (registers the WSOL datasets)
from tasks.wsol import boxes as localization
from tasks.wsol import models as _models  # registers AlexNetGAP, GoogLeNetGAP, GlobalMaxPooling
from tasks.wsol.cam import class_activation_maps, grad_cam_maps


@MODELS.register_module()
class VGGGAP(VGG):
    """VGG16 conv layers (no last pool, no FC) + a 3x3 conv to ``extra_channels`` + ReLU.

    Args:
        depth: VGG depth (16 in the papers).
        extra_channels: Channels of the added conv (1024 in wsolevaluation's VGG16-CAM).
        **kwargs: Passed to mmpretrain's ``VGG`` (e.g. ``norm_cfg=dict(type='BN')``).
    """

    def __init__(self, depth: int = 16, extra_channels: int = 1024, **kwargs: Any):
        kwargs.setdefault("with_last_pool", False)
        super().__init__(depth, num_classes=-1, out_indices=(4,), **kwargs)
        self.extra = nn.Sequential(
            nn.Conv2d(512, extra_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        """The last feature map, ``(N, extra_channels, H/16, W/16)``, as a 1-tuple."""
        return (self.extra(super().forward(x)[-1]),)


class _Logits(nn.Module):
    """Adapter: ``inputs -> logits`` of an mmpretrain classifier (for pytorch-grad-cam)."""

    def __init__(self, classifier: ImageClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.classifier(inputs, mode="tensor")


@MODELS.register_module()
class WSOLClassifier(ImageClassifier):
    """An ``ImageClassifier`` whose predictions carry the predicted and GT classes' maps.

    Args:
        cam_method: ``"cam"`` (needs a ``GlobalAveragePooling`` or ``GlobalMaxPooling`` neck
            and a ``LinearClsHead``),
            ``"gradcam"``, or ``"auto"`` (CAM when the head allows it, else Grad-CAM).
        gradcam_layer: Dotted name of the module Grad-CAM hooks (default: the backbone's last
            residual stage ``backbone.layer4`` when it exists, else the backbone).
        **kwargs: Passed to ``ImageClassifier``.
    """

    def __init__(self, *args: Any, cam_method: str = "auto", gradcam_layer: str | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        if cam_method not in ("auto", "cam", "gradcam"):
            raise ValueError(f"cam_method must be 'auto', 'cam' or 'gradcam'; got {cam_method!r}")
        # CAM is exact for global average and max pooling alike (tasks.wsol.pooling).
        has_gap_head = isinstance(self.head, LinearClsHead) and isinstance(
            self.neck, GlobalAveragePooling | _models.GlobalMaxPooling)
        if cam_method == "cam" and not has_gap_head:
            raise ValueError(
                "cam_method='cam' needs a GlobalAveragePooling (or GlobalMaxPooling) neck and a "
                "LinearClsHead; use cam_method='gradcam' for this model"
            )
        self.cam_method = "cam" if cam_method == "auto" and has_gap_head else (
            "gradcam" if cam_method == "auto" else cam_method)
        self.gradcam_layer = gradcam_layer

    def _gradcam_target(self) -> nn.Module:
        if self.gradcam_layer:
            return self.get_submodule(self.gradcam_layer)
        return getattr(self.backbone, "layer4", self.backbone)

    def logits_and_cams(
        self, inputs: torch.Tensor, gt_labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(N, K)`` and maps ``(N, 2, H, W)`` of (predicted, GT) class per image.

        Without ``gt_labels`` the second map repeats the predicted class's.
        """
        if self.cam_method == "gradcam":
            with torch.no_grad():
                logits = self(inputs, mode="tensor")
            indices = self._pair(logits, gt_labels)
            return logits, grad_cam_maps(_Logits(self), self._gradcam_target(), inputs, indices)
        fmap = self.backbone(inputs)
        logits = self.head(self.neck(fmap))
        indices = self._pair(logits, gt_labels)
        cams = class_activation_maps(fmap[-1], self.head.fc.weight, indices, inputs.shape[-2:])
        return logits, cams

    @staticmethod
    def _pair(logits: torch.Tensor, gt_labels: torch.Tensor | None) -> torch.Tensor:
        pred = logits.argmax(dim=1)
        gt = pred if gt_labels is None else gt_labels.to(pred.device).view(-1)
        return torch.stack([pred, gt], dim=1)

    def predict(self, inputs: torch.Tensor, data_samples: Sequence | None = None, **kwargs: Any):
        """Predict as mmpretrain does, adding ``cams`` ``(2, H, W)`` per sample."""
        gt = None
        if data_samples is not None and all("gt_label" in s for s in data_samples):
            gt = torch.cat([s.gt_label.view(-1)[:1] for s in data_samples])
        logits, cams = self.logits_and_cams(inputs, gt)
        samples = self.head._get_predictions(logits, data_samples)
        for sample, maps in zip(samples, cams.detach(), strict=True):
            sample.set_field(maps, "cams")
        return samples


@METRICS.register_module()
class WSOLMetric(BaseMetric):
    """WSOL metrics (percent): ``top1_cls``, ``top1_loc``, ``gt_known_loc``, ``maxboxaccv2``.

    Also reports ``maxboxacc@0.3/0.5/0.7``. Each sample needs ``cams`` (from
    :class:`WSOLClassifier`), ``pred_label``, ``gt_label`` and ``gt_bboxes`` in the maps'
    pixel coordinates; see :mod:`tasks.wsol.boxes` for the protocols.

    Args:
        threshold_fraction: Paper-protocol CAM threshold (fraction of the max).
        iou_threshold: IoU for Top-1 / GT-known Loc.
        cam_curve_interval: MaxBoxAccV2 threshold spacing.
        maxbox_ious: MaxBoxAccV2's IoU thresholds.
    """

    default_prefix = "wsol"

    def __init__(self, threshold_fraction: float = localization.PAPER_THRESHOLD_FRACTION,
                 iou_threshold: float = localization.PAPER_IOU,
                 cam_curve_interval: float = localization.CAM_CURVE_INTERVAL,
                 maxbox_ious: Sequence[float] = localization.MAXBOXACC_IOUS, **kwargs: Any):
        super().__init__(**kwargs)
        self.threshold_fraction = threshold_fraction
        self.iou_threshold = iou_threshold
        self.thresholds = localization.cam_thresholds(cam_curve_interval)
        self.maxbox_ious = tuple(maxbox_ious)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Score each image; keep only its small per-image summary."""
        for sample in data_samples:
            if "gt_bboxes" not in sample:
                raise ValueError(
                    "WSOLMetric needs 'gt_bboxes' in each sample's meta: load an evaluation "
                    "split with boxes and add 'gt_bboxes' to PackInputs' meta_keys"
                )
            cams = sample["cams"].float().cpu().numpy()
            self.results.append(localization.score_image(
                cams[0], cams[1], int(sample["pred_label"].view(-1)[0]),
                int(sample["gt_label"].view(-1)[0]), np.asarray(sample["gt_bboxes"]),
                threshold_fraction=self.threshold_fraction, thresholds=self.thresholds,
            ))

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Aggregate the per-image summaries."""
        return localization.summarize(results, iou_threshold=self.iou_threshold,
                                      maxbox_ious=self.maxbox_ious)
