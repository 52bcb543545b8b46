# CamVid as released with SegNet (480x360; 11 classes, 11 = void -> ignore 255), written in the
# shape of mmseg's own dataset configs (mmseg 1.2.2 ships none for CamVid).
custom_imports = dict(imports=['tasks.segmentation.datasets'], allow_failed_imports=False)
dataset_type = 'CamVidDataset'
data_root = 'data/CamVid'
img_scale = (480, 360)  # (w, h), the release's size
crop_size = (360, 480)  # (h, w)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # labels are loaded after Resize: metrics are computed at the original resolution
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='val.txt', pipeline=test_pipeline))
test_dataloader = dict(val_dataloader, dataset=dict(val_dataloader['dataset'], ann_file='test.txt'))
train_dataloader = dict(
    val_dataloader,
    batch_size=4,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(val_dataloader['dataset'], ann_file='train.txt', pipeline=train_pipeline))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
