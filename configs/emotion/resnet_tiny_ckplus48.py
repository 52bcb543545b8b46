# A CPU-sized ResNet-18 for 48x48 faces: mmpretrain's ImageNet ResNet-18 (7x7/2 stem + max-pool,
# 48 -> 12 pixels before stage 1) at quarter width. Same data, schedule and runtime as the
# ResNet-18 (CIFAR stem) config.
_base_ = './resnet18_cifar_ckplus48.py'
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, stem_channels=16, base_channels=16,
                  num_stages=4, out_indices=(3, ), style='pytorch'),
    head=dict(in_channels=128),
)
