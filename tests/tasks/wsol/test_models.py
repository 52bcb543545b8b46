"""AlexNet-GAP and GoogLeNet-GAP: map sizes, torchvision key contract, CAMs on data, a short run."""

import math

import numpy as np
import pytest
import torch
import torchvision

from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from tasks import get_task
from tasks.wsol import CONFIGS
from tasks.wsol import synth as wsol_synth

TASK = get_task("wsol")
NETWORKS = {"alexnet-gap": "alexnet_gap", "googlenet-gap": "googlenet_gap"}
DATASET_SUFFIXES = ("tiny_imagenet_64px", "cub_224px", "ilsvrc_224px", "wsoleval_224px")
METRICS = ("top1_cls", "top1_loc", "gt_known_loc", "maxboxaccv2")

pytestmark = pytest.mark.usefixtures("one_thread")


def _models():
    import tasks.wsol.mm  # noqa: F401  (registers the backbones)
    from tasks.wsol import models

    return models


def _build(config_name, num_classes=4):
    from mmengine import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    _models()
    cfg = Config.fromfile(str(TASK.config_dir / config_name))
    cfg.model.head.num_classes = num_classes
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope("mmpretrain"):  # whatever an earlier test set
        return MODELS.build(cfg.model).eval()


def _torchvision_state(network):
    torch.manual_seed(0)
    if network == "alexnet-gap":
        return torchvision.models.alexnet(weights=None).state_dict()
    return torchvision.models.googlenet(weights=None, aux_logits=False,
                                        init_weights=True).state_dict()


def _kept(network, key):
    """Whether the CAM/HaS surgery keeps a torchvision key (AlexNet: conv1-5; GoogLeNet: to 4e)."""
    if network == "alexnet-gap":
        return key.startswith("features.")
    return key.split(".")[0] in _models().GOOGLENET_KEPT


# ------------------------------------------------------------------------- (a) map sizes
@pytest.mark.parametrize(("kwargs", "side", "expected"), [
    ({}, 224, (512, 11, 11)),                 # HaS: pool5 stride 1, 13x13 -> 11x11
    ({}, 227, (512, 11, 11)),                 # CAM's AlexNet+-CAM input size, GAP over 11x11
    ({}, 64, (512, 1, 1)),                    # why the 64-px config upsamples
    ({"input_scale": 2.0}, 64, (512, 5, 5)),  # the 64-px config
    ({"extra_channels": (1024,), "pool5_stride": None}, 224, (1024, 13, 13)),  # CAM paper text
    ({"extra_channels": (1024,), "pool5_stride": None}, 64, (1024, 3, 3)),
])
def test_alexnet_gap_feature_map_sizes(kwargs, side, expected):
    backbone = _models().AlexNetGAP(**kwargs).eval()
    with torch.no_grad():
        out = backbone(torch.randn(2, 3, side, side))
    assert isinstance(out, tuple) and len(out) == 1
    assert tuple(out[0].shape) == (2, *expected)
    assert backbone.out_channels == expected[0]
    assert (out[0] >= 0).all()  # the added convs end with a ReLU


@pytest.mark.parametrize(("side", "hw"), [(64, 4), (224, 14)])
def test_googlenet_gap_feature_map_sizes(side, hw):
    backbone = _models().GoogLeNetGAP().eval()
    with torch.no_grad():
        out = backbone(torch.randn(2, 3, side, side))
    assert isinstance(out, tuple) and len(out) == 1
    assert tuple(out[0].shape) == (2, 1024, hw, hw)
    assert (out[0] >= 0).all()
    assert not hasattr(backbone, "inception5a") and not hasattr(backbone, "aux1")


@pytest.mark.parametrize(("network", "side", "hw"), [
    ("alexnet-gap", 64, 5), ("googlenet-gap", 64, 4), ("alexnet-gap", 224, 11),
    ("googlenet-gap", 224, 14)])
def test_configured_maps_and_cams(network, side, hw):
    """The configs' models: map size per input size, CAM at the input size, CAM method exact."""
    suffix = "tiny_imagenet_64px" if side == 64 else "cub_224px"
    model = _build(f"{NETWORKS[network]}_{suffix}.py")
    assert model.cam_method == "cam"
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        (fmap,) = model.backbone(x)
        logits, cams = model.logits_and_cams(x, torch.tensor([1, 3]))
    assert fmap.shape[-2:] == (hw, hw)
    assert fmap.shape[1] == model.head.fc.in_features
    assert logits.shape == (2, 4) and cams.shape == (2, 2, side, side)


def test_every_config_uses_its_network():
    from mmengine import Config

    for network, stem in NETWORKS.items():
        for suffix in DATASET_SUFFIXES:
            dataset = suffix.rsplit("_", 1)[0].replace("_", "-")
            assert CONFIGS[(network, dataset)] == f"{stem}_{suffix}.py"
            cfg = Config.fromfile(str(TASK.config_dir / f"{stem}_{suffix}.py"))
            assert cfg.model.type == "WSOLClassifier"
            assert cfg.model.backbone.type == {"alexnet-gap": "AlexNetGAP",
                                               "googlenet-gap": "GoogLeNetGAP"}[network]
            assert cfg.model.neck.type == "GlobalAveragePooling"
            assert cfg.model.head.type == "LinearClsHead"
            assert cfg.model.head.in_channels == (512 if network == "alexnet-gap" else 1024)
            scale = cfg.model.backbone.get("input_scale", 1.0)
            assert scale == (2.0 if (network, suffix) == ("alexnet-gap", "tiny_imagenet_64px")
                             else 1.0)
            if network == "alexnet-gap":  # no BatchNorm: the smaller lr of HaS's train.lua
                assert cfg.optim_wrapper.optimizer.lr == 0.01
        assert network in TASK.models


def test_bad_arguments_raise_value_errors():
    models = _models()
    for kwargs in ({"extra_channels": ()}, {"extra_channels": (512, 0)},
                   {"pool5_stride": 0}, {"input_scale": 0}, {"input_scale": "2"}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            models.AlexNetGAP(**kwargs)
    with pytest.raises(ValueError, match="extra_groups"):
        models.GoogLeNetGAP(extra_groups=3)
    with pytest.raises(ValueError, match="extra_channels"):
        models.GoogLeNetGAP(extra_channels=-1)
    assert models.GoogLeNetGAP(extra_groups=2).extra[0].groups == 2  # CAM's prototxt


# ------------------------------------------------------------------ (b) key contract
@pytest.mark.parametrize("network", list(NETWORKS))
def test_torchvision_keys_map_by_prefix_and_new_layers_live_under_extra(network):
    model = _build(f"{NETWORKS[network]}_cub_224px.py")
    ours = model.state_dict()
    theirs = _torchvision_state(network)
    kept = [k for k in theirs if _kept(network, k)]
    dropped = sorted({k.split(".")[0] for k in theirs if not _kept(network, k)})
    assert dropped == (["classifier"] if network == "alexnet-gap"
                       else ["fc", "inception5a", "inception5b"])
    for key in kept:
        assert f"backbone.{key}" in ours, key
        assert ours[f"backbone.{key}"].shape == theirs[key].shape, key
    backbone_keys = {k for k in ours if k.startswith("backbone.")}
    new = backbone_keys - {f"backbone.{k}" for k in kept}
    assert new and all(k.startswith("backbone.extra.") for k in new), sorted(new)
    # a model-zoo file loads by prefix: nothing unexpected, only the new layers missing
    result = model.load_state_dict({f"backbone.{k}": theirs[k] for k in kept}, strict=False)
    assert not result.unexpected_keys
    assert {k for k in result.missing_keys if k.startswith("backbone.")} == new


def test_kept_alexnet_layers_compute_torchvision_features():
    models = _models()
    reference = torchvision.models.alexnet(weights=None).eval()
    backbone = models.AlexNetGAP(pool5_stride=None).eval()
    backbone.load_state_dict(reference.state_dict(), strict=False)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        ours = backbone.features(x)
        theirs = reference.features[:12](x)  # up to relu5; pool5 is index 12
    torch.testing.assert_close(ours, theirs)


def test_kept_googlenet_layers_compute_torchvision_inception4e():
    models = _models()
    reference = torchvision.models.googlenet(weights=None, aux_logits=False,
                                             init_weights=True).eval()
    backbone = models.GoogLeNetGAP().eval()
    missing = backbone.load_state_dict(
        {k: v for k, v in reference.state_dict().items() if _kept("googlenet-gap", k)},
        strict=False).missing_keys
    assert sorted(missing) == ["extra.0.bias", "extra.0.weight"]
    seen = {}
    reference.inception4e.register_forward_hook(lambda mod, args, out: seen.update(out=out))
    captured = {}
    backbone.extra.register_forward_pre_hook(lambda mod, args: captured.update(x=args[0]))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference(x)
        backbone(x)
    torch.testing.assert_close(captured["x"], seen["out"])


# ------------------------------------------------------------- (c) CAMs and boxes on data
def _cams_and_metrics(network, root, n=8):
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from tasks.wsol import boxes
    from tasks.wsol.mm import WSOLMetric

    init_default_scope("mmpretrain")
    spec = TASK.resolve(RunSpec("wsol", dataset="tiny-imagenet", data_root=str(root),
                                model=network))
    cfg, _ = TASK.build_config(spec)
    _models()
    from mmpretrain.registry import MODELS

    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    loader = Runner.build_dataloader(dict(cfg.test_dataloader, batch_size=n, num_workers=0,
                                          persistent_workers=False))
    batch = next(iter(loader))
    data = model.data_preprocessor(batch, False)
    inputs = data["inputs"]
    gt = torch.cat([s.gt_label.view(-1)[:1] for s in data["data_samples"]])
    with torch.no_grad():
        logits, cams = model.logits_and_cams(inputs, gt)
        samples = model.predict(inputs, data["data_samples"])
    assert inputs.shape == (n, 3, 64, 64)
    assert logits.shape == (n, len(loader.dataset.CLASSES))
    assert cams.shape == (n, 2, 64, 64)
    assert torch.isfinite(cams).all() and cams.min() >= 0.0 and cams.max() <= 1.0
    # each non-degenerate map reaches 1 at its peak (min-max normalized)
    assert (cams.flatten(2).amax(-1) > 0.99).float().mean() > 0.5
    # the GT map is the GT class's: for images whose prediction is right the two maps agree
    right = logits.argmax(1) == gt
    torch.testing.assert_close(cams[right, 0], cams[right, 1])
    pred_boxes = boxes.largest_component_boxes(cams.numpy())
    assert pred_boxes.shape == (n, 2, 4) and np.isfinite(pred_boxes).all()
    valid = pred_boxes[..., 0] >= 0
    assert valid.any()
    assert (pred_boxes[valid][:, 2:] >= pred_boxes[valid][:, :2]).all()
    assert (pred_boxes[valid] <= 63).all()
    metric = WSOLMetric()
    metric.dataset_meta = {}
    metric.process(batch, [s.to_dict() for s in samples])
    values = metric.evaluate(n)
    for key in METRICS:
        value = values[f"wsol/{key}"]
        assert math.isfinite(value) and 0.0 <= value <= 100.0, (key, value)
    assert values["wsol/top1_loc"] <= values["wsol/top1_cls"] + 1e-9
    return values


@pytest.mark.parametrize("network", list(NETWORKS))
def test_cams_and_metrics_on_real_tiny_imagenet(network, shared_data):
    root = shared_data / "tiny-imagenet-10"
    if not root.is_dir():
        pytest.skip(f"real Tiny ImageNet subset not found at {root}")
    _cams_and_metrics(network, root)


@pytest.fixture(scope="module")
def generated_tiny(tmp_path_factory):
    return wsol_synth.write_tiny_imagenet(tmp_path_factory.mktemp("tiny-gen") / "tiny", seed=0)


@pytest.mark.parametrize("network", list(NETWORKS))
def test_cams_and_metrics_on_generated_tiny_imagenet(network, generated_tiny):
    _cams_and_metrics(network, generated_tiny)


# ------------------------------------------------------------ (d) a short run each
@pytest.fixture(scope="module")
def small_tiny(tmp_path_factory):
    spec = wsol_synth.SynthSpec(num_classes=2, train_per_class=3, test_per_class=2, side_px=32)
    return wsol_synth.write_tiny_imagenet(tmp_path_factory.mktemp("tiny-small") / "tiny",
                                          seed=0, spec=spec)


@pytest.mark.slow
@pytest.mark.parametrize("network", list(NETWORKS))
def test_one_epoch_run_through_the_task(network, small_tiny, tmp_path):
    spec = RunSpec("wsol", method="has", dataset="tiny-imagenet", data_root=str(small_tiny),
                   model=network, epochs=1, synthetic=True,
                   options=(("batch_size", 6), ("eval_batch_size", 4)))
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.ok and record.status == "ok"
    assert record.model == network
    assert set(record.metrics) == set(METRICS)
    for value in record.metrics.values():
        assert 0.0 <= value <= 100.0
    assert record.history
    work = tmp_path / "work" / record.run_id
    with np.load(work / record.artifacts["cams"]) as cams:
        assert cams["cams"].shape == (4, 2, 64, 64)
    assert list(work.glob("*.pth")), "no checkpoint written"


def test_alexnet_config_initializes_convs_kaiming():
    """Without BatchNorm, AlexNet-GAP trains from scratch only with the configs' Kaiming init."""
    model = _build("alexnet_gap_tiny_imagenet_64px.py")
    before = model.backbone.extra[1].weight.detach().clone()
    model.init_weights()
    for conv in (model.backbone.features[0], model.backbone.extra[1], model.backbone.extra[3]):
        fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
        assert conv.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.1)
        assert not conv.bias.any()
    assert not torch.equal(before, model.backbone.extra[1].weight)
