"""WSOL end to end: a short run of every method through the runner -> all metric rows; figures."""

import json

import numpy as np
import pytest

from benchmark.engine import records
from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from tasks import get_task
from tasks.wsol import synth as wsol_synth

TASK = get_task("wsol")
METHODS = ["baseline", "random_erasing", "has"]
#: 64-pixel inputs: the paper's cells scaled by 64/224, e.g. 56 -> 16.
GRIDS = {"has": [0, 5, 9, 13, 16], "has-16": [5], "has-32": [9], "has-44": [13], "has-56": [16]}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("wsol-tiny") / "tiny-imagenet"
    spec = wsol_synth.SynthSpec(num_classes=2, train_per_class=3, test_per_class=2, side_px=32)
    return wsol_synth.write_tiny_imagenet(root, seed=0, spec=spec)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return tmp_path_factory.mktemp("wsol-results")


def _spec(root, method):
    return RunSpec("wsol", method=method, dataset="tiny-imagenet", data_root=str(root),
                   model="resnet18-small", epochs=1, synthetic=True,
                   options=(("batch_size", 6), ("eval_batch_size", 4)))


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_short_run_writes_every_metric(tiny_data, results, method, input_spy):
    record = run_one(_spec(tiny_data, method), results, raise_errors=True)
    assert record.ok and record.dataset == "tiny-imagenet-synth"
    assert set(record.metrics) == {"top1_cls", "top1_loc", "gt_known_loc", "maxboxaccv2"}
    for value in record.metrics.values():
        assert 0.0 <= value <= 100.0
    # Top-1 Loc needs the class right, so it can never beat Top-1 Cls or GT-known Loc
    assert record.metrics["top1_loc"] <= record.metrics["top1_cls"] + 1e-9
    assert record.metrics["top1_loc"] <= record.metrics["gt_known_loc"] + 1e-9
    assert record.history and "maxboxaccv2" in record.history[-1]
    work = results / "work" / record.run_id
    assert (work / record.artifacts["cam_examples"]).stat().st_size > 0
    with np.load(work / record.artifacts["cams"]) as cams:
        assert cams["cams"].shape == (4, 2, 64, 64)
        assert 0.0 <= cams["cams"].min() and cams["cams"].max() <= 1.0
    saved = records.read_record(results / "records" / f"{record.run_id}.json")
    assert saved.metrics == record.metrics
    if method == "has":
        assert record.method_params["has_grid_sizes_px"] == GRIDS["has"]
    input_spy.check(method)


@pytest.mark.slow
def test_preprocessor_placement_run_hides_training_batches_only(tiny_data, tmp_path, input_spy):
    spec = _spec(tiny_data, "has").with_options(has_placement="preprocessor")
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.ok and record.method_params["has_placement"] == "preprocessor"
    input_spy.check("has")


@pytest.mark.parametrize("method", sorted(GRIDS))
def test_fixed_grid_variants_configure_their_scaled_grid(tiny_data, method):
    """The variants differ from ``has`` only in the grid: checked in the config, not trained."""
    cfg, params = TASK.build_config(TASK.resolve(_spec(tiny_data, method)))
    assert params["has_grid_sizes_px"] == GRIDS[method]
    stages = [t for t in cfg.train_dataloader.dataset.pipeline
              if str(t["type"]).endswith("HideAndSeek")]
    assert len(stages) == 1 and list(stages[0]["grid_sizes"]) == GRIDS[method]
    for loader in ("val_dataloader", "test_dataloader"):
        assert not any("HideAndSeek" in str(t["type"]) for t in cfg[loader].dataset.pipeline)


@pytest.mark.slow
def test_explain_puts_runs_side_by_side(tiny_data, results, tmp_path):
    from tasks.wsol import explain

    dirs = []
    for method in ("baseline", "has"):
        # the work dirs exist: run_one resumes from their last checkpoint and only re-tests
        record = run_one(_spec(tiny_data, method), results, raise_errors=True)
        dirs.append(results / "work" / record.run_id)
        assert json.loads((dirs[-1] / "spec.json").read_text())["method"] == method
    out = explain(dirs, tmp_path / "side_by_side.png", n=4)
    from PIL import Image

    with Image.open(out) as image:
        width, height = image.size
    assert width > height  # 4 images x 2 runs in one row
    # without cams.npz the figure is rebuilt from the checkpoint
    (dirs[0] / "cams.npz").unlink()
    assert explain(dirs[:1], tmp_path / "from_checkpoint.png", n=2).is_file()


def test_explain_rejects_a_folder_that_is_not_a_run(tmp_path):
    from tasks.wsol import explain

    with pytest.raises(ValueError, match=r"spec\.json"):
        explain([tmp_path], tmp_path / "x.png")


def test_wsol_metric_in_isolation():
    """The registered metric turns per-sample maps and boxes into the four numbers."""
    import torch

    from tasks.wsol.mm import WSOLMetric

    cam = torch.zeros(2, 16, 16)
    cam[:, 4:12, 4:12] = 1.0
    metric = WSOLMetric()
    metric.dataset_meta = {}
    samples = [
        {"cams": cam, "pred_label": torch.tensor([1]), "gt_label": torch.tensor([1]),
         "gt_bboxes": np.array([[4, 4, 11, 11]])},
        {"cams": cam, "pred_label": torch.tensor([0]), "gt_label": torch.tensor([1]),
         "gt_bboxes": np.array([[0, 0, 1, 1], [4, 4, 11, 11]])},
    ]
    metric.process({}, samples)
    values = metric.evaluate(2)
    assert values["wsol/top1_cls"] == 50.0
    assert values["wsol/top1_loc"] == 50.0
    assert values["wsol/gt_known_loc"] == 100.0
    assert values["wsol/maxboxaccv2"] == 100.0
    with pytest.raises(ValueError, match="gt_bboxes"):
        metric.process({}, [{"cams": cam, "pred_label": torch.tensor([0]),
                             "gt_label": torch.tensor([0])}])


def test_vgg16_gap_and_resnet50_build_with_cam_heads():
    """The paper's models build from their configs; CAMs come out at the input size."""
    import torch
    from mmengine import Config
    from mmpretrain.registry import MODELS

    import tasks.wsol.mm  # noqa: F401

    for name in ("vgg16_gap_cub_224px.py", "resnet50_cub_224px.py"):
        cfg = Config.fromfile(str(TASK.config_dir / name))
        cfg.model.head.num_classes = 3
        model = MODELS.build(cfg.model).eval()
        assert model.cam_method == "cam"
        with torch.no_grad():
            logits, cams = model.logits_and_cams(torch.randn(1, 3, 64, 64), torch.tensor([2]))
        assert logits.shape == (1, 3) and cams.shape == (1, 2, 64, 64)


def test_gradcam_fallback_for_heads_that_are_not_gap_linear():
    import torch
    from mmpretrain.registry import MODELS

    import tasks.wsol.mm  # noqa: F401

    def model_cfg(**extra):
        return dict(
            type="WSOLClassifier",
            backbone=dict(type="ResNet_CIFAR", depth=18, stem_channels=8, base_channels=8,
                          out_indices=(3,)),
            neck=dict(type="GlobalAveragePooling"),
            head=dict(type="StackedLinearClsHead", num_classes=3, in_channels=64,
                      mid_channels=[16]),
            **extra,
        )

    model = MODELS.build(model_cfg()).eval()
    assert model.cam_method == "gradcam"
    with torch.no_grad():  # as in mmengine's test loop: Grad-CAM turns gradients back on
        logits, cams = model.logits_and_cams(torch.randn(2, 3, 32, 32), torch.tensor([0, 2]))
    assert logits.shape == (2, 3) and cams.shape == (2, 2, 32, 32)
    assert 0.0 <= cams.min() and cams.max() <= 1.0
    with pytest.raises(ValueError, match="gradcam"):
        MODELS.build(model_cfg(cam_method="cam"))


def _whole_image_expectation(root, side_px=64):
    """GT-known Loc and MaxBoxAccV2 of the whole-image box, from the val annotations by hand.

    Every GT box lies inside the 64x64 image, so IoU(whole, gt) = area(gt) / 64^2 (inclusive
    pixel areas, as both protocols count them).
    """
    ious = []
    for line in (root / "val" / "val_annotations.txt").read_text().splitlines():
        x0, y0, x1, y1 = map(int, line.split()[2:6])
        ious.append((x1 - x0 + 1) * (y1 - y0 + 1) / side_px**2)
    ious = np.array(ious)
    per_iou = [100 * (ious >= d).mean() for d in (0.3, 0.5, 0.7)]
    return 100 * (ious >= 0.5).mean(), float(np.mean(per_iou)), len(ious)


def test_full_image_reference_trains_nothing_and_scores_the_whole_box(tiny_data, tmp_path):
    record = run_one(_spec(tiny_data, "full-image"), tmp_path, raise_errors=True)
    gt_known, maxbox, images = _whole_image_expectation(tiny_data)
    assert record.ok and record.history == []
    assert record.metrics["top1_cls"] is None and record.metrics["top1_loc"] is None
    assert record.metrics["gt_known_loc"] == pytest.approx(gt_known)
    assert record.metrics["maxboxaccv2"] == pytest.approx(maxbox)
    assert record.extra["test_images"] == images
    assert not list((tmp_path / "work" / record.run_id).glob("*.pth"))  # nothing trained


def test_full_image_on_the_real_tiny_imagenet_subset(tmp_path):
    from benchmark.engine.paths import data_dir

    root = data_dir() / "tiny-imagenet-10"
    if not (root / "val" / "val_annotations.txt").is_file():
        pytest.skip(f"real subset not at {root} (see ../shared/data/README.md)")
    record = run_one(_spec(root, "full-image"), tmp_path, raise_errors=True)
    gt_known, maxbox, images = _whole_image_expectation(root)
    assert record.metrics["gt_known_loc"] == pytest.approx(gt_known)
    assert record.metrics["maxboxaccv2"] == pytest.approx(maxbox)
    assert images == record.extra["test_images"] == 500


def test_listing_shows_the_paper_networks_and_the_reference_method(capsys):
    from benchmark.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "alexnet-gap" in out and "googlenet-gap" in out and "full-image" in out
