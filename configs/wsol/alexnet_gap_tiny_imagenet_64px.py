# AlexNet-GAP on 64x64 Tiny ImageNet. At 64 px torchvision's AlexNet conv5 map is 3x3 and the
# HaS pool5 (3x3, stride 1) leaves 1x1: no localization. The backbone therefore upsamples its
# (normalized) input 2x bilinearly, so the convs see 128 px and the map is 5x5. The pipeline,
# the HaS grid (scaled for 64 px) and the boxes stay at 64 px; the CAM is resized to 64x64.
# lr 0.01 as in HaS train.lua's first regime (and torchvision's AlexNet recipe): without
# BatchNorm, AlexNet needs a smaller lr than the schedule's 0.1.
_base_ = [
    './_base_/models/alexnet_gap.py',
    './_base_/datasets/tiny_imagenet_64px.py',
    'mmpretrain::_base_/schedules/imagenet_bs256_coslr.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(backbone=dict(input_scale=2.0))
optim_wrapper = dict(optimizer=dict(lr=0.01))
