# ResNet-50 on ImageNet-style image folders: mmpretrain's own model, data, schedule, runtime.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['benchmark.pipelines'], allow_failed_imports=False)
