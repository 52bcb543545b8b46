# ResNet-18 (CIFAR stem) on CIFAR-100: mmpretrain's own model, data, schedule and runtime.
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['benchmark.pipelines', 'tasks.classification.datasets'],
                      allow_failed_imports=False)
model = dict(head=dict(num_classes=100))
train_dataloader = dict(dataset=dict(download=False))
val_dataloader = dict(dataset=dict(download=False))
test_dataloader = dict(dataset=dict(download=False))
