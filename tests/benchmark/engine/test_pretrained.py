"""Local pretrained weights: checkpoints written here from random torchvision models are loaded
into the mmpretrain / mmseg / torchreid models and must arrive bit-equal."""

import hashlib
import re

import pytest
import torch
import torchvision

from benchmark.engine import compat, pretrained
from benchmark.engine.pretrained import (
    check_pretrained,
    file_sha256,
    load_pretrained,
    match_state_dict,
    read_state_dict,
    resolve_weights,
    weights_dir,
)

compat.apply()

from mmpretrain.registry import MODELS  # noqa: E402
from mmpretrain.utils import register_all_modules  # noqa: E402

register_all_modules()
import mmseg.models  # noqa: E402,F401
import torchreid  # noqa: E402

import tasks.wsol.mm  # noqa: E402,F401  (registers VGGGAP)

CLS_NEW = ("head.",)


def _classifier(backbone: dict, in_channels: int, num_classes: int = 10):
    return MODELS.build(dict(type="ImageClassifier", backbone=backbone,
                             neck=dict(type="GlobalAveragePooling"),
                             head=dict(type="LinearClsHead", num_classes=num_classes,
                                       in_channels=in_channels)))


def _mmseg_backbone(kind: str, depth: int):
    return MODELS.build(dict(type=f"mmseg.{kind}", depth=depth))


def _save(path, obj):
    torch.save(obj, path)
    return path


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _torchvision_file(tmp_path_factory, name: str, **kwargs):
    torch.manual_seed(0)
    state = getattr(torchvision.models, name)(weights=None, **kwargs).state_dict()
    return _save(tmp_path_factory.mktemp(name) / f"{name}.pth", state), state


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    return _torchvision_file(tmp_path_factory, "resnet18")


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    return _torchvision_file(tmp_path_factory, "resnet50")


def _vgg_state(depth: int, batch_norm: bool):
    """torchvision's vggN(_bn) state dict: real random ``features``; the 100M-parameter FC
    stack (never loaded) gets the zoo's key names with tiny tensors, to keep the test fast."""
    torch.manual_seed(0)
    cfg = {11: "A", 16: "D"}[depth]
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs[cfg], batch_norm)
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    with torch.device("meta"):
        reference = getattr(torchvision.models, f"vgg{depth}{'_bn' if batch_norm else ''}")()
    for key in reference.state_dict():
        if key.startswith("classifier."):
            state[key] = torch.zeros(3)
    assert list(state) == list(reference.state_dict())  # same keys, same order as the zoo file
    return state


def _assert_loaded(model, source, mapping):
    target = model.state_dict()
    for src_key, dst_key in mapping.items():
        assert torch.equal(target[dst_key], source[src_key]), (src_key, dst_key)


def test_torchvision_resnet18_into_mmpretrain_classifier(resnet18_file):
    path, source = resnet18_file
    model = _classifier(dict(type="ResNet", depth=18), 512)
    head_before = _state(model.head)
    report = load_pretrained(model, path, new_prefixes=CLS_NEW)
    kept = {k: f"backbone.{k}" for k in source if not k.startswith("fc.")}
    _assert_loaded(model, source, kept)
    assert report.rule == "prefix 'backbone.'"
    assert (report.loaded, report.missing, report.unexpected) == (len(kept), 2, 2) == (120, 2, 2)
    assert set(report.missing_keys) == {"head.fc.weight", "head.fc.bias"}
    assert set(report.unexpected_keys) == {"fc.weight", "fc.bias"}
    assert all(torch.equal(v, model.head.state_dict()[k]) for k, v in head_before.items())
    assert report.sha256 == file_sha256(path) and report.path == str(path)
    assert report.as_record() == {
        "path": str(path), "sha256": report.sha256, "loaded": 120, "missing": 2,
        "unexpected": 2, "rule": "prefix 'backbone.'",
        "missing_keys": list(report.missing_keys), "unexpected_keys": ["fc.weight", "fc.bias"]}


def test_old_zoo_file_without_num_batches_tracked_still_loads(resnet18_file, tmp_path):
    _, source = resnet18_file
    old = {k: v for k, v in source.items() if not k.endswith("num_batches_tracked")}
    model = _classifier(dict(type="ResNet", depth=18), 512)
    report = load_pretrained(model, _save(tmp_path / "old.pth", old), new_prefixes=CLS_NEW)
    assert report.loaded == len(old) - 2
    assert report.missing == 2 + (len(source) - len(old))
    _assert_loaded(model, old, {k: f"backbone.{k}" for k in old if not k.startswith("fc.")})


def test_torchvision_resnet50_into_mmseg_resnet_but_not_v1c(resnet50_file):
    path, source = resnet50_file
    model = _mmseg_backbone("ResNet", 50)
    report = load_pretrained(model, path, new_prefixes=())
    assert report.rule == "prefix ''"
    assert (report.loaded, report.missing, report.unexpected) == (len(source) - 2, 0, 2)
    _assert_loaded(model, source, {k: k for k in source if not k.startswith("fc.")})

    v1c = _mmseg_backbone("ResNetV1c", 50)
    before = _state(v1c)
    with pytest.raises(ValueError, match="architecture mismatch") as err:
        load_pretrained(v1c, path, new_prefixes=())
    message = str(err.value)
    assert "stem.0.weight" in message and "ResNetV1c" in message and "v1c" in message
    assert str(path) in message and "README" in message
    assert all(torch.equal(v, v1c.state_dict()[k]) for k, v in before.items())  # untouched


def test_torchvision_resnet50_into_torchreid_with_and_without_module_prefix(resnet50_file,
                                                                              tmp_path):
    path, source = resnet50_file
    wrapped = _save(tmp_path / "reid.pth.tar", {
        "state_dict": {f"module.{k}": v for k, v in source.items()}, "epoch": 3, "rank1": 0.5})
    kept = {k: k for k in source if not k.startswith("fc.")}
    for file in (path, wrapped):
        model = torchreid.models.build_model("resnet50", num_classes=5, pretrained=False)
        report = load_pretrained(model, file, new_prefixes=("classifier.",))
        _assert_loaded(model, source, kept)
        assert report.rule == "prefix ''"
        assert (report.loaded, report.missing, report.unexpected) == (len(kept), 2, 2)
        assert set(report.missing_keys) == {"classifier.weight", "classifier.bias"}


def test_openmmlab_checkpoints_round_trip(tmp_path):
    torch.manual_seed(1)
    trained = _classifier(dict(type="ResNet", depth=18), 512)
    source = trained.state_dict()
    file = _save(tmp_path / "mmpretrain.pth", {"state_dict": source, "meta": {"epoch": 9}})
    model = _classifier(dict(type="ResNet", depth=18), 512)
    report = load_pretrained(model, file, new_prefixes=CLS_NEW)
    assert report.rule == "prefix 'backbone.'" and report.loaded == 120
    _assert_loaded(model, source, {k: k for k in source if k.startswith("backbone.")})
    assert set(report.unexpected_keys) == {"head.fc.weight", "head.fc.bias"}  # heads are new

    # The same backbone-prefixed file into a bare mmseg backbone: "backbone." is dropped.
    seg = _mmseg_backbone("ResNet", 18)
    report = load_pretrained(seg, file, new_prefixes=())
    assert report.rule == "prefix ''" and report.loaded == 120
    _assert_loaded(seg, source, {k: k[len("backbone."):] for k in source
                                 if k.startswith("backbone.")})

    # An open-mmlab ResNetV1c file (raw keys "stem.0.weight", ...) into mmseg's ResNetV1c.
    v1c_source = _mmseg_backbone("ResNetV1c", 18).state_dict()
    assert "stem.0.weight" in v1c_source
    v1c_file = _save(tmp_path / "resnet18_v1c.pth", {"state_dict": v1c_source, "meta": {}})
    v1c = _mmseg_backbone("ResNetV1c", 18)
    report = load_pretrained(v1c, v1c_file, new_prefixes=())
    assert (report.rule, report.loaded, report.missing) == ("prefix ''", len(v1c_source), 0)
    _assert_loaded(v1c, v1c_source, {k: k for k in v1c_source})


def test_mmengine_training_checkpoint_with_message_hub_is_read(tmp_path):
    from mmengine.logging import HistoryBuffer

    buffer = HistoryBuffer()
    buffer.update(0.5)
    file = _save(tmp_path / "epoch_1.pth", {
        "state_dict": {"backbone.w": torch.ones(2)},
        "message_hub": {"log_scalars": {"train/loss": buffer}}})
    assert list(read_state_dict(file)) == ["backbone.w"]


def _vgg_gap(norm: bool, depth: int = 16):
    backbone = dict(type="VGGGAP", depth=depth, extra_channels=1024,
                    norm_cfg=dict(type="BN") if norm else None)
    return _classifier(backbone, 1024)


def _vgg_pairs(source, model, kinds):
    """Pair source ``features.i`` and target ``features.j.<kind>`` modules by order."""
    def order(keys, pattern):
        found = {}
        for key in keys:
            if hit := re.fullmatch(pattern, key):
                found.setdefault(int(hit[1]), []).append(key)
        return [found[i] for i in sorted(found)]

    pairs = {}
    for kind, is_kind in kinds.items():
        src = [g for g in order(source, r"features\.(\d+)\.\w+") if is_kind(source, g)]
        dst = order(model.state_dict(), rf"backbone\.features\.(\d+)\.{kind}\.\w+")
        assert len(src) == len(dst)
        for src_group, dst_group in zip(src, dst, strict=True):
            pairs.update(zip(src_group, dst_group, strict=True))
    return pairs


def _is_conv(source, group):
    return source[group[0]].dim() == 4


def test_torchvision_vgg16_bn_into_vgg_gap_by_conv_order(tmp_path):
    source = _vgg_state(16, batch_norm=True)
    path = _save(tmp_path / "vgg16_bn.pth", source)
    model = _vgg_gap(norm=True)
    report = load_pretrained(model, path, new_prefixes=("head.", "backbone.extra."))
    pairs = _vgg_pairs(source, model, {"conv": _is_conv,
                                       "bn": lambda s, g: not _is_conv(s, g)})
    assert pairs["features.0.weight"] == "backbone.features.0.conv.weight"
    assert pairs["features.1.running_var"] == "backbone.features.0.bn.running_var"
    assert pairs["features.40.weight"] == "backbone.features.16.conv.weight"
    assert pairs["features.41.weight"] == "backbone.features.16.bn.weight"
    _assert_loaded(model, source, pairs)
    assert report.rule == "vgg by conv order"
    assert (report.loaded, report.missing, report.unexpected) == (len(pairs), 4, 6) == (91, 4, 6)
    assert set(report.missing_keys) == {"backbone.extra.0.weight", "backbone.extra.0.bias",
                                        "head.fc.weight", "head.fc.bias"}


def test_plain_vgg_loads_into_plain_vgg_gap_and_fails_on_the_bn_one(tmp_path):
    source = _vgg_state(11, batch_norm=False)
    path = _save(tmp_path / "vgg11.pth", source)
    model = _vgg_gap(norm=False, depth=11)
    report = load_pretrained(model, path, new_prefixes=("head.", "backbone.extra."))
    pairs = _vgg_pairs(source, model, {"conv": _is_conv})
    _assert_loaded(model, source, pairs)
    assert (report.rule, report.loaded) == ("vgg by conv order", 16)

    with pytest.raises(ValueError, match="architecture mismatch") as err:
        load_pretrained(_vgg_gap(norm=True, depth=11), path,
                        new_prefixes=("head.", "backbone.extra."))
    message = str(err.value)
    assert "backbone.features.0.bn.weight" in message and "vgg16_bn-*.pth" in message
    assert "vgg by conv order" in message and "prefix 'backbone.'" in message


def test_wrong_architecture_names_the_key_and_both_shapes(resnet18_file):
    path, _ = resnet18_file
    shapes = {k: v.shape for k, v in _mmseg_backbone("ResNet", 50).state_dict().items()}
    with pytest.raises(ValueError) as err:
        check_pretrained(shapes, path, new_prefixes=(), model_name="ResNet-50")
    message = str(err.value)
    assert "layer1.0.conv1.weight: checkpoint (64, 64, 3, 3) vs model (64, 64, 1, 1)" in message
    assert "layer1.0.conv3.weight" in message  # a missing key is listed too
    assert "does not fit ResNet-50" in message


def test_shape_mismatch_inside_new_prefixes_counts_as_unexpected():
    source = {"w": torch.ones(3), "head.fc.weight": torch.ones(1000, 4)}
    target = {"w": (3,), "head.fc.weight": (10, 4)}
    converted, report = match_state_dict(source, target, new_prefixes=("head.",))
    assert list(converted) == ["w"] and report.rule == "prefix ''"
    assert (report.loaded, report.missing, report.unexpected) == (1, 1, 1)
    with pytest.raises(ValueError, match=r"head\.fc\.weight: checkpoint \(1000, 4\) vs model"):
        match_state_dict(source, target, new_prefixes=())


def test_missing_file_names_the_paths_and_the_expected_file(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.WEIGHTS_ENV, str(tmp_path / "weights"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError) as err:
        resolve_weights("resnet50-0676ba61.pth", expected="resnet50-0676ba61.pth")
    message = str(err.value)
    assert str(tmp_path / "weights" / "resnet50-0676ba61.pth") in message
    assert str(tmp_path / "resnet50-0676ba61.pth") in message
    assert "expected file: resnet50-0676ba61.pth" in message
    assert "HASBENCH_WEIGHTS" in message and "--pretrained" in message
    with pytest.raises(ValueError, match="not a file"):
        resolve_weights(tmp_path)
    with pytest.raises(ValueError, match=str(tmp_path / "nope.pth")):
        load_pretrained(torch.nn.Linear(1, 1), tmp_path / "nope.pth", new_prefixes=())


def test_relative_names_resolve_in_cwd_first_then_weights_dir(tmp_path, monkeypatch):
    folder, cwd = tmp_path / "weights", tmp_path / "cwd"
    folder.mkdir()
    cwd.mkdir()
    monkeypatch.setenv(pretrained.WEIGHTS_ENV, str(folder))
    monkeypatch.chdir(cwd)
    (folder / "a.pth").write_bytes(b"x")
    assert resolve_weights("a.pth") == folder / "a.pth"
    (cwd / "a.pth").write_bytes(b"y")
    assert resolve_weights("a.pth") == cwd / "a.pth"
    assert resolve_weights(folder / "a.pth") == folder / "a.pth"


def test_weights_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HASBENCH_WEIGHTS", str(tmp_path))
    assert weights_dir() == tmp_path
    monkeypatch.delenv("HASBENCH_WEIGHTS")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert weights_dir() == tmp_path / "torch" / "hub" / "checkpoints"


def test_file_sha256_matches_hashlib(tmp_path):
    data = bytes(range(256)) * 9000  # > 1 chunk
    file = tmp_path / "blob.bin"
    file.write_bytes(data)
    assert file_sha256(file) == hashlib.sha256(data).hexdigest()


def test_read_state_dict_unwraps_and_rejects_non_state_dicts(tmp_path):
    weight = torch.arange(4.0)
    for wrapper in ("model", "net"):
        file = _save(tmp_path / f"{wrapper}.pth", {wrapper: {"fc.weight": weight}, "epoch": 1})
        assert torch.equal(read_state_dict(file)["fc.weight"], weight)
    for bad in ({"epoch": 1}, [weight]):
        file = _save(tmp_path / "bad.pth", bad)
        with pytest.raises(ValueError, match=re.escape(f"checkpoint {file} holds no tensor")):
            read_state_dict(file)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        read_state_dict(garbage)


def test_torchvision_alexnet_and_googlenet_into_the_gap_backbones(tmp_path):
    import tasks.wsol.models  # noqa: F401  (registers AlexNetGAP, GoogLeNetGAP)

    torch.manual_seed(0)
    alexnet = torchvision.models.alexnet(weights=None).state_dict()
    # The 58M-parameter FC stack is never loaded: keep its keys, shrink its tensors (speed).
    alexnet = {k: torch.zeros(3) if k.startswith("classifier.") else v for k, v in alexnet.items()}
    # The zoo's GoogLeNet file holds the auxiliary classifiers too.
    googlenet = torchvision.models.googlenet(weights=None, aux_logits=True,
                                             init_weights=True).state_dict()
    cases = [("AlexNetGAP", 512, alexnet, ("classifier.",), 10, 4),
             ("GoogLeNetGAP", 1024, googlenet, ("inception5", "aux1.", "aux2.", "fc."), 270, 2)]
    for backbone, channels, source, dropped, kept_count, added in cases:
        path = _save(tmp_path / f"{backbone}.pth", source)
        model = _classifier(dict(type=backbone), channels)
        report = load_pretrained(model, path, new_prefixes=("head.", "backbone.extra."))
        kept = {k: f"backbone.{k}" for k in source if not k.startswith(dropped)}
        _assert_loaded(model, source, kept)
        assert report.rule == "prefix 'backbone.'"
        assert (report.loaded, report.missing, report.unexpected) == (
            len(kept), added + 2, len(source) - len(kept))
        assert report.loaded == kept_count
        assert all(k.startswith(("backbone.extra.", "head.")) for k in report.missing_keys)
