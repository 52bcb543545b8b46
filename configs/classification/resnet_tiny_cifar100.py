# The narrow CPU ResNet (16 base channels) on CIFAR-100: same recipe as resnet18_cifar100.py.
_base_ = './resnet18_cifar100.py'
model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    head=dict(in_channels=128),
)
