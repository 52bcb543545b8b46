# mmpretrain's ResNet-50 + GAP + linear, as a WSOLClassifier. As in wsolevaluation's
# ResNet50-CAM, the last stage keeps stride 1 so the CAM is 14x14 at 224 (not 7x7).
_base_ = ['mmpretrain::_base_/models/resnet50.py']
model = dict(
    type='WSOLClassifier',
    backbone=dict(strides=(1, 2, 2, 1)),
    head=dict(topk=(1, )),
)
