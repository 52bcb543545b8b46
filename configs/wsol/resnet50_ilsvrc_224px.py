_base_ = [
    './_base_/models/resnet50.py',
    './_base_/datasets/ilsvrc_224px.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
