"""The HaS paper's WSOL networks, AlexNet-GAP and GoogLeNet-GAP, on torchvision's definitions.

Both are registered in mmpretrain's ``MODELS`` (``AlexNetGAP``, ``GoogLeNetGAP``) and return, as
:class:`tasks.wsol.mm.VGGGAP` does, a 1-tuple with their last feature map; the configs follow
them with mmpretrain's ``GlobalAveragePooling`` neck and ``LinearClsHead`` (GAP + softmax), so
:class:`tasks.wsol.mm.WSOLClassifier` computes exact CAMs. :class:`GlobalMaxPooling` (also in
``MODELS``) replaces that neck under the run option ``pooling=gmp`` (:mod:`tasks.wsol.pooling`).

Sources of the surgery:

* CAM paper (Zhou et al., CVPR 2016, "Learning Deep Features for Discriminative Localization",
  Sec. 2-3): remove AlexNet's layers after conv5 (pool5 to prob), GoogLeNet's after inception4e
  (pool4 to prob); add a 3x3 conv (stride 1, pad 1, 1024 units), GAP and softmax.
* CAM's released models (github.com/metalbubble/CAM): ``models/train_val_googlenetCAM.prototxt``
  adds ``CAM_conv`` (3x3, pad 1, 1024, ``group: 2``) + ``CAM_relu`` after
  ``inception_4e/output``, no auxiliary classifiers. Its AlexNet model,
  ``models/deploy_alexnetplusCAM_imagenet.prototxt`` ("AlexNet+-CAM"), is *not* the paper
  text's: it keeps pool5 as a 3x3 max-pool with **stride 1** (13x13 -> 11x11 at 227 px) and adds
  **two** 3x3 convs of **512** channels, each with a ReLU (conv6, conv7), before the GAP.
* HaS (Singh & Lee, ICCV 2017): its code (github.com/kkanshul/Hide-and-Seek: ``README.md``,
  ``train.lua``, ``opts.lua``, ``hide_patch.py``) holds no network definition — ``opts.lua``
  only picks a ``-netType`` of soumith/imagenet-multiGPU.torch (default ``alexnetowtbn``) and the
  README points to CAM's code for the maps. The HaS paper's implementation details (Sec. 4.1)
  describe AlexNet-GAP as AlexNet up to pool5 *with stride 1* followed by two new 3x3 convs of
  512 kernels (stride 1, pad 1), and GoogLeNet-GAP as GoogLeNet up to inception4e plus one 3x3
  conv of 1024 kernels — i.e. CAM's released AlexNet+-CAM and GoogLeNet-CAM. (That passage
  could not be re-read offline here; the AlexNet+-CAM prototxt above states the same layers.)

:class:`AlexNetGAP` therefore defaults to the HaS variant (``pool5_stride=1``,
``extra_channels=(512, 512)``); ``pool5_stride=None, extra_channels=(1024,)`` gives the CAM
paper text's AlexNet-GAP (13x13 map at 224 px). Every added conv is followed by a ReLU (as in
all of CAM's prototxts). Differences from the Caffe networks, inherited from torchvision:
torchvision's AlexNet is the "one weird trick" variant (conv widths 64/192/384/256/256, no LRN,
no grouped convs — the widths of HaS's default ``alexnetowtbn``, without its BatchNorm);
torchvision's GoogLeNet has BatchNorm in every ``BasicConv2d``.

Module names keep torchvision's, so a torchvision model-zoo state dict (e.g.
``alexnet-owt-7be5be79.pth``, ``googlenet-1378be20.pth``) maps onto ``backbone.`` by prefix
(``features.0.weight`` -> ``backbone.features.0.weight``, ``inception4e.branch1.conv.weight``
-> ``backbone.inception4e.branch1.conv.weight``); its keys the surgery drops are
``classifier.*`` (AlexNet) and ``inception5*``, ``aux1/aux2``, ``fc`` (GoogLeNet). Every added
layer lives under ``backbone.extra.`` (randomly initialized, never in a torchvision file).
Nothing is downloaded: the torchvision models are built with ``weights=None``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchvision
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS
from torch import nn

#: GoogLeNet's layers the surgery keeps (torchvision attribute names), in forward order.
GOOGLENET_KEPT = ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b",
                  "maxpool3", "inception4a", "inception4b", "inception4c", "inception4d",
                  "inception4e")
#: Index of AlexNet's pool5 in torchvision's ``features`` (conv5's ReLU is index 11).
ALEXNET_POOL5 = 12


class _ScaledInputBackbone(BaseBackbone):
    """A backbone that may first resize its input bilinearly by ``input_scale``.

    Args:
        input_scale: Factor (> 0) applied to the input's height and width before the first
            layer; 1 leaves the input as it is. The CAM is still computed at the network
            input's size (the classifier resizes the map to it), so boxes stay in the input's
            pixels.
        init_cfg: mmengine initialization config (default: torchvision's initialization for
            the kept layers, PyTorch's for the added ones).

    Raises:
        ValueError: when ``input_scale`` is not a positive number.
    """

    def __init__(self, input_scale: float = 1.0, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if isinstance(input_scale, bool) or not isinstance(input_scale, int | float) or not (
                input_scale > 0):
            raise ValueError(f"input_scale must be a positive number; got {input_scale!r}")
        self.input_scale = float(input_scale)

    def train(self, mode: bool = True) -> _ScaledInputBackbone:
        """Set training mode; returns the module (mmpretrain's ``BaseBackbone`` returns None)."""
        super().train(mode)
        return self

    def _scaled(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_scale == 1.0:
            return x
        return F.interpolate(x, scale_factor=self.input_scale, mode="bilinear",
                             align_corners=False)


def _conv_relu_stack(in_channels: int, channels: Sequence[int], groups: int = 1) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for out_channels in channels:
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1,
                             groups=groups), nn.ReLU(inplace=True)]
        in_channels = out_channels
    return layers


def _positive_ints(name: str, values: Sequence[int]) -> tuple[int, ...]:
    values = (values,) if isinstance(values, int) else tuple(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{name} must be one or more positive ints; got {values!r}")
    return values


@MODELS.register_module()
class AlexNetGAP(_ScaledInputBackbone):
    """AlexNet-GAP: torchvision's AlexNet conv1-conv5 (+ReLU), [pool5], added 3x3 convs + ReLU.

    Default (HaS paper / CAM's AlexNet+-CAM, see the module docstring): torchvision's
    ``features[:12]`` (conv1 ... relu5, names unchanged), then under ``extra``: pool5 as a 3x3
    max-pool with stride 1, conv 3x3 (256 -> 512) + ReLU, conv 3x3 (512 -> 512) + ReLU.
    ``pool5_stride=None, extra_channels=(1024,)`` is the CAM paper text's variant (no pool5,
    one 1024-channel conv).

    Feature map (torchvision's conv1 is 11x11, stride 4, pad 2; output stride 16 before pool5):
    at 224 px, conv5 gives 13x13, so the default map is 11x11 and the no-pool5 one 13x13; at
    64 px conv5 gives 3x3, so the default map collapses to 1x1 (3x3 without pool5). The
    64-px configs therefore set ``input_scale=2`` (the network sees the image bilinearly
    upsampled to 128 px: conv5 7x7, map 5x5).

    Args:
        extra_channels: Output channels of each added 3x3 conv (stride 1, pad 1, + ReLU).
        pool5_stride: Stride of the kept 3x3 pool5 max-pool (1 in HaS); ``None`` removes pool5.
        input_scale: See :class:`_ScaledInputBackbone`.
        init_cfg: mmengine initialization config. ``None`` keeps torchvision's (PyTorch's
            default) conv init; the configs use ``dict(type='Kaiming', layer='Conv2d')``
            (fan_out, ReLU), without which this BatchNorm-free network did not leave chance
            loss in short runs from scratch.

    Raises:
        ValueError: on non-positive channel counts, strides or scales.
    """

    def __init__(self, extra_channels: Sequence[int] = (512, 512), pool5_stride: int | None = 1,
                 input_scale: float = 1.0, init_cfg: dict | list | None = None):
        super().__init__(input_scale, init_cfg)
        self.extra_channels = _positive_ints("extra_channels", extra_channels)
        if pool5_stride is not None and (isinstance(pool5_stride, bool) or not isinstance(
                pool5_stride, int) or pool5_stride < 1):
            raise ValueError(f"pool5_stride must be a positive int or None; got {pool5_stride!r}")
        alexnet = torchvision.models.alexnet(weights=None)
        self.features = alexnet.features[:ALEXNET_POOL5]  # conv1 ... relu5, keys '0'..'11'
        pool5 = [] if pool5_stride is None else [nn.MaxPool2d(kernel_size=3, stride=pool5_stride)]
        conv5_channels = self.features[10].out_channels
        self.extra = nn.Sequential(*pool5, *_conv_relu_stack(conv5_channels, self.extra_channels))
        self.out_channels = self.extra_channels[-1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        """The last feature map, ``(N, extra_channels[-1], h, w)``, as a 1-tuple."""
        return (self.extra(self.features(self._scaled(x))),)


@MODELS.register_module()
class GoogLeNetGAP(_ScaledInputBackbone):
    """GoogLeNet-GAP: torchvision's GoogLeNet conv1 ... inception4e, an added 3x3 conv + ReLU.

    The kept layers are torchvision's modules under their own names (``conv1``, ``maxpool1``,
    ``conv2``, ``conv3``, ``maxpool2``, ``inception3a/3b``, ``maxpool3``, ``inception4a``-``4e``;
    ``BasicConv2d`` = conv + BatchNorm + ReLU); dropped: ``maxpool4``, ``inception5a/5b``, the
    average pool, dropout, ``fc`` and the auxiliary classifiers (``aux_logits=False``). Added,
    under ``extra``: conv 3x3, stride 1, pad 1, 832 -> ``extra_channels`` (1024) + ReLU (CAM's
    ``CAM_conv`` / ``CAM_relu``; its prototxt uses ``group: 2``, set ``extra_groups=2`` for it).

    No ``transform_input``: inputs are normalized by the data preprocessor (the configs' ImageNet
    mean/std). torchvision's ported GoogLeNet weights expect torchvision's ``transform_input``
    scaling, ``(pixel - 127.5) / 127.5`` per channel; a config loading them should set the
    preprocessor's ``mean`` and ``std`` to 127.5.

    Feature map (output stride 16; the three max-pools use ``ceil_mode``): 14x14 at 224 px,
    4x4 at 64 px (as VGG16-GAP's at 64 px).

    Args:
        extra_channels: Output channels of the added conv (1024 in CAM and HaS).
        extra_groups: Groups of the added conv (1 as in the papers' text; CAM's prototxt: 2).
        input_scale: See :class:`_ScaledInputBackbone` (1 in every config).
        init_cfg: mmengine initialization config.

    Raises:
        ValueError: on non-positive channel counts, groups or scales, or channels that the
            groups do not divide.
    """

    def __init__(self, extra_channels: int = 1024, extra_groups: int = 1,
                 input_scale: float = 1.0, init_cfg: dict | list | None = None):
        super().__init__(input_scale, init_cfg)
        (extra_channels,) = _positive_ints("extra_channels", (extra_channels,))
        (extra_groups,) = _positive_ints("extra_groups", (extra_groups,))
        googlenet = torchvision.models.googlenet(weights=None, aux_logits=False,
                                                 transform_input=False, init_weights=True)
        for name in GOOGLENET_KEPT:
            setattr(self, name, getattr(googlenet, name))
        in_channels = 832  # inception4e: 256 + 320 + 128 + 128
        if in_channels % extra_groups or extra_channels % extra_groups:
            raise ValueError(f"extra_groups={extra_groups} must divide both {in_channels} input "
                             f"and extra_channels={extra_channels} output channels")
        self.extra = nn.Sequential(*_conv_relu_stack(in_channels, (extra_channels,),
                                                     groups=extra_groups))
        self.out_channels = extra_channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        """The last feature map, ``(N, extra_channels, h, w)``, as a 1-tuple."""
        x = self._scaled(x)
        for name in GOOGLENET_KEPT:
            x = getattr(self, name)(x)
        return (self.extra(x),)


@MODELS.register_module()
class GlobalMaxPooling(nn.Module):
    """Global max pooling neck: the ``pooling=gmp`` counterpart of ``GlobalAveragePooling``.

    Takes what mmpretrain's ``GlobalAveragePooling`` takes (a feature map or a tuple of them)
    and returns the same shapes: each ``(N, C, *spatial)`` map becomes ``(N, C)``, the maximum
    of each channel over its spatial positions (see :mod:`tasks.wsol.pooling`).

    Args:
        dim: Spatial dimensions of each map: 1, 2 (images) or 3.

    Raises:
        ValueError: for another ``dim``.
    """

    def __init__(self, dim: int = 2):
        super().__init__()
        if dim not in (1, 2, 3):
            raise ValueError(f"GlobalMaxPooling dim must be 1, 2 or 3; got {dim!r}")
        self.dim = dim

    def init_weights(self) -> None:
        """Nothing to initialize (mmpretrain calls it on every neck)."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != self.dim + 2:
            raise ValueError(f"GlobalMaxPooling(dim={self.dim}) needs (N, C) + {self.dim} "
                             f"spatial dims; got shape {tuple(x.shape)}")
        return x.flatten(2).amax(dim=2)

    def forward(self, inputs: torch.Tensor | tuple[torch.Tensor, ...]
                ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """``(N, C)`` per map, a tuple for a tuple."""
        if isinstance(inputs, tuple):
            return tuple(self._pool(x) for x in inputs)
        if isinstance(inputs, torch.Tensor):
            return self._pool(inputs)
        raise TypeError(f"neck inputs must be a tensor or a tuple of them; got {type(inputs)}")
