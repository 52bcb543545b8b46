_base_ = [
    './_base_/models/googlenet_gap.py',
    './_base_/datasets/tiny_imagenet_64px.py',
    'mmpretrain::_base_/schedules/imagenet_bs256_coslr.py',
    'mmpretrain::_base_/default_runtime.py',
]
