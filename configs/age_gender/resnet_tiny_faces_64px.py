# The CPU-sized variant: mmpretrain's ResNet-18 at quarter width (16 base channels), same
# head, data, schedule and runtime as resnet18_faces_64px.py.
_base_ = './resnet18_faces_64px.py'
model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    head=dict(in_channels=128),
)
