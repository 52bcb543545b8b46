_base_ = [
    './_base_/models/googlenet_gap.py',
    './_base_/datasets/cub_224px.py',
    'mmpretrain::_base_/schedules/cub_bs64.py',
    'mmpretrain::_base_/default_runtime.py',
]
