"""One short real run of each task family on a CUDA device, with and without ``--amp``.

Each case goes through the suite's own runner (``run_one``) on tiny generated data and a tiny
model: the record must be ok with finite metrics, every training forward pass must see the
model's parameters and its inputs on the asked device, autocast on (to the asked dtype) under
``--amp`` and off without it, and -- where HaS hides in the data preprocessor -- training
batches hidden and evaluation batches not. The CUDA cases are marked ``cuda`` (skipped without
a device; ``pytest -m cuda`` runs them); one CPU case (classification, bfloat16 autocast: the
CPU refuses float16) runs the same checks in the default run.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

FAMILIES = ("classification", "segmentation", "video", "action_localization", "reid")
#: HaS in the data preprocessor, on the model's device (where the task has that placement).
ON_DEVICE_HAS = (("has_placement", "preprocessor"),)


def cases():
    for family in FAMILIES:
        for amp in (None, "float16"):
            yield pytest.param(family, amp, "cuda", marks=pytest.mark.cuda,
                               id=f"{family}-{amp or 'fp32'}-cuda")
    yield pytest.param("classification", "bfloat16", "cpu", id="classification-bfloat16-cpu")


def spec_for(family: str, root: Path) -> RunSpec:
    """The tiniest run of ``family`` on the generated data at ``root``."""
    serial = (("num_workers", 0),)  # data loading in the main process (CUDA default: 4)
    if family == "classification":  # the CUDA default of 4 loader workers, as users run it
        return RunSpec("classification", method="has", dataset="cifar10", data_root=str(root),
                       model="resnet-tiny-cifar", epochs=1, synthetic=True,
                       options=(("batch_size", 16), *ON_DEVICE_HAS))
    if family == "segmentation":
        return RunSpec("segmentation", method="has", dataset="camvid", data_root=str(root),
                       model="fcn-r18-tiny", epochs=1, synthetic=True,
                       options=(("eval_images", 2), ("train_images", 4), *ON_DEVICE_HAS,
                                *serial))
    if family == "video":  # Grad-CAM of the trained model too (explain and saliency clips)
        return RunSpec("video", method="has", data_root=str(root), epochs=1, synthetic=True,
                       options=(("explain_clips", 1), ("saliency_clips", 1), *ON_DEVICE_HAS,
                                *serial))
    if family == "action_localization":  # HaS hides snippets in the pipeline here
        return RunSpec("action_localization", method="has", data_root=str(root), epochs=1,
                       synthetic=True, options=(("max_test_videos", 4), ("max_train_videos", 8),
                                                ("val_interval", 1), *serial))
    return RunSpec("reid", method="has", dataset="market1501", data_root=str(root),
                   model="osnet_x0_25", epochs=1, synthetic=True,
                   options=(("data.height", 64), ("data.width", 32), ("data.workers", 0),
                            ("test.batch_size", 64), ("train.batch_size", 8)))


def generate(family: str, root: Path) -> Path:
    """Write ``family``'s tiny generated dataset at ``root``."""
    if family == "classification":
        from tasks.classification.synth import write_cifar10_layout

        write_cifar10_layout(root, seed=0, train_per_class=12, test_per_class=6)
    elif family == "segmentation":
        from tasks.segmentation.synth import write_camvid_layout

        write_camvid_layout(root, seed=3, counts=(8, 4, 4))
    elif family == "video":
        from tasks.video.synth import write_video_clips

        write_video_clips(root, seed=0, train_per_class=3, val_per_class=2)
    elif family == "action_localization":
        from tasks.action_localization.synth import write_thumos14_features

        write_thumos14_features(root, seed=0, max_videos_per_subset=16)
    else:
        from tasks.reid.synth import write_reid_layout

        write_reid_layout(root, seed=0, num_train_ids=6, num_test_ids=5, images_per_id=4,
                          num_cameras=3, num_distractor_images=4, num_junk_images=3)
    return root


@pytest.fixture(scope="module")
def data_of(tmp_path_factory):
    """``data_of(family)``: the family's generated data, written once per module."""
    roots: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in roots:
            roots[family] = generate(family, tmp_path_factory.mktemp(f"{family}-synth"))
        return roots[family]

    return get


class ForwardSpy:
    """What each training forward pass saw: parameters' and inputs' devices, autocast."""

    def __init__(self, device: str):
        self.device_type = device
        self.seen: list[dict] = []
        self.optim_wrappers: set[str] = set()

    def record(self, module: torch.nn.Module, inputs) -> None:
        tensors = [t for t in _tensors(inputs) if t.is_floating_point()]
        enabled = torch.is_autocast_enabled(self.device_type)
        self.seen.append(dict(
            params={p.device.type for p in module.parameters()},
            inputs={t.device.type for t in tensors},
            autocast=torch.get_autocast_dtype(self.device_type) if enabled else None))

    def check(self, amp: str | None) -> None:
        assert self.seen, "no training forward pass seen"
        device = self.device_type
        assert all(s["params"] == {device} for s in self.seen), self.seen[0]["params"]
        assert all(s["inputs"] == {device} for s in self.seen), self.seen[0]["inputs"]
        want = getattr(torch, amp) if amp else None
        assert {s["autocast"] for s in self.seen} == {want}


def _tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = [value.get("inputs")]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    return []


def spy_on_training(monkeypatch, family: str, spy: ForwardSpy) -> None:
    """Record every training forward pass of the run's model in ``spy``."""
    if family == "reid":  # torchreid's own engine: the model's forward itself
        from tasks.reid.train import import_torchreid

        models = import_torchreid().models
        build = models.build_model

        def watched(*args, **kwargs):
            model = build(*args, **kwargs)
            model.register_forward_pre_hook(
                lambda mod, args: spy.record(mod, args) if mod.training else None)
            return model

        monkeypatch.setattr(models, "build_model", watched)
        return
    from mmengine.model import BaseModel

    train_step, run_forward = BaseModel.train_step, BaseModel._run_forward

    def spying_train_step(self, data, optim_wrapper):
        spy.optim_wrappers.add(type(optim_wrapper).__name__)
        return train_step(self, data, optim_wrapper)

    def spying_run_forward(self, data, mode):
        if mode == "loss":  # the training forward, after the data preprocessor
            spy.record(self, data)
        return run_forward(self, data, mode)

    monkeypatch.setattr(BaseModel, "train_step", spying_train_step)
    monkeypatch.setattr(BaseModel, "_run_forward", spying_run_forward)


@pytest.mark.parametrize(("family", "amp", "device"), list(cases()))
def test_a_short_run_trains_on_the_device(family, amp, device, data_of, tmp_path, monkeypatch,
                                          input_spy):
    spec = spec_for(family, data_of(family))
    spec = RunSpec(**{**spec.__dict__, "device": device})
    if amp:
        spec = spec.with_options(amp=amp)
    spy = ForwardSpy(device)
    spy_on_training(monkeypatch, family, spy)
    record = run_one(spec, tmp_path / "res")
    assert record.ok, record.reason
    assert record.provenance["device"] == device
    assert record.metrics and all(v is not None and math.isfinite(v)
                                  for v in record.metrics.values()), record.metrics
    spy.check(amp)
    if family != "reid":
        wrapper = ("OptimWrapper" if not amp else
                   "CPUAutocastOptimWrapper" if device == "cpu" else "AmpOptimWrapper")
        assert spy.optim_wrappers == {wrapper}
    if dict(spec.options).get("has_placement") == "preprocessor":
        input_spy.check("has")  # hidden on the device in training, never in evaluation
    if family == "reid":
        assert math.isfinite(record.history[-1]["loss"])
    if family == "video":
        work = tmp_path / "res" / "work" / record.run_id
        assert (work / record.artifacts["gradcam_strip"]).is_file()
    if family == "action_localization":
        assert "tcam" in record.artifacts  # the T-CAM figure of the trained (device) model


def test_mmaction_heads_take_bfloat16_scores():
    """Under ``--amp bfloat16`` a recognizer head's scores are bfloat16, which its logged top-k
    accuracy (through numpy) refused: every bfloat16 video run failed at its first step."""
    from benchmark.engine import amp, compat

    compat.apply()
    from mmaction.models.heads import I3DHead
    from mmaction.structures import ActionDataSample

    amp.patch_mmaction_bfloat16_scores()
    assert not amp.patch_mmaction_bfloat16_scores()  # once per process
    head = I3DHead(num_classes=4, in_channels=8)
    scores = torch.randn(3, 4).bfloat16().requires_grad_()
    samples = [ActionDataSample().set_gt_label(torch.tensor(k)) for k in (0, 2, 3)]
    losses = head.loss_by_feat(scores, samples)
    assert math.isfinite(float(losses["loss_cls"].detach())) and 0 <= float(losses["top1_acc"]) <= 1
    losses["loss_cls"].backward()
    assert scores.grad is not None and scores.grad.dtype == torch.bfloat16
    float_scores = torch.randn(3, 4).half()  # other dtypes reach the head as they are
    assert head.loss_by_feat(float_scores, samples)["loss_cls"].dtype == torch.float16
