# Age (regression, years) and gender (2 classes) from one ResNet-18 with a two-branch head
# (AgeGenderHead: linear age regression + linear gender classifier on the pooled features),
# on face crops resized to 64 px. mmpretrain's own ResNet-18 model, ImageNet schedule and
# runtime; the task sets the dataset source/root/split, the head's age offset/scale (from the
# training ages) and the method's stage. Aligned face crops: no random crop or rotation.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['benchmark.pipelines', 'tasks._faces.mm'],
                      allow_failed_imports=False)
image_px = 64
model = dict(
    head=dict(_delete_=True, type='AgeGenderHead', in_channels=512, num_genders=2,
              age_mean_years=35.0, age_scale_years=20.0, loss_type='smooth_l1',
              smooth_l1_beta_years=1.0, loss_weight=1.0,
              gender_loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
# ImageNet mean/std (RGB); images load as BGR and are flipped by the preprocessor.
data_preprocessor = dict(num_classes=2, mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=image_px, edge='short'),
    dict(type='CenterCrop', crop_size=image_px),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs', algorithm_keys=('gt_age', )),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=image_px, edge='short'),
    dict(type='CenterCrop', crop_size=image_px),
    dict(type='PackInputs', algorithm_keys=('gt_age', )),
]
source_args = dict(type='FaceAgeDataset', data_root='', source='utkface', split_seed=0,
                   test_fraction=0.2)
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    dataset=dict(split='train', pipeline=train_pipeline, **source_args),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(split='val', pipeline=test_pipeline, **source_args),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(split='test', pipeline=test_pipeline, **source_args),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
# Keys: 'mae' (years) and 'accuracy/top1' (gender, percent).
val_evaluator = [dict(type='MAE'), dict(type='Accuracy', topk=(1, ))]
test_evaluator = val_evaluator
