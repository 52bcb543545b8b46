# PASCAL VOC 2012 (mmseg's layout) as a multi-label classification set for the WSSS classifier:
# each image's labels are the classes of its segmentation mask (tasks.wsss.datasets). The code
# sets data_root (the VOC2012 folder), the list file and the mask folder of each split. The
# pipelines are mmpretrain's VOC ones (voc_bs16.py) at 64x64: train resize 72 + random crop 64
# + flip, test resize to 64x64.
custom_imports = dict(imports=['tasks.wsss.datasets'], allow_failed_imports=False)
dataset_type = 'VOCImageLabels'
data_root = 'data/VOCdevkit/VOC2012'
input_hw = (64, 64)  # the classifier's input (h, w), also the size CAMs are computed at
data_preprocessor = dict(
    num_classes=20,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,  # LoadImageFromFile reads BGR
    to_onehot=True,  # multi-label targets for the sigmoid BCE
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
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='ImageSets/Segmentation/aug.txt', mask_dir='SegmentationClassAug',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='ImageSets/Segmentation/val.txt', mask_dir='SegmentationClass',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='AveragePrecision')  # mAP over the 20 classes, percent
test_dataloader = val_dataloader
test_evaluator = val_evaluator
