# A small ResNet-18 for CPU runs on 64x64 inputs: mmpretrain's ResNet_CIFAR (3x3 stem, no
# max-pool) at 1/4 width (16 base channels), stages strided (2, 2, 2, 1) so the CAM is 8x8 at
# 64x64 (stride 8).
_base_ = ['mmpretrain::_base_/models/resnet18_cifar.py']
model = dict(
    type='WSOLClassifier',
    backbone=dict(stem_channels=16, base_channels=16, strides=(2, 2, 2, 1)),
    head=dict(in_channels=128),
)
