# CUB-200-2011 for WSOL at 224x224 (wsolevaluation's protocol: train resize 256 + random
# crop 224 + flip; test resize to 224x224, boxes rescaled with the image).
_base_ = ['./tiny_imagenet_64px.py']
dataset_type = 'CUBWSOL'
data_root = 'data/CUB_200_2011'
data_preprocessor = dict(num_classes=200)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='RandomCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                                       'scale_factor', 'gt_bboxes')),
]
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
