# The CPU variant: FCN on a ResNetV1c-18 at a quarter of its width (16 base channels), CamVid
# at half resolution (240x180). Same heads, losses, pipeline and schedule as
# fcn_r50-d8_camvid-360x480.py; only the depth, widths, image scale
# and learning rate change.
_base_ = './fcn_r50-d8_camvid-360x480.py'
img_scale = (240, 180)  # (w, h)
crop_size = (180, 240)  # (h, w)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(depth=18, stem_channels=16, base_channels=16),
    decode_head=dict(in_channels=128, channels=32),
    auxiliary_head=dict(in_channels=64, channels=16))
# trained from scratch (no ImageNet weights here): a 5x higher LR than mmseg's fine-tuning 0.01
optim_wrapper = dict(optimizer=dict(lr=0.05))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
