_base_ = [
    './_base_/models/googlenet_gap.py',
    './_base_/datasets/wsoleval_224px.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
