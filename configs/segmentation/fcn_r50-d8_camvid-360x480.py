# fcn R50-D8 on CamVid (SegNet release, 360x480 crops): mmseg's own model config, the CamVid
# dataset config in mmseg's shape, the schedule in epochs, no pretrained weights.
_base_ = [
    'mmseg::_base_/models/fcn_r50-d8.py', './_base_/camvid_360x480.py',
    './_base_/schedule_epochs.py'
]
crop_size = (360, 480)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    decode_head=dict(num_classes=11),
    auxiliary_head=dict(num_classes=11))
