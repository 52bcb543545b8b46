"""Classification on mmpretrain: loaders on real and generated layouts, short runs → rows."""

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.engine import records
from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from tasks import get_task

TASK = get_task("classification")


def _datasets(spec):
    from mmpretrain.registry import DATASETS
    from mmpretrain.utils import register_all_modules

    register_all_modules(init_default_scope=True)
    cfg, _ = TASK.build_config(TASK.resolve(spec))
    return [DATASETS.build(cfg[f"{s}_dataloader"]["dataset"]) for s in ("train", "test")]


def test_real_cifar10_jpeg_subset_loads(shared_data):
    root = shared_data / "cifar10-jpeg-subset"
    spec = TASK.resolve(RunSpec("classification", dataset="cifar10-jpeg",
                                model="resnet-tiny-cifar"))
    assert spec.data_root == str(root)
    TASK.check(spec)
    train, test = _datasets(spec)
    assert (len(train), len(test)) == (3000, 1000)
    assert len(train.CLASSES) == 10 and "airplane" in train.CLASSES
    labels = np.bincount([train.get_data_info(i)["gt_label"] for i in range(len(train))])
    assert labels.tolist() == [300] * 10
    sample = train[0]
    assert tuple(sample["inputs"].shape) == (3, 32, 32)


def test_generated_cifar10_layout_loads_through_mmpretrain(tiny_cifar10):
    spec = RunSpec("classification", dataset="cifar10", data_root=str(tiny_cifar10),
                   model="resnet-tiny-cifar", synthetic=True)
    TASK.check(TASK.resolve(spec))
    train, test = _datasets(spec)
    assert (len(train), len(test)) == (120, 60)
    assert train.CLASSES[0] == "class0"
    labels = [train.get_data_info(i)["gt_label"] for i in range(120)]
    assert np.bincount(labels).tolist() == [12] * 10


def test_generated_image_folders_load(tmp_path):
    from tasks.classification.synth import write_image_folder_layout

    write_image_folder_layout(tmp_path, seed=3, train_per_class=4, test_per_class=2, ext=".jpg")
    spec = RunSpec("classification", dataset="cifar10-jpeg", data_root=str(tmp_path),
                   model="resnet-tiny-cifar")
    TASK.check(TASK.resolve(spec))
    train, test = _datasets(spec)
    assert (len(train), len(test)) == (40, 20)


def test_generated_data_is_deterministic_and_two_part(tmp_path):
    from tasks.classification.synth import generate

    a, la = generate(3, seed=7, test=True)
    b, lb = generate(3, seed=7, test=True)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    c, _ = generate(3, seed=8, test=True)
    assert not np.array_equal(a, c)


def test_model_without_config_is_rejected():
    spec = TASK.resolve(RunSpec("classification", dataset="cifar10", model="resnet50",
                                data_root="/tmp"))
    with pytest.raises(ValueError, match="no config for dataset 'cifar10'"):
        TASK.check(spec)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["baseline", "random_erasing", "has"])
def test_one_epoch_run_writes_rows_with_provenance(method, tiny_cifar10, tmp_path, input_spy):
    spec = RunSpec("classification", method=method, dataset="cifar10",
                   data_root=str(tiny_cifar10), model="resnet-tiny-cifar", epochs=1,
                   synthetic=True, options=(("batch_size", 16),))
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.status == "ok" and record.dataset == "cifar10-synth"
    assert set(record.metrics) == {"top1", "top5"}
    assert all(0 <= v <= 100 for v in record.metrics.values())
    assert record.history and record.history[0]["epoch"] == 1
    prov = record.provenance
    assert prov["packages"]["mmpretrain"] == "1.2.0" and prov["device"] == "cpu"
    assert prov["wall_seconds"] > 0 and prov["config_hash"] and prov["epochs"] == 1
    if method == "has":
        assert record.method_params["has_grid_sizes_px"] == [0, 2, 5, 6, 8]
    if method == "random_erasing":
        assert record.method_params["re_type"] == "mmpretrain.RandomErasing"
    on_disk = json.loads(records.record_path(tmp_path, record.run_id).read_text())
    assert on_disk["status"] == "ok" and on_disk["metrics"] == record.metrics
    work = Path(prov["work_dir"])
    assert (work / "spec.json").exists() and not (work / "running.json").exists()
    input_spy.check(method)


@pytest.mark.slow
def test_same_seed_same_metrics_and_rerun_resumes(tiny_cifar10, tmp_path):
    spec = RunSpec("classification", method="has", dataset="cifar10",
                   data_root=str(tiny_cifar10), model="resnet-tiny-cifar", epochs=1, seed=3,
                   synthetic=True, options=(("batch_size", 16),))
    first = run_one(spec, tmp_path / "a", raise_errors=True)
    second = run_one(spec, tmp_path / "b", raise_errors=True)
    assert first.metrics == second.metrics
    assert first.history == second.history
