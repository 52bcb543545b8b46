# I3D ResNet-50 video recognition (mmaction2's own Kinetics-400 recipe: model, pipeline,
# schedule, runtime) on any dataset in mmaction2's video-list layout (videos + "path label"
# list files), e.g. UCF101 or Kinetics. For clusters. Random init: hasbench downloads nothing.
# The task fills in data_root / ann_file / num_classes; methods insert their stage before
# FormatShape in the training pipeline only.
_base_ = ['mmaction::recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py']
custom_imports = dict(imports=['benchmark.pipelines'],
                      allow_failed_imports=False)
model = dict(backbone=dict(pretrained=None, pretrained2d=False))
