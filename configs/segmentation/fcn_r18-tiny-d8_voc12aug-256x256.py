# The CPU variant on VOC 2012 train + SBD aug: fcn_r18-tiny-d8_voc12-256x256.py (model, scale,
# learning rate, pipelines) trained on mmseg's two VOC datasets, as fcn_r50-d8_voc12aug-512x512.py.
_base_ = './fcn_r18-tiny-d8_voc12-256x256.py'
crop_size = (256, 256)
# ConcatDataset's list does not merge under inheritance: the base's train pipeline, restated.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(1024, 256), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Pad', size=crop_size),
    dict(type='PackSegInputs')
]
voc_datasets = [
    dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012',
         data_prefix=dict(img_path='JPEGImages', seg_map_path=seg_maps),
         ann_file=f'ImageSets/Segmentation/{split}.txt', pipeline=train_pipeline)
    for seg_maps, split in (('SegmentationClass', 'train'), ('SegmentationClassAug', 'aug'))
]
train_dataloader = dict(dataset=dict(_delete_=True, type='ConcatDataset', datasets=voc_datasets))
