# fcn R50-D8 on VOC 2012 train + SBD aug: mmseg's fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py
# rebuilt from the same mmseg bases, with the schedule in epochs and no pretrained weights
# (no downloads).
_base_ = [
    'mmseg::_base_/models/fcn_r50-d8.py', 'mmseg::_base_/datasets/pascal_voc12_aug.py',
    './_base_/schedule_epochs.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))
