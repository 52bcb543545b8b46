# Stage 3 of WSSS at paper scale: the segmentation task's DeepLabV3 R50-D8 on VOC aug (mmseg's
# 512x512 recipe, schedule in epochs), trained on the pseudo masks. Its backbone is mmseg's
# plain ResNet-50 (7x7 stem) instead of ResNetV1c so that the run's one ImageNet file
# (torchvision's resnet50-0676ba61.pth, also the classifier's) initializes it.
_base_ = '../segmentation/deeplabv3_r50-d8_voc12aug-512x512.py'
model = dict(backbone=dict(type='ResNet'))
