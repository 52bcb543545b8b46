"""WSSS: labels from masks, the VOC loaders, seeds and their threshold, three stages, resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from benchmark.voc import voc_palette
from tasks.wsss import STAGES, TASK
from tasks.wsss import seeds as seeding
from tasks.wsss.data import SPLITS, check_wsss_layout, image_labels, read_mask
from tasks.wsss.synth import write_wsss_voc_layout

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def voc_synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wsss-voc")
    write_wsss_voc_layout(root, seed=2, counts=(12, 6, 4), height_px=64, width_px=64)
    return root


def _spec(root: Path, method: str = "baseline", epochs: int = 1, **options) -> RunSpec:
    options = {"seg_epochs": 1, "batch_size": 8, "progress": "off", **options}
    spec = RunSpec(task="wsss", dataset="voc12aug", data_root=str(root), method=method,
                   model="resnet-tiny-fcn", epochs=epochs, synthetic=True,
                   options=tuple(sorted(options.items())))
    return TASK.resolve(spec)


# ----------------------------------------------------------------------------- labels, loaders
def test_image_labels_are_the_classes_of_the_mask_without_background_and_ignore():
    mask = np.array([[0, 0, 15, 255], [7, 7, 15, 255], [0, 255, 0, 0]], np.uint8)
    assert image_labels(mask) == (7, 15)
    assert image_labels(np.zeros((4, 4), np.uint8)) == ()
    assert image_labels(np.full((4, 4), 255, np.uint8)) == ()


def _write_real_format_voc(root: Path, masks: dict[str, np.ndarray]) -> Path:
    """A tiny VOC tree as released: JPEGs, palette PNGs, SBD-converted grey PNGs, lists."""
    import cv2

    base = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "SegmentationClassAug",
                "ImageSets/Segmentation"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for name, mask in masks.items():
        cv2.imwrite(str(base / "JPEGImages" / f"{name}.jpg"),
                    np.full((*mask.shape, 3), 90, np.uint8))
        palette = Image.fromarray(mask)
        palette.putpalette(voc_palette())
        palette.save(base / "SegmentationClass" / f"{name}.png")
        Image.fromarray(mask).save(base / "SegmentationClassAug" / f"{name}.png")
    names = "".join(f"{n}\n" for n in masks)
    for split in ("train", "val", "aug"):
        (base / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(names)
    return base


def test_real_layout_loader_reads_palette_masks_and_derives_labels(tmp_path):
    cat = np.zeros((20, 30), np.uint8)
    cat[5:15, 5:12] = 8
    cat[4, 4:13] = 255  # VOC's ignore border
    both = cat.copy()
    both[10:18, 20:28] = 15
    base = _write_real_format_voc(tmp_path, {"2007_000032": cat, "2007_000039": both})
    with Image.open(base / "SegmentationClass" / "2007_000032.png") as image:
        assert image.mode == "P"  # what VOC releases
    assert np.array_equal(read_mask(base / "SegmentationClass" / "2007_000032.png"), cat)
    for dataset in ("voc12", "voc12aug"):
        check_wsss_layout(dataset)(tmp_path)

    from tasks.wsss.datasets import VOCImageLabels

    loaded = VOCImageLabels(data_root=str(base), ann_file=SPLITS["voc12"][0].list_file,
                            mask_dir="SegmentationClass", lazy_init=False)
    labels = {Path(loaded.get_data_info(i)["img_path"]).stem:
              sorted(loaded.get_data_info(i)["gt_label"]) for i in range(len(loaded))}
    assert labels == {"2007_000032": [7], "2007_000039": [7, 14]}  # VOC id - 1
    assert loaded.metainfo["classes"][7] == "cat"


def test_masks_without_classes_are_refused_naming_the_fix(tmp_path):
    background = np.zeros((8, 8), np.uint8)
    background[0] = 255
    _write_real_format_voc(tmp_path, {"a": background, "b": np.zeros((8, 8), np.uint8)})
    with pytest.raises(ValueError, match="no image-level labels can be derived"):
        check_wsss_layout("voc12aug")(tmp_path)
    with pytest.raises(ValueError, match="no image-level labels"):
        TASK.check(TASK.resolve(RunSpec("wsss", dataset="voc12", data_root=str(tmp_path),
                                        model="resnet-tiny-fcn")))


# ----------------------------------------------------------------------------- seeds
def test_pseudo_mask_is_the_argmax_over_background_and_the_classes_present():
    cams = np.array([[[0.9, 0.1], [0.05, 0.4]], [[0.2, 0.3], [0.01, 0.6]]], np.float32)
    mask = seeding.pseudo_mask(cams, (7, 15), bg_threshold=0.25)
    assert mask.tolist() == [[7, 15], [0, 15]]
    assert seeding.pseudo_mask(np.zeros((0, 2, 2)), (), 0.15).tolist() == [[0, 0], [0, 0]]


def test_max_normalize_divides_each_relud_map_by_its_max():
    import torch

    maps = torch.tensor([[[-1.0, 2.0], [4.0, 1.0]], [[0.0, 0.0], [0.0, -3.0]]])
    out = seeding.max_normalize(maps)
    assert out[0].tolist() == [[0.0, 0.5], [1.0, 0.25]]
    assert out[1].abs().sum() == 0  # no positive evidence: stays zero


def test_background_threshold_sweep_on_fixed_cams():
    rng = np.random.default_rng(0)
    gt = np.zeros((32, 32), np.uint8)
    gt[8:24, 8:20] = 7
    gt[8:24, 7] = 255
    cam = np.clip(rng.normal(0.1, 0.05, (1, 32, 32)), 0, None).astype(np.float32)
    cam[0, 6:26, 6:22] += np.linspace(0.3, 1.0, 16)[None]  # wider than the object, graded
    cam /= cam.max()
    scores = {t: seeding.seed_miou([(seeding.pseudo_mask(cam, (7,), t), gt)])
              for t in (0.05, 0.15, 0.3, 0.5, 0.8)}
    assert all(0.0 <= s <= 100.0 for s in scores.values())
    assert len({round(s, 6) for s in scores.values()}) > 2, scores  # it matters
    best = max(scores, key=scores.get)
    assert best not in (0.05, 0.8), scores  # too low: all object; too high: all background
    nearly_zero = seeding.pseudo_mask(cam + 1e-3, (7,), 1e-6)
    assert not (nearly_zero == 0).any()  # a threshold of ~0 leaves no background


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, "high", True])
def test_background_threshold_outside_0_1_is_refused_before_training(value, voc_synth,
                                                                      tmp_path):
    spec = _spec(voc_synth, bg_threshold=value)
    with pytest.raises(ValueError, match="bg_threshold"):
        run_one(spec, tmp_path)
    assert not (tmp_path / "work").exists()  # nothing trained, nothing written


# ----------------------------------------------------------------------------- the run
def test_three_stages_end_to_end_on_generated_data(voc_synth, tmp_path):
    record = run_one(_spec(voc_synth, method="has", epochs=2), tmp_path, raise_errors=True)
    assert record.ok, record.reason
    assert set(record.metrics) == {"seed_miou", "miou", "aacc", "macc"}
    for name, value in record.metrics.items():
        assert math.isfinite(value) and 0.0 <= value <= 100.0, (name, value)
    work = Path(record.provenance["work_dir"])
    masks = sorted((work / "seeds" / seeding.MASK_DIR).glob("*.png"))
    ids = (voc_synth / "VOCdevkit/VOC2012/ImageSets/Segmentation/aug.txt").read_text().split()
    assert len(masks) == len(ids) == record.extra["seed_images"]
    with Image.open(masks[0]) as image:
        assert image.mode == "P" and image.size == (64, 64)
    assert set(record.extra["stage_seconds"]) == set(STAGES)
    assert record.method_params["bg_threshold"] == seeding.DEFAULT_BG_THRESHOLD
    assert record.method_params["has_grid_sizes_px"]  # HaS went into the classifier
    assert record.history and "miou" in record.history[-1]
    from tasks.wsss import explain

    figure = explain([work, work], tmp_path / "seeds.png", n=3)  # what `hasbench explain` draws
    assert figure.stat().st_size > 0


def test_rerun_after_a_kill_in_stage_2_resumes_without_retraining_stage_1(voc_synth, tmp_path,
                                                                           monkeypatch):
    spec = _spec(voc_synth)

    def killed(*args, **kwargs):
        raise RuntimeError("killed in stage 2")

    monkeypatch.setattr(seeding, "make_seeds", killed)
    first = run_one(spec, tmp_path)
    assert not first.ok and "killed in stage 2" in first.reason
    classifier = Path(first.provenance["work_dir"]) / "classifier"
    done = json.loads((classifier / "stage.json").read_text())
    checkpoint = classifier / done["checkpoint"]
    mtime = checkpoint.stat().st_mtime_ns
    monkeypatch.undo()

    trained = []
    original = TASK.train_and_test
    monkeypatch.setattr(type(TASK), "train_and_test",
                        lambda self, *a, **k: trained.append(a) or original(*a, **k))
    second = run_one(spec, tmp_path, raise_errors=True)
    assert second.ok, second.reason
    assert trained == [] and checkpoint.stat().st_mtime_ns == mtime  # not retrained
    assert (Path(second.provenance["work_dir"]) / "seeds" / "stage.json").is_file()


def test_a_done_stage_whose_outputs_are_gone_is_refused_before_training(voc_synth, tmp_path):
    spec = _spec(voc_synth)
    work = tmp_path / "work" / spec.run_id()
    (work / "classifier").mkdir(parents=True)
    (work / "classifier" / "stage.json").write_text(json.dumps({"checkpoint": "epoch_1.pth"}))
    with pytest.raises(ValueError, match=r"checkpoint .* is missing; delete"):
        run_one(spec, tmp_path)
    (work / "classifier" / "stage.json").unlink()
    (work / "seeds").mkdir()
    (work / "seeds" / "train.txt").write_text("a\nb\n")
    (work / "seeds" / "stage.json").write_text(json.dumps({"images": 2}))
    with pytest.raises(ValueError, match="pseudo masks are incomplete"):
        run_one(spec, tmp_path)
    assert not (tmp_path / "records").exists() or not list((tmp_path / "records").iterdir())


# ----------------------------------------------------------------------------- paper row
def test_paper_model_builds_both_stages_and_takes_imagenet_resnet50_weights(voc_synth, tmp_path):
    import torch
    import torchvision

    weights = tmp_path / "resnet50-0676ba61.pth"  # torchvision's layout (random values)
    torch.save(torchvision.models.resnet50().state_dict(), weights)
    spec = TASK.resolve(RunSpec("wsss", dataset="voc12aug", data_root=str(voc_synth),
                                model="resnet50-deeplabv3", method="has",
                                options=(("pretrained", str(weights)),)))
    TASK.check(spec)
    cfg, params = TASK.build_config(spec)
    assert cfg.model.head.type == "MultiLabelLinearClsHead" and params["input_hw_px"] == [448, 448]
    seg = TASK.build_seg_config(spec, tmp_path / "seeds")
    assert seg.model.decode_head.type == "ASPPHead" and seg.model.backbone.type == "ResNet"
    assert seg.train_dataloader.dataset.data_prefix["seg_map_path"].endswith(seeding.MASK_DIR)
    report = TASK.check_pretrained(spec)
    assert report.loaded > 300 and report.unexpected == 2  # torchvision's fc.weight / fc.bias
    with pytest.raises(ValueError, match="one process"):
        TASK.check(spec.with_options(launcher="slurm"))


def test_a_suite_refuses_a_run_it_cannot_resume_before_training_any(voc_synth, tmp_path,
                                                                     capsys):
    import yaml

    from benchmark.cli import main
    from benchmark.engine import suite as suites

    manifest = tmp_path / "wsss.yaml"
    manifest.write_text(yaml.safe_dump({"name": "wsss-test", "runs": [dict(
        task="wsss", dataset="voc12aug", synthetic=True, data_root=str(voc_synth),
        model="resnet-tiny-fcn", methods=["baseline"], epochs=1, options={"seg_epochs": 1})]}))
    results = tmp_path / "res"
    run = suites.load_suite(str(manifest), results).runs[0]
    seeds = results / "work" / TASK.resolve(run.spec).run_id() / "seeds"
    seeds.mkdir(parents=True)
    (seeds / "stage.json").write_text(json.dumps({"images": 3}))
    assert main(["suite", str(manifest), "--results", str(results)]) == 2
    assert "pseudo masks are incomplete" in capsys.readouterr().err
    assert not list((results / "records").glob("*.json"))
