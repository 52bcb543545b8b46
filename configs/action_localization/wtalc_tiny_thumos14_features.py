# CPU-sized localizer for the generated 64-D THUMOS14 features (`hasbench synth
# thumos14-features`): a 64-wide embedding, shorter training sequences, a larger step size.
# Tuned on the generated data: 30 epochs of the 200 validation videos (750 iterations); HaS
# needs them (at 12 epochs it still trails the baseline at tIoU 0.1).
_base_ = ['./wtalc_thumos14_features.py']
feature_dim = 64
train_snippets = 256
model = dict(feature_dim=feature_dim, hidden_dim=64, dropout=0.5)
train_dataloader = dict(batch_size=8)
auto_scale_lr = dict(enable=False, base_batch_size=8)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=3e-3, weight_decay=5e-4))
train_cfg = dict(max_epochs=30, val_interval=10)
