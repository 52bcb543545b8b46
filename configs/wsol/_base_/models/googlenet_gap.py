# GoogLeNet-GAP (CAM / HaS papers): torchvision's GoogLeNet (BatchNorm in every BasicConv2d) up
# to inception4e, no auxiliary classifiers, no transform_input (the data preprocessor
# normalizes), + conv3x3(1024) + ReLU, GAP, linear. Map: 14x14 at 224 px, 4x4 at 64 px.
# Random weights (no downloads); torchvision model-zoo weights map onto `backbone.` by prefix.
model = dict(
    type='WSOLClassifier',
    backbone=dict(type='GoogLeNetGAP', extra_channels=1024),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )),
)
