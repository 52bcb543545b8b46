# ResNet-18 (CIFAR stem) on 32x32 image folders (`{train,test}/<class>/*.jpg`), e.g. the
# JPEG re-encoding of CIFAR-10: mmpretrain's CustomDataset reads files in BGR, so the
# preprocessor flips to RGB before normalizing with the CIFAR mean/std.
_base_ = './resnet18_cifar10.py'
data_preprocessor = dict(to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(_delete_=True, type='CustomDataset', data_root='', data_prefix='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='CustomDataset', data_root='', data_prefix='test',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
