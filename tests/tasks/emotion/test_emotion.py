"""Emotion on mmpretrain: CK+48 / FER2013 loaders (real and generated), subject-exclusive
folds, and a short run of each method producing rows."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from tasks import get_task
from tasks._faces import data as face_data
from tasks._faces.synth import write_ckplus48, write_fer2013_csv, write_fer2013_folders

TASK = get_task("emotion")


@pytest.fixture(scope="module")
def tiny_ckplus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ckplus48-synth")
    write_ckplus48(root, seed=0, num_subjects=9)
    return root


# ----------------------------------------------------------------------------- names, folds
def test_ckplus_name_parsing_and_malformed_files_are_skipped(tmp_path):
    assert face_data.parse_ckplus_name("S005_001_00000011.png") == ("S005", 1, 11)
    with pytest.raises(ValueError, match=r"happy_01\.png"):
        face_data.parse_ckplus_name("happy_01.png")
    (tmp_path / "happy").mkdir()
    (tmp_path / "sadness").mkdir()
    for name in ("happy/S010_002_00000003.png", "sadness/S011_001_00000009.png",
                 "sadness/face.png"):
        (tmp_path / name).write_bytes(b"")
    with pytest.warns(UserWarning, match="sadness/face.png"):
        listing = face_data.list_ckplus(tmp_path)
    assert listing.classes == ("happy", "sadness")
    assert [(s.subject, s.label) for s in listing.samples] == [("S010", 0), ("S011", 1)]
    assert listing.skipped == ["sadness/face.png"]


def _check_folds(subjects: list[str], num_folds: int, seed: int) -> dict[str, int]:
    assignment = face_data.subject_folds(subjects, num_folds, seed)
    assert set(assignment) == set(subjects)
    assert set(assignment.values()) == set(range(num_folds))
    sizes = Counter(assignment[s] for s in subjects)
    assert max(sizes.values()) - min(sizes.values()) <= max(Counter(subjects).values())
    assert assignment == face_data.subject_folds(subjects, num_folds, seed)  # deterministic
    return assignment


def test_folds_are_subject_exclusive_and_use_every_image_once(tiny_ckplus):
    subjects = [s.subject for s in face_data.list_ckplus(tiny_ckplus).samples]
    _check_folds(subjects, 3, seed=0)
    tests = [face_data.ckplus_fold(tiny_ckplus, k, 3, 0, "test").samples for k in range(3)]
    trains = [face_data.ckplus_fold(tiny_ckplus, k, 3, 0, "train").samples for k in range(3)]
    test_paths = [s.path for fold in tests for s in fold]
    assert sorted(test_paths) == sorted(s.path for s in face_data.list_ckplus(tiny_ckplus).samples)
    for test, train in zip(tests, trains, strict=True):
        assert not {s.subject for s in test} & {s.subject for s in train}
        assert len(test) + len(train) == len(test_paths)


def test_fold_errors_name_the_fix():
    with pytest.raises(ValueError, match="fewer folds"):
        face_data.subject_folds(["S001", "S002"], 10, 0)
    with pytest.raises(ValueError, match="at least 2"):
        face_data.subject_folds(["S001", "S002"], 1, 0)


# ----------------------------------------------------------------------------- real CK+48
def test_real_ckplus48_loads_with_subject_folds(shared_data, build_face_dataset):
    root = shared_data / "ckplus48"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    listing = face_data.list_ckplus(root)
    per_folder = {d.name: len(os.listdir(root / d.name)) for d in root.iterdir() if d.is_dir()}
    assert len(listing.samples) == sum(per_folder.values()) == 981
    assert len(listing.classes) == 7 and "surprise" in listing.classes
    assert Counter(listing.classes[s.label] for s in listing.samples) == per_folder
    subjects = [s.subject for s in listing.samples]
    assignment = _check_folds(subjects, 10, seed=0)
    assert assignment != face_data.subject_folds(subjects, 10, seed=1)
    spec = TASK.resolve(RunSpec("emotion", dataset="ckplus48"))
    assert spec.data_root == str(root)
    TASK.check(spec)
    cfg, _ = TASK.build_config(spec, fold=3)
    mean, std = cfg.data_preprocessor.mean[0], cfg.data_preprocessor.std[0]
    train = build_face_dataset(cfg.train_dataloader.dataset)
    test = build_face_dataset(cfg.test_dataloader.dataset)
    assert len(train) + len(test) == 981
    assert len(test) == sum(1 for s in subjects if assignment[s] == 3)
    assert train.CLASSES == listing.classes
    sample = test[0]
    assert tuple(sample["inputs"].shape) == (3, 48, 48)
    assert 0 < mean < 255 and std > 10


# ----------------------------------------------------------------------------- generated data
def test_generated_ckplus48_layout(tmp_path, tiny_ckplus):
    listing = face_data.list_ckplus(tiny_ckplus)
    assert listing.classes == ("anger", "contempt", "disgust", "fear", "happy", "sadness",
                               "surprise")
    per_subject = Counter(s.subject for s in listing.samples)
    assert len(per_subject) == 9 and set(per_subject.values()) == {9}
    import cv2

    image = cv2.imread(listing.samples[0].path, cv2.IMREAD_UNCHANGED)
    assert image.shape == (48, 48) and image.dtype == np.uint8
    write_ckplus48(tmp_path, seed=0, num_subjects=9)
    again = face_data.list_ckplus(tmp_path)
    assert [Path(s.path).read_bytes() for s in again.samples[:5]] == \
        [Path(s.path).read_bytes() for s in listing.samples[:5]]


def test_fer2013_csv_and_folder_layouts(tmp_path, build_face_dataset):
    write_fer2013_csv(tmp_path / "csv", seed=0, per_class=(2, 1, 1))
    write_fer2013_folders(tmp_path / "folders", seed=0, per_class=(2, 1))
    assert face_data.fer2013_layout(tmp_path / "csv") == "csv"
    assert face_data.fer2013_layout(tmp_path / "folders") == "folders"
    for layout, sizes in (("csv", (14, 7, 7)), ("folders", (14, 7, 7))):
        datasets = [build_face_dataset(dict(type="FER2013Faces", data_root=str(tmp_path / layout),
                                split=split, pipeline=[dict(type="PackInputs")]))
                    for split in ("train", "val", "test")]
        assert tuple(len(d) for d in datasets) == sizes
        assert len(datasets[0].CLASSES) == 7
        assert tuple(datasets[0][0]["inputs"].shape) == (3, 48, 48)
    labels = [s.label for s in face_data.list_fer2013(tmp_path / "csv", "train").samples]
    assert sorted(Counter(labels).values()) == [2] * 7
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "fer2013.csv").write_text("label,image\n0,1 2 3\n")
    with pytest.raises(ValueError, match="emotion,pixels,Usage"):
        face_data.list_fer2013(tmp_path / "bad", "train")
    with pytest.raises(ValueError, match=r"fer2013\.csv"):
        face_data.fer2013_layout(tmp_path)


# ----------------------------------------------------------------------------- runs
def test_bad_fold_options_fail_before_training(tiny_ckplus):
    spec = TASK.resolve(RunSpec("emotion", dataset="ckplus48", data_root=str(tiny_ckplus),
                                options=(("folds_to_run", 4), ("num_folds", 3))))
    with pytest.raises(ValueError, match="folds_to_run=4"):
        TASK.check(spec)
    spec = TASK.resolve(RunSpec("emotion", dataset="ckplus48", data_root=str(tiny_ckplus)))
    with pytest.raises(ValueError, match="9 subjects cannot fill 10"):
        TASK.check(spec)


def test_has_only_in_training_pipeline(tiny_ckplus):
    spec = TASK.resolve(RunSpec("emotion", method="has", dataset="ckplus48",
                                data_root=str(tiny_ckplus), options=(("num_folds", 3),)))
    cfg, params = TASK.build_config(spec, fold=0)
    mean = cfg.data_preprocessor.mean[0]
    train = [s["type"] for s in cfg.train_dataloader.dataset.pipeline]
    assert train == ["RandomFlip", "mmpretrain.HideAndSeek", "PackInputs"]
    assert [s["type"] for s in cfg.test_dataloader.dataset.pipeline] == ["PackInputs"]
    assert cfg.train_dataloader.dataset.pipeline[1]["mean"] == [mean] * 3
    assert params["has_grid_sizes_px"] == [0, 3, 7, 9, 12]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "placement"), [
    ("baseline", None), ("random_erasing", None), ("has", None), ("has", "preprocessor")])
def test_short_cross_validated_run_writes_a_row(method, placement, tiny_ckplus, tmp_path,
                                                  one_thread, input_spy):
    spec = RunSpec("emotion", method=method, dataset="ckplus48", data_root=str(tiny_ckplus),
                   epochs=1, synthetic=True,
                   options=(("batch_size", 8), ("folds_to_run", 2), ("num_folds", 3)))
    if placement:
        spec = spec.with_options(has_placement=placement)
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.status == "ok" and record.dataset == "ckplus48-synth"
    folds = record.extra["fold_accuracy"]
    assert len(folds) == 2 and all(0 <= a <= 100 for a in folds)
    assert record.metrics["accuracy"] == pytest.approx(np.mean(folds))
    assert record.metrics["accuracy_std"] == pytest.approx(np.std(folds, ddof=1))
    assert {row["fold"] for row in record.history} == {0, 1}
    assert record.method_params["method"] == method
    input_spy.check(method)
