# ResNet-18 (CIFAR stem) on FER2013 48x48 grey faces (fer2013.csv or train|test folders):
# Training -> train, PublicTest -> val, PrivateTest -> test. Same model, pipelines, schedule
# and runtime as the CK+48 config; only the datasets differ.
_base_ = './resnet18_cifar_ckplus48.py'
train_dataloader = dict(dataset=dict(_delete_=True, type='FER2013Faces', data_root='',
                                     split='train', pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(dataset=dict(_delete_=True, type='FER2013Faces', data_root='',
                                   split='val', pipeline={{_base_.test_pipeline}}))
test_dataloader = dict(dataset=dict(_delete_=True, type='FER2013Faces', data_root='',
                                    split='test', pipeline={{_base_.test_pipeline}}))
