# mmseg's default runtime and 20k-iteration schedule, made epoch-based: hasbench sizes runs in
# epochs (RunSpec.epochs, set by benchmark.engine.mmrun). Same SGD and poly LR as upstream, the LR now
# decays per iteration over the whole run; validation and checkpoints every epoch.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py',
]
max_epochs = 50
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(log_metric_by_epoch=True),
    checkpoint=dict(by_epoch=True, interval=1))
log_processor = dict(by_epoch=True)
