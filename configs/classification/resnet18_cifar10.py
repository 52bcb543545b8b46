# ResNet-18 (CIFAR stem) on CIFAR-10: mmpretrain's own model, data, schedule and runtime.
# hasbench only adds its stages' registration and never downloads data.
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['benchmark.pipelines', 'tasks.classification.datasets'],
                      allow_failed_imports=False)
train_dataloader = dict(dataset=dict(download=False))
val_dataloader = dict(dataset=dict(download=False))
test_dataloader = dict(dataset=dict(download=False))
