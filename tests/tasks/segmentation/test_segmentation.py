"""Segmentation task: CamVid/VOC layouts and loaders, labels untouched by HaS, short runs."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmark.engine.spec import RunSpec
from tasks.segmentation import TASK
from tasks.segmentation.data import CAMVID_VOID, check_camvid
from tasks.segmentation.synth import write_camvid_layout, write_voc_layout

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def camvid_synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("camvid-synth")
    write_camvid_layout(root, seed=3, counts=(8, 4, 4))
    return root


@pytest.fixture(scope="module")
def voc_synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("voc-synth")
    write_voc_layout(root, seed=1, counts=(4, 3, 2))
    return root


def _spec(root: Path, dataset: str = "camvid", method: str = "baseline", **options) -> RunSpec:
    spec = RunSpec(task="segmentation", dataset=dataset, data_root=str(root), method=method,
                   model="fcn-r18-tiny", epochs=1, synthetic=True,
                   options=tuple(sorted(options.items())))
    return TASK.resolve(spec)


def _build_dataset(dataset_cfg):
    from benchmark.engine import compat

    compat.apply()
    from mmengine.registry import init_default_scope

    import benchmark.pipelines  # noqa: F401

    init_default_scope("mmseg")
    from mmseg.registry import DATASETS

    return DATASETS.build(copy.deepcopy(dataset_cfg))


def _loaded_labels(dataset_cfg, count: int):
    """(raw label file, label as mmseg loads it) for the first ``count`` samples."""
    cfg = copy.deepcopy(dataset_cfg)
    cfg["pipeline"] = [dict(type="LoadAnnotations")]
    dataset = _build_dataset(cfg)
    pairs = []
    for i in range(min(count, len(dataset))):
        sample = dataset[i]
        raw = np.array(Image.open(sample["seg_map_path"]))  # palette PNGs: the indices
        pairs.append((raw, sample["gt_seg_map"]))
    return dataset, pairs


# ----------------------------------------------------------------------------- CamVid
def test_generated_camvid_layout_and_loader(camvid_synth):
    check_camvid(camvid_synth)
    spec = _spec(camvid_synth)
    TASK.check(spec)
    cfg, _ = TASK.build_config(spec)
    split = TASK.test_split(spec)
    assert split == "test"
    train, pairs = _loaded_labels(cfg.train_dataloader.dataset, count=8)
    assert len(train) == 8
    assert len(_build_dataset(cfg.test_dataloader.dataset)) == 4
    assert len(train.metainfo["classes"]) == 11
    saw_void = False
    for raw, loaded in pairs:
        assert set(np.unique(loaded)) <= set(range(11)) | {255}
        assert np.array_equal(loaded == 255, raw == CAMVID_VOID)
        assert np.array_equal(loaded[raw != CAMVID_VOID], raw[raw != CAMVID_VOID])
        saw_void |= bool((raw == CAMVID_VOID).any())
    assert saw_void, "generated scenes should contain some void pixels"


def test_generated_camvid_is_deterministic(tmp_path):
    write_camvid_layout(tmp_path / "a", seed=5, counts=(2, 1, 1))
    write_camvid_layout(tmp_path / "b", seed=5, counts=(2, 1, 1))
    for name in ("train/synth05_0001.png", "trainannot/synth05_0001.png"):
        a = cv2.imread(str(tmp_path / "a" / name), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(tmp_path / "b" / name), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(a, b)
    labels = cv2.imread(str(tmp_path / "a" / "trainannot/synth05_0001.png"), -1)
    assert len(np.unique(labels)) >= 6  # a scene, not one region


def test_real_camvid_subset(shared_data):
    root = shared_data / "camvid-subset"
    if not root.is_dir():
        pytest.skip(f"{root} absent")
    spec = TASK.resolve(RunSpec(task="segmentation", dataset="camvid", data_root=str(root)))
    TASK.check(spec)
    cfg, _ = TASK.build_config(spec)
    split = TASK.test_split(spec)
    assert split == "val"  # the subset has no test split
    train, pairs = _loaded_labels(cfg.train_dataloader.dataset, count=3)
    val = _build_dataset(cfg.test_dataloader.dataset)
    assert (len(train), len(val)) == (60, 20)
    assert train.metainfo["classes"][0] == "sky" and len(train.metainfo["classes"]) == 11
    for raw, loaded in pairs:
        assert raw.shape == loaded.shape == (360, 480)
        assert np.array_equal(loaded == 255, raw == CAMVID_VOID)
        assert np.array_equal(loaded[raw != CAMVID_VOID], raw[raw != CAMVID_VOID])


def test_camvid_layout_errors_name_the_problem(tmp_path):
    write_camvid_layout(tmp_path, seed=0, counts=(2, 1, 0))
    (tmp_path / "val.txt").write_text("val/nope.png valannot/nope.png\n")
    with pytest.raises(ValueError, match=r"val/nope\.png"):
        check_camvid(tmp_path)
    (tmp_path / "val.txt").write_text("val/only-one-path.png\n")
    with pytest.raises(ValueError, match=r"val.txt:1"):
        check_camvid(tmp_path)
    (tmp_path / "val.txt").unlink()
    check_camvid(tmp_path)  # without a list, folders are paired by file name
    for name in (tmp_path / "valannot").iterdir():
        name.unlink()
    (tmp_path / "valannot").rmdir()
    with pytest.raises(ValueError, match="valannot"):
        check_camvid(tmp_path)


def test_segnet_absolute_list_paths(tmp_path):
    write_camvid_layout(tmp_path, seed=0, counts=(2, 1, 0))
    lines = (tmp_path / "train.txt").read_text().split("\n")
    absolute = [" ".join(f"/SegNet/CamVid/{p}" for p in line.split()) for line in lines if line]
    (tmp_path / "train.txt").write_text("\n".join(absolute) + "\n")
    check_camvid(tmp_path)
    cfg, _ = TASK.build_config(_spec(tmp_path))
    train = _build_dataset(cfg.train_dataloader.dataset)
    assert len(train) == 2 and Path(train.get_data_info(0)["img_path"]).is_file()


# ----------------------------------------------------------------------------- VOC
def test_voc_layout_and_mmseg_dataset(voc_synth):
    spec = _spec(voc_synth, dataset="voc12aug")
    TASK.check(spec)
    cfg, _ = TASK.build_config(spec)
    split = TASK.test_split(spec)
    assert split == "val"
    parts = cfg.train_dataloader.dataset.datasets
    assert [p.type for p in parts] == ["PascalVOCDataset", "PascalVOCDataset"]
    train = _build_dataset(cfg.train_dataloader.dataset)
    assert len(train) == 4 + (4 + 2)  # VOC train + aug (train + aug-only), as mmseg concatenates
    val, pairs = _loaded_labels(cfg.val_dataloader.dataset, count=3)
    assert len(val) == 3 and len(val.metainfo["classes"]) == 21
    for raw, loaded in pairs:
        assert np.array_equal(raw, loaded)  # palette indices are the class ids
        assert set(np.unique(loaded)) <= set(range(21)) | {255}


def test_voc_layout_errors(voc_synth, tmp_path):
    import shutil

    copy_root = tmp_path / "voc"
    shutil.copytree(voc_synth, copy_root)
    TASK.check(_spec(copy_root, dataset="voc12"))
    shutil.rmtree(copy_root / "VOCdevkit/VOC2012/SegmentationClassAug")
    TASK.check(_spec(copy_root, dataset="voc12"))  # the plain split does not need SBD
    with pytest.raises(ValueError, match="SegmentationClassAug"):
        TASK.check(_spec(copy_root, dataset="voc12aug"))
    (copy_root / "VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt").write_text("2099_missing\n")
    with pytest.raises(ValueError, match="2099_missing"):
        TASK.check(_spec(copy_root, dataset="voc12"))


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize("model", ["fcn-r50-d8", "deeplabv3-r50-d8"])
def test_r50_configs_build_without_syncbn(camvid_synth, model):
    spec = TASK.resolve(RunSpec(task="segmentation", dataset="camvid", model=model,
                                data_root=str(camvid_synth)))
    cfg, _ = TASK.build_config(spec)
    assert cfg.train_cfg.type == "EpochBasedTrainLoop"
    assert cfg.train_dataloader.sampler.type == "DefaultSampler"
    assert cfg.model.pretrained is None
    assert cfg.model.decode_head.num_classes == cfg.model.auxiliary_head.num_classes == 11
    assert "SyncBN" not in str(cfg.model)
    distributed = TASK.build_config(spec.with_options(launcher="pytorch"))[0]
    assert "SyncBN" in str(distributed.model)  # kept for distributed GPU runs


def test_bad_options_fail_before_training(camvid_synth):
    with pytest.raises(ValueError, match="train_images"):
        TASK.check(_spec(camvid_synth, train_images=0))
    with pytest.raises(ValueError, match="lr"):
        TASK.check(_spec(camvid_synth, lr=-1))
    with pytest.raises(ValueError, match="unknown model"):
        TASK.check(TASK.resolve(RunSpec(task="segmentation", dataset="camvid", model="unet",
                                        data_root=str(camvid_synth))))


# ----------------------------------------------------------------------------- methods
def _pipeline_outputs(cfg, seed: int, count: int):
    """Images and labels after the full training pipeline (PackSegInputs), seeded."""
    dataset = _build_dataset(cfg.train_dataloader.dataset)
    outputs = []
    for i in range(count):
        random.seed(seed + i)  # per sample: the method's own draws must not shift the next one's
        np.random.seed(seed + i)
        packed = dataset[i]
        outputs.append((packed["inputs"].numpy().copy(),
                        packed["data_samples"].gt_sem_seg.data.numpy().copy()))
    return outputs


@pytest.mark.parametrize("method", ["has", "random_erasing"])
def test_method_changes_images_never_labels(camvid_synth, method):
    """Same seed, same samples: the method's pipeline gives the baseline's labels exactly."""
    base_cfg, _ = TASK.build_config(_spec(camvid_synth))
    method_cfg, params = TASK.build_config(_spec(camvid_synth, method=method))
    stages = [s["type"].rsplit(".", 1)[-1] for s in method_cfg.train_dataloader.dataset.pipeline]
    expected = "HideAndSeek" if method == "has" else "RandomCutOut"
    assert stages.index(expected) == stages.index("PackSegInputs") - 1
    baseline = _pipeline_outputs(base_cfg, seed=11, count=8)
    changed = _pipeline_outputs(method_cfg, seed=11, count=8)
    images_differ = 0
    for (img_a, seg_a), (img_b, seg_b) in zip(baseline, changed, strict=True):
        assert np.array_equal(seg_a, seg_b)
        images_differ += int(not np.array_equal(img_a, img_b))
    assert images_differ > 0
    if method == "has":
        assert params["has_grid_sizes_px"] == [0, 6, 13, 18, 22]  # scaled to the 90x120 crop


# ----------------------------------------------------------------------------- runs
@pytest.mark.slow
@pytest.mark.parametrize(("method", "placement"), [
    ("baseline", None), ("random_erasing", None), ("has", None), ("has", "preprocessor")])
def test_short_run_writes_rows(camvid_synth, tmp_path, method, placement, input_spy):
    from benchmark.engine.runner import run_one

    spec = RunSpec(task="segmentation", dataset="camvid", data_root=str(camvid_synth),
                   method=method, model="fcn-r18-tiny", epochs=1, synthetic=True,
                   options=(("eval_images", 2), ("train_images", 4)))
    if placement:
        spec = spec.with_options(has_placement=placement)
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.status == "ok"
    assert set(record.metrics) == {"miou", "aacc", "macc"}
    assert all(0.0 <= v <= 100.0 for v in record.metrics.values())
    assert record.split == "test" and record.dataset == "camvid-synth"
    assert [row["epoch"] for row in record.history] == [1]
    assert record.method_params["method"] == method
    assert record.extra["train_images"] == 4
    input_spy.check(method)


def test_preprocessor_placement_builds_the_has_preprocessor(camvid_synth):
    from mmseg.registry import MODELS

    from benchmark.pipelines.preprocessors import HideAndSeekSegDataPreProcessor

    cfg, params = TASK.build_config(_spec(camvid_synth, method="has",
                                             has_placement="preprocessor"))
    types = [s["type"] for s in cfg.train_dataloader.dataset.pipeline]
    assert not any(t.endswith("HideAndSeek") for t in types)
    model = MODELS.build(cfg.model)
    assert isinstance(model.data_preprocessor, HideAndSeekSegDataPreProcessor)
    assert model.data_preprocessor.hide_and_seek.grid_sizes == tuple(params["has_grid_sizes_px"])
