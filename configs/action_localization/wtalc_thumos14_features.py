# Weakly-supervised temporal action localization on THUMOS14 snippet features (W-TALC/STPN
# style: T-CAM + attention, top-k MIL), with mmaction2's runtime. Trained with video-level
# labels of the validation subset, tested on the test subset (as everyone does).
# The task fills in ann_file / feature_dir / stats_file / feature_dim; methods insert their
# stage before PackSnippetInputs in the training pipeline only.
_base_ = ['mmaction::_base_/default_runtime.py']
custom_imports = dict(imports=['benchmark.pipelines', 'tasks.action_localization.mm'],
                      allow_failed_imports=False)

feature_dim = 2048  # I3D RGB+flow; the generated features use 64
num_classes = 20
train_snippets = 750  # resampling length of training sequences (W-TALC's max_seqlen)

# W-TALC's width (2048 -> 2048 embedding); configs/action_localization/wtalc_tiny_* is the
# CPU-sized variant for the generated 64-D features.
model = dict(type='WeakTemporalLocalizer', feature_dim=feature_dim, num_classes=num_classes,
             hidden_dim=2048, kernel_size=3, dropout=0.7, topk_divisor=8,
             attention_loss_weight=1.0, sparsity_weight=1e-3,
             cam_weighting='none')

# Dataset paths (ann_file, feature_dir), the timeline (stride_frames, feature_fps), the video
# subset (max_videos) and the statistics file are set by tasks/action_localization.py.
train_dataloader = dict(
    batch_size=10, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ThumosFeatureDataset', ann_file='thumos14.json', feature_dir='features',
                 subset='Validation', num_classes=num_classes,
                 pipeline=[dict(type='LoadSnippetFeatures'),
                           dict(type='SampleSnippets', num_snippets=train_snippets),
                           dict(type='PackSnippetInputs')]))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ThumosFeatureDataset', ann_file='thumos14.json', feature_dir='features',
                 subset='Test', num_classes=num_classes, test_mode=True,
                 pipeline=[dict(type='LoadSnippetFeatures'), dict(type='PackSnippetInputs')]))
test_dataloader = val_dataloader

# Detection settings (tasks.action_localization.temporal.detect_segments; T-CAM cut at 0.1..0.8 of its range).
val_evaluator = dict(type='TemporalDetectionMAP',
                     detection=dict(class_threshold=0.2, max_classes=3, nms_iou=0.5,
                                    video_score_weight=0.2))
test_evaluator = val_evaluator

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=500, val_begin=1, val_interval=50)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-4, weight_decay=5e-4))
param_scheduler = []
auto_scale_lr = dict(enable=False, base_batch_size=10)
