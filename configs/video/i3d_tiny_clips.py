# A CPU-sized I3D: mmaction2's ResNet3d (I3D inflation) at depth 18, 8 base channels, 3 stages,
# no temporal downsampling (one Grad-CAM step per frame) and a 4x4 last stage, on 16-frame
# clips decoded by mmaction2's DecordInit/DecordDecode (decord needs widths >= 64) and resized
# to 32x32. Inherits the I3D recipe above; changes the backbone size, the clip size and the
# schedule. Measured: forward+backward of a batch of 8 clips ~0.3 s on one CPU thread.
_base_ = ['./i3d_r50_video_list.py']
clip_len = 16
side_px = 32
model = dict(
    backbone=dict(depth=18, base_channels=8, num_stages=3, out_indices=(2,),
                  spatial_strides=(1, 2, 1), temporal_strides=(1, 1, 1), dilations=(1, 1, 1),
                  conv1_kernel=(3, 7, 7), conv1_stride_t=1, pool1_stride_t=1, with_pool2=False,
                  inflate=((1, 1), (1, 0), (1, 0)), pretrained=None, pretrained2d=False),
    cls_head=dict(num_classes=4, in_channels=32, dropout_ratio=0.3))
train_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(side_px, side_px), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(side_px, side_px), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                       dataset=dict(pipeline=test_pipeline))
val_evaluator = dict(type='AccMetric', metric_list=('top_k_accuracy', 'mean_class_accuracy'),
                     metric_options=dict(top_k_accuracy=dict(topk=(1,))))
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=8, by_epoch=True, begin=0, end=8)]
train_cfg = dict(max_epochs=8, val_interval=4)
auto_scale_lr = dict(enable=False, base_batch_size=8)
