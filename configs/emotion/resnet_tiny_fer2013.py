# The CPU-sized ResNet-18 (see resnet_tiny_ckplus48.py) on FER2013.
_base_ = './resnet18_cifar_fer2013.py'
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, stem_channels=16, base_channels=16,
                  num_stages=4, out_indices=(3, ), style='pytorch'),
    head=dict(in_channels=128),
)
