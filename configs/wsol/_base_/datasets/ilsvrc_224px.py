# ILSVRC CLS-LOC for WSOL at 224x224 (train class folders; val images + XML boxes + val.txt).
_base_ = ['./cub_224px.py']
dataset_type = 'ILSVRCWSOL'
data_root = 'data/ILSVRC'
data_preprocessor = dict(num_classes=1000)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='val'))
test_dataloader = val_dataloader
