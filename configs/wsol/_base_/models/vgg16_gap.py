# VGG16-GAP (the CAM / HaS papers' VGG16 variant): VGG16 conv layers without the last pool and
# the FC stack, + conv3x3(1024) + ReLU, GAP, linear. BatchNorm is on because the models start
# from random weights here (no ImageNet pretraining offline); set norm_cfg=None for the plain one.
_base_ = ['mmpretrain::_base_/models/vgg16.py']
model = dict(
    type='WSOLClassifier',
    backbone=dict(_delete_=True, type='VGGGAP', depth=16, extra_channels=1024,
                  norm_cfg=dict(type='BN')),
    neck=dict(_delete_=True, type='GlobalAveragePooling'),
    head=dict(_delete_=True, type='LinearClsHead', num_classes=1000, in_channels=1024,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )),
)
