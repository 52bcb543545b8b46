# Any dataset described by wsolevaluation metadata (<root>/metadata/{train,test}/*.txt), 224x224.
_base_ = ['./cub_224px.py']
dataset_type = 'WSOLEvalDataset'
data_root = 'data/wsoleval'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = val_dataloader
