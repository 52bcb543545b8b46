"""Mixed precision (--amp): checked per device, part of the run id, a real bfloat16 CPU run."""

import math

import pytest

from benchmark.engine.amp import check_amp
from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec

pytestmark = pytest.mark.usefixtures("one_thread")


def test_amp_is_part_of_the_run_id_and_fp16_on_the_cpu_exits_2(capsys, tmp_path):
    from benchmark.cli import main

    base = RunSpec("classification", epochs=1)
    assert base.with_options(amp="bfloat16").run_id() != base.run_id()
    code = main(["run", "classification", "--synthetic", "--amp", "float16",
                 "--results", str(tmp_path / "r")])
    assert code == 2 and "on the CPU use --amp bfloat16" in capsys.readouterr().err
    assert not (tmp_path / "r" / "data").exists()
    with pytest.raises(ValueError, match="--amp takes bfloat16 or float16"):
        check_amp("int8", "cpu")


@pytest.mark.slow
def test_a_bfloat16_cpu_run_autocasts_the_forward_pass_and_its_metrics_are_finite(
        tiny_cifar10, tmp_path, monkeypatch):
    import torch
    from mmengine.model import BaseModel

    dtypes = []
    forward = BaseModel.train_step

    def spy(self, data, optim_wrapper):
        with optim_wrapper.optim_context(self):
            dtypes.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu")
                          else None)
        return forward(self, data, optim_wrapper)

    monkeypatch.setattr(BaseModel, "train_step", spy)
    spec = RunSpec("classification", method="has", dataset="cifar10",
                   data_root=str(tiny_cifar10), model="resnet-tiny-cifar", epochs=1,
                   synthetic=True, options=(("amp", "bfloat16"), ("batch_size", 16)))
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.ok and all(math.isfinite(v) for v in record.metrics.values())
    assert dtypes and set(dtypes) == {torch.bfloat16}


@pytest.mark.slow
def test_a_bfloat16_reid_run_trains_under_autocast(tmp_path, monkeypatch):
    import torch

    from tasks.reid.synth import write_reid_layout

    seen = []
    linear = torch.nn.Linear.forward

    def spy(self, x):
        out = linear(self, x)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.Linear, "forward", spy)
    root = tmp_path / "market"
    write_reid_layout(root, seed=0, num_train_ids=6, num_test_ids=5, images_per_id=4,
                      num_cameras=3, num_distractor_images=4, num_junk_images=3)
    options = (("amp", "bfloat16"), ("data.height", 64), ("data.width", 32),
               ("data.workers", 0), ("test.batch_size", 64), ("train.batch_size", 8))
    spec = RunSpec("reid", method="has", dataset="market1501", data_root=str(root),
                   model="osnet_x0_25", epochs=1, options=options, synthetic=True)
    record = run_one(spec, tmp_path / "res", raise_errors=True)
    assert record.ok and all(math.isfinite(v) for v in record.metrics.values())
    assert math.isfinite(record.history[-1]["loss"]) and torch.bfloat16 in seen
