# Tiny ImageNet (64x64) in its original layout, for WSOL. Training sees labels only (no
# boxes are loaded for the train split); the val split carries `gt_bboxes`, which mmcv's
# Resize rescales with the image and PackInputs passes to WSOLMetric in the sample's meta.
dataset_type = 'TinyImageNetWSOL'
data_root = 'data/tiny-imagenet-200'
data_preprocessor = dict(
    num_classes=200,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,  # LoadImageFromFile reads BGR
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(72, 72)),
    dict(type='RandomCrop', crop_size=64),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64)),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                                       'scale_factor', 'gt_bboxes')),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=50,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='WSOLMetric')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
