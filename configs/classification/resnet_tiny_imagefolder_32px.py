# The narrow CPU ResNet on 32x32 image folders.
_base_ = './resnet18_imagefolder_32px.py'
model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    head=dict(in_channels=128),
)
