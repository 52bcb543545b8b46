# AlexNet-GAP (the HaS paper's AlexNet variant, as CAM's released AlexNet+-CAM): torchvision's
# AlexNet conv1-conv5, pool5 kept as a 3x3 max-pool with stride 1, two added conv3x3(512) +
# ReLU, GAP, linear (see tasks/wsol/models.py for the sources). Map: 11x11 at 224 px. For the
# CAM paper text's variant use backbone=dict(extra_channels=(1024, ), pool5_stride=None) and
# head in_channels=1024 (13x13 at 224 px). Random weights (no downloads); torchvision model-zoo
# weights map onto `backbone.` by key prefix (load them with init_cfg=None or a Pretrained one).
# Init: Kaiming normal (fan_out, ReLU; bias 0) for every conv, as torchvision's VGG. AlexNet
# has no BatchNorm, and with PyTorch's default conv init it stayed at chance loss (ln 5) for 60
# iterations on generated 5-class data at lr 0.01 and at 0.1; with this init it learned.
model = dict(
    type='WSOLClassifier',
    backbone=dict(type='AlexNetGAP', extra_channels=(512, 512), pool5_stride=1,
                  init_cfg=dict(type='Kaiming', layer='Conv2d')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )),
)
