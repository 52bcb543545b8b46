# SlowOnly ResNet-50 8x8 (mmaction2's own Kinetics-400 recipe) on a video-list dataset, random
# init. For clusters; see i3d_r50_video_list.py.
_base_ = ['mmaction::recognition/slowonly/slowonly_r50_8xb16-8x8x1-256e_kinetics400-rgb.py']
custom_imports = dict(imports=['benchmark.pipelines'],
                      allow_failed_imports=False)
model = dict(backbone=dict(pretrained=None))
