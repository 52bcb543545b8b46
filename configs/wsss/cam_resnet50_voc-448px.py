# The paper-scale classifier of the WSSS seeds, as IRN (Ahn, Cho & Kwak, CVPR 2019) trains its
# CAM network: mmpretrain's ResNet-50 with the last stage at stride 1 (output stride 16, a 28x28
# CAM at 448x448), GAP + MultiLabelLinearClsHead (sigmoid BCE), ImageNet weights (--pretrained
# resnet50-0676ba61.pth), SGD 0.01 with the new head at 10x (IRN: 0.1 head / 0.01 backbone),
# poly decay, batch 16. Input 448x448 (IRN: random rescale + 512 crop).
_base_ = [
    './_base_/voc_image_labels_64px.py',
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/default_runtime.py',
]
input_hw = (448, 448)
model = dict(
    backbone=dict(strides=(1, 2, 2, 1)),
    head=dict(_delete_=True, type='MultiLabelLinearClsHead', num_classes=20, in_channels=2048,
              loss=dict(type='CrossEntropyLoss', use_sigmoid=True)),
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(448, 448)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(448, 448)),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0)}))
max_epochs = 5
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_epochs,
                        by_epoch=True, convert_to_iter_based=True)]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
seg_config = 'deeplabv3_r50-d8_pseudo-512x512.py'
