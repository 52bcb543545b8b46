"""Age/gender on mmpretrain: UTKFace / APPA-REAL / IMDB-WIKI loaders (real and generated), the
regression head and MAE metric against hand-computed values, short runs of each method."""

from __future__ import annotations

import math
import shutil
from datetime import date
from pathlib import Path

import pytest
import torch

from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from tasks import get_task
from tasks._faces import data as face_data
from tasks._faces.synth import write_appa_real, write_imdb_wiki, write_utkface

TASK = get_task("age_gender")
MALFORMED = "39_1_20170116174525125.jpg.chip.jpg"  # no race field, as in the real release


@pytest.fixture(scope="module")
def tiny_utkface(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("utkface-synth")
    write_utkface(root, seed=0, count=40)
    return root


def _samples(**fields):
    from mmpretrain.structures import DataSample

    keys = list(fields)
    out = []
    for values in zip(*fields.values(), strict=True):
        sample = DataSample()
        for key, value in zip(keys, values, strict=True):
            if key == "gt_label":
                sample.set_gt_label(value)
            else:
                sample.set_field(value, key)
        out.append(sample)
    return out


# ----------------------------------------------------------------------------- UTKFace
def test_utkface_names_parse_and_malformed_names_are_rejected():
    assert face_data.parse_utkface_name("25_1_3_20170104231305129.jpg.chip.jpg") == (25, 1, 3)
    for bad in (MALFORMED, "61_3_0_20170109150557335.jpg.chip.jpg", "a_0_0_1.jpg.chip.jpg"):
        with pytest.raises(ValueError, match=bad.split(".")[0]):
            face_data.parse_utkface_name(bad)


def test_malformed_utkface_files_are_skipped_and_counted(tmp_path, tiny_utkface):
    for path in sorted(tiny_utkface.iterdir())[:10]:
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / MALFORMED).write_bytes((tmp_path / sorted(p.name for p in tmp_path.iterdir()
                                                          if "_0_" in p.name)[0]).read_bytes())
    names = sorted(p.name for p in tmp_path.iterdir())
    bad = [n for n in names if not face_data.UTKFACE_NAME.match(n)]
    with pytest.warns(UserWarning, match=MALFORMED):
        listing = face_data.list_utkface(tmp_path)
    assert listing.skipped == bad and MALFORMED in bad
    assert len(listing.samples) == len(names) - len(bad)
    spec = TASK.resolve(RunSpec("age_gender", dataset="utkface", data_root=str(tmp_path)))
    TASK.check(spec)
    facts = TASK.data_facts(spec, TASK.build_config(spec)[0])
    assert facts["skipped_files"] == len(bad)
    only_bad = tmp_path / "only-bad"
    only_bad.mkdir()
    (only_bad / MALFORMED).write_bytes(b"")
    with pytest.raises(ValueError, match="no \\[age\\]"):
        face_data.list_utkface(only_bad)


def test_real_utkface_2000_loads_with_a_seeded_split(shared_data, build_face_dataset):
    root = shared_data / "utkface-2000"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    listing = face_data.list_utkface(root)
    assert len(listing.samples) + len(listing.skipped) == 2000
    for sample in listing.samples[:50]:
        age, gender, _ = Path(sample.path).name.split("_")[:3]
        assert (sample.age_years, sample.label) == (float(age), int(gender))
    assert {s.label for s in listing.samples} == {0, 1}
    train = face_data.random_split(len(listing.samples), 0.2, 0, "train")
    test = face_data.random_split(len(listing.samples), 0.2, 0, "test")
    assert (len(train), len(test)) == (1600, 400) and not set(train) & set(test)
    assert test == face_data.random_split(len(listing.samples), 0.2, 0, "test")
    assert test != face_data.random_split(len(listing.samples), 0.2, 1, "test")
    spec = TASK.resolve(RunSpec("age_gender", dataset="utkface-2000"))
    assert spec.data_root == str(root)
    TASK.check(spec)
    cfg, _ = TASK.build_config(spec)
    facts = TASK.data_facts(spec, cfg)
    assert (facts["num_train"], facts["num_test"]) == (1600, 400)
    dataset = build_face_dataset(cfg.test_dataloader.dataset)
    item = dataset[0]
    assert tuple(item["inputs"].shape) == (3, 64, 64)
    assert item["data_samples"].gt_age == listing.samples[test[0]].age_years


# ----------------------------------------------------------------------------- APPA, IMDB-WIKI
def test_generated_appa_real_official_splits_and_targets(tmp_path):
    write_appa_real(tmp_path, seed=0, counts=(12, 4, 6))
    sizes = [len(face_data.list_appa_real(tmp_path, s).samples) for s in ("train", "val", "test")]
    assert sizes == [12, 4, 6]
    real = face_data.list_appa_real(tmp_path, "test", "real").samples
    apparent = face_data.list_appa_real(tmp_path, "test", "apparent").samples
    assert all(s.path.endswith("_face.jpg") and s.label in (0, 1) for s in real)
    assert [s.age_years for s in real] != [s.age_years for s in apparent]
    assert all(float(s.age_years).is_integer() for s in real)
    spec = TASK.resolve(RunSpec("age_gender", dataset="appa-real", data_root=str(tmp_path)))
    TASK.check(spec)
    assert TASK.build_config(spec)[0].model.head.type == "AgeGenderHead"
    for split in ("train", "valid", "test"):
        (tmp_path / f"allcategories_{split}.csv").unlink()
    cfg, _ = TASK.build_config(spec)
    facts = TASK.data_facts(spec, cfg)
    assert cfg.model.head.type == "AgeRegressionHead" and facts["heads"] == "age"
    assert [e["type"] for e in cfg.test_evaluator] == ["MAE"]
    bad = TASK.resolve(RunSpec("age_gender", dataset="appa-real", data_root=str(tmp_path),
                               options=(("age_target", "perceived"),)))
    with pytest.raises(ValueError, match="age_target"):
        TASK.check(bad)


def test_imdb_wiki_cleaning(tmp_path):
    assert face_data.age_at_photo(date(1980, 3, 10).toordinal() + 366, 2000) == 20
    assert face_data.age_at_photo(date(1980, 9, 1).toordinal() + 366, 2000) == 19
    write_imdb_wiki(tmp_path, seed=0, part="wiki", count=60)
    listing = face_data.list_imdb_wiki(tmp_path, "wiki")
    assert len(listing.samples) + sum(listing.dropped.values()) == 60
    assert {"no face", "second face"} <= set(listing.dropped)
    assert all(0 <= s.age_years <= 100 and s.label in (0, 1) for s in listing.samples)
    assert all(Path(s.path).is_file() for s in listing.samples)
    strict = face_data.list_imdb_wiki(tmp_path, "wiki", min_face_score=4.0)
    assert len(strict.samples) < len(listing.samples)
    spec = TASK.resolve(RunSpec("age_gender", dataset="wiki", data_root=str(tmp_path)))
    TASK.check(spec)
    with pytest.raises(ValueError, match=r"imdb_crop/imdb\.mat"):
        TASK.check(TASK.resolve(RunSpec("age_gender", dataset="imdb", data_root=str(tmp_path))))


# ----------------------------------------------------------------------------- head, metric
def _head(cls, **kwargs):
    head = cls(in_channels=2, age_mean_years=30.0, age_scale_years=10.0, **kwargs)
    with torch.no_grad():
        head.age_fc.weight.copy_(torch.tensor([[1.0, -1.0]]))
        head.age_fc.bias.fill_(0.5)
    return head


def test_age_regression_head_against_hand_computed_values():
    from tasks._faces.mm import AgeRegressionHead

    feats = (torch.tensor([[1.0, 0.0], [0.0, 2.0]]),)
    head = _head(AgeRegressionHead, loss_type="l1")
    assert head(feats).tolist() == [45.0, 15.0]  # 30 + 10 * (1 + 0.5), 30 + 10 * (-2 + 0.5)
    loss = head.loss(feats, _samples(gt_age=[40.0, 20.0]))["loss_age"]
    assert loss.item() == pytest.approx((5 + 5) / 2 / 10)
    smooth = _head(AgeRegressionHead, loss_type="smooth_l1", smooth_l1_beta_years=1.0,
                   loss_weight=2.0)
    loss = smooth.loss(feats, _samples(gt_age=[44.5, 20.0]))["loss_age"]
    # |0.5| < beta: 0.5 * 0.5**2 / 1; |5| >= beta: 5 - 0.5.
    assert loss.item() == pytest.approx(2.0 * (0.125 + 4.5) / 2 / 10)
    predicted = head.predict(feats, _samples(gt_age=[40.0, 20.0]))
    assert [float(s.pred_age) for s in predicted] == [45.0, 15.0]
    with pytest.raises(ValueError, match="loss_type"):
        AgeRegressionHead(in_channels=2, loss_type="l2")


def test_gender_loss_is_mmpretrains_under_any_default_scope():
    from mmengine.registry import DefaultScope

    from benchmark.engine import compat
    from tasks._faces.mm import AgeGenderHead

    compat.apply()  # mmaction2 1.2.0 imports a module it does not ship
    with DefaultScope.overwrite_default_scope("mmaction"):
        head = _head(AgeGenderHead, loss_type="l1")
    assert type(head.gender_loss).__module__.startswith("mmpretrain.")


def test_age_gender_head_losses_and_predictions():
    from tasks._faces.mm import AgeGenderHead

    feats = (torch.tensor([[1.0, 0.0], [0.0, 2.0]]),)
    head = _head(AgeGenderHead, loss_type="l1")
    with torch.no_grad():
        head.gender_fc.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 0.5]]))
        head.gender_fc.bias.zero_()
    losses = head.loss(feats, _samples(gt_age=[40.0, 20.0], gt_label=[0, 1]))
    assert losses["loss_age"].item() == pytest.approx(0.5)
    # logits [2, 0] (label 0) and [0, 1] (label 1).
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    assert losses["loss_gender"].item() == pytest.approx(expected, rel=1e-5)
    predicted = head.predict(feats)
    assert [float(s.pred_age) for s in predicted] == [45.0, 15.0]
    assert [int(s.pred_label) for s in predicted] == [0, 1]
    assert float(predicted[0].pred_score.sum()) == pytest.approx(1.0)


def test_mae_metric_against_hand_computed_values():
    from tasks._faces.mm import MAE

    metric = MAE()
    metric.process(None, [{"pred_age": torch.tensor(45.0), "gt_age": 40.0},
                          {"pred_age": torch.tensor(15.0), "gt_age": 20.0}])
    metric.process(None, [{"pred_age": torch.tensor(30.0), "gt_age": 30.0}])
    assert metric.evaluate(3) == {"mae": pytest.approx(10 / 3)}


# ----------------------------------------------------------------------------- runs
@pytest.mark.slow
@pytest.mark.parametrize(("method", "placement"), [
    ("baseline", None), ("random_erasing", None), ("has", None), ("has", "preprocessor")])
def test_short_run_writes_a_row(method, placement, tiny_utkface, tmp_path, one_thread,
                                input_spy):
    spec = RunSpec("age_gender", method=method, dataset="utkface", data_root=str(tiny_utkface),
                   epochs=1, synthetic=True,
                   options=(("batch_size", 8), ("image_px", 32)))
    if placement:
        spec = spec.with_options(has_placement=placement)
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.status == "ok" and record.dataset == "utkface-synth"
    assert record.metrics["mae"] >= 0 and 0 <= record.metrics["gender_accuracy"] <= 100
    assert record.extra["skipped_files"] == 2 and record.extra["num_test"] == 8
    assert record.history and {"mae", "gender_accuracy"} <= set(record.history[-1])
    if method == "has":
        assert record.method_params["has_grid_sizes_px"] == [0, 2, 5, 6, 8]
    input_spy.check(method)
