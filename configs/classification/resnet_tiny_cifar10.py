# A narrow ResNet-18 (CIFAR stem, 16 base channels) for CPU runs: same recipe, 1/16 the FLOPs.
_base_ = './resnet18_cifar10.py'
model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    head=dict(in_channels=128),
)
