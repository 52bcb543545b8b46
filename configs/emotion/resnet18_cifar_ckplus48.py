# ResNet-18 (CIFAR stem: 3x3 conv, no max-pool) on CK+48 48x48 grey faces, one fold of the
# subject-exclusive cross-validation. mmpretrain's own model, schedule and runtime; the task
# sets data_root, fold, the training images' mean/std and the method's stage.
# Faces are aligned crops: the baseline pipeline only flips (no crop, no rotation).
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['benchmark.pipelines', 'tasks._faces.mm'],
                      allow_failed_imports=False)
num_classes = 7
model = dict(head=dict(num_classes=num_classes))
# Grey repeated into 3 channels; mean/std are replaced by the training images' own.
data_preprocessor = dict(num_classes=num_classes, mean=[128.0] * 3, std=[64.0] * 3,
                         to_rgb=False)
train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]
dataset_type = 'CKPlus48Folds'
fold_args = dict(data_root='', fold=0, num_folds=10, fold_seed=0)
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    dataset=dict(type=dataset_type, split='train', pipeline=train_pipeline, **fold_args),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(type=dataset_type, split='test', pipeline=test_pipeline, **fold_args),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
