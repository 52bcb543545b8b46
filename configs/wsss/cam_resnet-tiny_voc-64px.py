# The CPU classifier of the WSSS seeds: mmpretrain's ResNet_CIFAR-18 (3x3 stem, no max-pool) at
# 1/4 width (16 base channels), stages strided (2, 2, 2, 1) for an 8x8 CAM at 64x64; GAP +
# mmpretrain's MultiLabelLinearClsHead (one linear layer, sigmoid BCE), so CAMs are defined.
# mmpretrain's CIFAR schedule (SGD 0.1, steps at 1/2 and 3/4 of the epochs).
_base_ = [
    './_base_/voc_image_labels_64px.py',
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(stem_channels=16, base_channels=16, strides=(2, 2, 2, 1)),
    head=dict(_delete_=True, type='MultiLabelLinearClsHead', num_classes=20, in_channels=128,
              loss=dict(type='CrossEntropyLoss', use_sigmoid=True)),
)
# the stage-3 segmenter trained on this classifier's pseudo masks (configs/wsss/)
seg_config = 'fcn_r18-tiny-d8_pseudo-96x96.py'
