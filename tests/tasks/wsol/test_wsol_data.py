"""WSOL loaders: every layout on generated data, the real Tiny ImageNet subset, layout checks."""

from pathlib import Path

import numpy as np
import pytest

from benchmark.engine.spec import RunSpec
from tasks import get_task
from tasks.wsol import data as layouts
from tasks.wsol import synth as wsol_synth

TASK = get_task("wsol")
SMALL = wsol_synth.SynthSpec(num_classes=3, train_per_class=4, test_per_class=2, side_px=40)
WRITERS = {"tiny-imagenet": wsol_synth.write_tiny_imagenet, "cub": wsol_synth.write_cub,
           "wsoleval": wsol_synth.write_wsoleval, "ilsvrc": wsol_synth.write_ilsvrc}


def build_datasets(spec):
    from mmpretrain.registry import DATASETS
    from mmpretrain.utils import register_all_modules

    import tasks.wsol.mm  # noqa: F401

    register_all_modules(init_default_scope=True)
    cfg, _ = TASK.build_config(spec)
    return [DATASETS.build(cfg[f"{s}_dataloader"]["dataset"]) for s in ("train", "test")]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    base = tmp_path_factory.mktemp("wsol-layouts")
    return {name: write(base / name, seed=1, spec=SMALL) for name, write in WRITERS.items()}


@pytest.mark.parametrize("dataset", list(WRITERS))
def test_generated_layout_loads_with_boxes_for_evaluation_only(generated, dataset):
    spec = TASK.resolve(RunSpec("wsol", dataset=dataset, data_root=str(generated[dataset]),
                                synthetic=True))
    TASK.check(spec)
    train, test = build_datasets(spec)
    assert (len(train), len(test)) == (12, 6)
    assert len(train.CLASSES) == 3
    assert sorted({train.get_data_info(i)["gt_label"] for i in range(12)}) == [0, 1, 2]
    assert all("gt_bboxes" not in train.get_data_info(i) for i in range(12))
    input_hw = (64, 64) if dataset == "tiny-imagenet" else (224, 224)
    for i in range(len(test)):
        info = test.get_data_info(i)
        boxes = info["gt_bboxes"]
        assert boxes.ndim == 2 and boxes.shape[1] == 4 and (boxes[:, 2:] > boxes[:, :2]).all()
        sample = test[i]
        assert tuple(sample["inputs"].shape[1:]) == input_hw
        meta = sample["data_samples"].metainfo
        height, width = meta["ori_shape"]
        # the boxes followed the image through the test Resize
        scale = np.array([input_hw[1] / width, input_hw[0] / height] * 2)
        expected = np.minimum(boxes * scale, [*input_hw[::-1]] * 2)  # mmcv clips at the size
        np.testing.assert_allclose(meta["gt_bboxes"], expected, rtol=1e-5)
    if dataset == "ilsvrc":  # every other generated val image has two objects
        assert max(len(test.get_data_info(i)["gt_bboxes"]) for i in range(6)) == 2


def test_real_tiny_imagenet_subset_loads(shared_data):
    root = shared_data / "tiny-imagenet-10"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    spec = TASK.resolve(RunSpec("wsol", dataset="tiny-imagenet"))
    assert spec.data_root == str(root) and spec.model == "resnet18-small"
    TASK.check(spec)
    train, test = build_datasets(spec)
    assert (len(train), len(test)) == (5000, 500)
    assert train.CLASSES == tuple((root / "wnids.txt").read_text().split())
    counts = np.bincount([test.get_data_info(i)["gt_label"] for i in range(500)])
    assert counts.tolist() == [50] * 10
    boxes = np.concatenate([test.get_data_info(i)["gt_bboxes"] for i in range(500)])
    assert boxes.min() >= 0 and boxes.max() <= 63
    sample = test[0]
    assert tuple(sample["inputs"].shape) == (3, 64, 64)


def test_tiny_imagenet_train_boxes_are_readable_but_not_loaded_by_default(shared_data):
    root = shared_data / "tiny-imagenet-10"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    _, with_boxes = layouts.parse_tiny_imagenet(root, "train", with_boxes=True)
    assert all(s.gt_bboxes is not None and s.gt_bboxes.shape == (1, 4) for s in with_boxes)


@pytest.mark.parametrize(
    ("dataset", "remove", "named"),
    [("tiny-imagenet", "val/val_annotations.txt", "val/val_annotations.txt"),
     ("tiny-imagenet", "train/n90000001/n90000001_boxes.txt", "n90000001_boxes.txt"),
     ("cub", "bounding_boxes.txt", "bounding_boxes.txt"),
     ("wsoleval", "metadata/test/localization.txt", "localization.txt"),
     ("ilsvrc", "bbox_val/ILSVRC2012_val_00000002.xml", "ILSVRC2012_val_00000002.xml")],
)
def test_layout_check_names_what_is_missing(tmp_path, dataset, remove, named):
    root = WRITERS[dataset](tmp_path / dataset, seed=0, spec=SMALL)
    (root / remove).unlink()
    with pytest.raises(ValueError, match=named):
        TASK.datasets[dataset].check_layout(root)


def test_missing_data_root_is_reported_before_training(tmp_path):
    spec = TASK.resolve(RunSpec("wsol", dataset="cub", data_root=str(tmp_path / "nope")))
    with pytest.raises(ValueError, match="hasbench synth cub"):
        TASK.check(spec)
    spec = TASK.resolve(RunSpec("wsol", dataset="tiny-imagenet", model="resnet18-small",
                                data_root=str(tmp_path)))
    with pytest.raises(ValueError, match=r"wnids\.txt"):
        TASK.check(spec)


def test_model_without_config_is_rejected(generated):
    spec = TASK.resolve(RunSpec("wsol", dataset="cub", model="resnet18-small",
                                data_root=str(generated["cub"])))
    with pytest.raises(ValueError, match="has no config for dataset 'cub'"):
        TASK.check(spec)


def test_generator_is_deterministic_and_part_lies_in_the_body():
    a = wsol_synth.draw_object(np.random.default_rng(3), 2, (64, 64))
    b = wsol_synth.draw_object(np.random.default_rng(3), 2, (64, 64))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    for seed in range(20):
        image, body, part = wsol_synth.draw_object(np.random.default_rng(seed), seed % 10, (64, 64))
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        assert (part[:2] >= body[:2]).all() and (part[2:] <= body[2:]).all()
        part_area = np.prod(part[2:] - part[:2] + 1)
        body_area = np.prod(body[2:] - body[:2] + 1)
        assert part_area < 0.15 * body_area  # the discriminative part is small


def test_generated_tiny_imagenet_matches_the_real_layout(tmp_path):
    root = wsol_synth.write_tiny_imagenet(tmp_path / "t", seed=0, spec=SMALL)
    layouts.check_tiny_imagenet(root)
    wnid = (root / "wnids.txt").read_text().split()[0]
    line = (root / "train" / wnid / f"{wnid}_boxes.txt").read_text().splitlines()[0].split()
    assert line[0].endswith(".JPEG") and len(line) == 5
    assert Path(root / "train" / wnid / "images" / line[0]).is_file()
