_base_ = [
    './_base_/models/alexnet_gap.py',
    './_base_/datasets/wsoleval_224px.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
# lr 0.01 as in HaS train.lua's first regime (and torchvision's AlexNet recipe): without
# BatchNorm, AlexNet needs a smaller lr than the schedule's 0.1.
optim_wrapper = dict(optimizer=dict(lr=0.01))
