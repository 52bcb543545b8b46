"""``has-conv``: HaS on a named feature map, by a forward hook, in training only."""

import logging
from types import SimpleNamespace

import pytest
import torch

from benchmark.cli import main
from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from benchmark.methods import METHODS, method_for
from tasks import get_task
from tasks.wsol import synth as wsol_synth

WSOL = get_task("wsol")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_wsol(tmp_path_factory):
    spec = wsol_synth.SynthSpec(num_classes=2, train_per_class=3, test_per_class=2, side_px=32)
    return wsol_synth.write_tiny_imagenet(tmp_path_factory.mktemp("conv-hiding") / "tiny",
                                          seed=0, spec=spec)


def _spec(root, **options):
    return WSOL.resolve(RunSpec("wsol", method="has-conv", dataset="tiny-imagenet",
                                data_root=str(root), model="alexnet-gap", epochs=1,
                                synthetic=True).with_options(**options))


def _hooked_model(spec):
    """The spec's model with its configured has-conv hook attached (as before_train does)."""
    from mmengine.registry import HOOKS

    cfg, _ = WSOL.build_config(spec)
    (hook_cfg,) = [h for h in cfg.custom_hooks if h["type"] == "HideFeatureCellsHook"]
    hook = HOOKS.build(hook_cfg)
    torch.manual_seed(0)
    model = WSOL.build_model(spec)
    hook.before_train(SimpleNamespace(model=model, logger=logging.getLogger("test")))
    return model, hook


def _outputs(model, x, names):
    """What each named module returns (after forward hooks) for one forward of ``x``."""
    seen = {}
    handles = [model.get_submodule(n).register_forward_hook(
        lambda mod, args, out, n=n: seen.__setitem__(n, out.detach().clone())) for n in names]
    model(x, mode="tensor")
    for handle in handles:
        handle.remove()
    return seen


def test_paper_defaults_and_method_entry():
    method = METHODS["has-conv"]
    assert method.hides_features and not method.hides and not method.erases
    assert method.grid_sizes_px == (5, 11) and method.hide_prob == 0.5
    assert method.feature_layer is None
    assert "has-conv" in get_task("classification").methods and "has-conv" in WSOL.methods


def test_named_layer_has_zero_cells_in_training_and_none_in_eval(tiny_wsol):
    spec = _spec(tiny_wsol, has_conv_layer="backbone.features.0", has_conv_grid_sizes=[5],
                 has_conv_hide_prob=0.5)
    model, hook = _hooked_model(spec)
    assert hook.layer_name == "backbone.features.0"
    # the hook is on the named layer only
    hooked = [n for n, m in model.named_modules() if m._forward_hooks]
    assert hooked == ["backbone.features.0"]
    x = torch.randn(4, 3, 64, 64)
    names = ["backbone.features.0", "backbone.features.3"]
    with torch.no_grad():
        model.train()
        train = _outputs(model, x, names)
        model.eval()
        evaluation = _outputs(model, x, names)
        hook.detach()
        model.train()
        plain = _outputs(model, x, names)
    conv1 = train["backbone.features.0"]  # (4, 64, 31, 31) at 64 px upsampled to 128
    assert conv1.shape == (4, 64, 31, 31)
    hidden = (conv1 == 0).all(dim=1)  # all channels of a hidden position are 0
    assert 0.2 < hidden.float().mean() < 0.8
    # cells of 3 map pixels (5 at the 55-pixel reference, scaled to 31: round(5*31/55) = 3)
    cells = hidden[:, ::3, ::3]
    expanded = cells.repeat_interleave(3, 1).repeat_interleave(3, 2)[:, :31, :31]
    assert torch.equal(hidden, expanded)
    # visible positions keep the layer's own output; in eval nothing is hidden
    assert torch.equal(conv1[~hidden[:, None].expand_as(conv1)],
                       plain["backbone.features.0"][~hidden[:, None].expand_as(conv1)])
    assert torch.equal(evaluation["backbone.features.0"], model.backbone.features[0](
        model.backbone._scaled(x)))
    assert not (evaluation["backbone.features.0"] == 0).all(dim=1).any()
    # a later layer sees the hidden map but is not hidden itself (no zero cells of its own)
    assert not (train["backbone.features.3"] == 0).all(dim=1).any()
    assert not torch.equal(train["backbone.features.3"], plain["backbone.features.3"])


def test_hidden_activations_get_no_gradient(device):
    from benchmark.pipelines.conv_hiding import hide_cells

    features = torch.randn(2, 8, 55, 55, device=device, requires_grad=True)
    generator = torch.Generator(device=device).manual_seed(0)
    out = hide_cells(features, [11], 0.5, generator)
    out.sum().backward()
    hidden = (out == 0).all(dim=1, keepdim=True).expand_as(features)
    assert hidden.any() and (~hidden).any()
    assert (features.grad[hidden] == 0).all() and (features.grad[~hidden] == 1).all()
    with pytest.raises(ValueError, match="N x C x H x W"):
        hide_cells(torch.zeros(2, 8), [5], 0.5)


def test_default_layer_is_the_backbones_first_conv(tiny_wsol, tiny_cifar10):
    _, hook = _hooked_model(_spec(tiny_wsol))
    assert hook.layer_name == "backbone.features.0"  # AlexNet's conv1, the paper's layer
    task = get_task("classification")
    spec = task.resolve(RunSpec("classification", method="has-conv", dataset="cifar10",
                                data_root=str(tiny_cifar10), model="resnet-tiny-cifar"))
    from benchmark.pipelines.conv_hiding import resolve_layer

    name, module = resolve_layer(task.build_model(spec), None)
    assert name == "backbone.conv1" and isinstance(module, torch.nn.Conv2d)


def _cli(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr()


@pytest.mark.parametrize(("options", "message"), [
    (["has_conv_layer=backbone.nope"], "valid names under 'backbone': backbone.conv1"),
    (["has_conv_layer=backbone.conv1..x"], "dotted name"),
    (["has_conv_grid_sizes=[5,-1]"], "option has_conv_grid_sizes"),
    (["has_conv_hide_prob=2"], "option has_conv_hide_prob"),
])
def test_bad_has_conv_options_exit_2_before_training(capsys, tmp_path, tiny_cifar10, options,
                                                     message):
    results = tmp_path / "res"
    pairs = [a for o in options for a in ("--option", o)]
    code, out = _cli(capsys, "run", "classification", "--method", "has-conv", "--dataset",
                     "cifar10", "--data-root", str(tiny_cifar10), "--model",
                     "resnet-tiny-cifar", "--results", str(results), *pairs)
    assert code == 2 and message in out.err, out.err
    assert not (results / "records").exists()


def test_has_conv_options_need_the_has_conv_method():
    with pytest.raises(ValueError, match="use method 'has-conv'"):
        method_for("has", {"has_conv_layer": "backbone.conv1"})
    method = method_for("has-conv", {"has_conv_grid_sizes": "11", "has_conv_hide_prob": 0.25})
    assert method.grid_sizes_px == (11,) and method.hide_prob == 0.25


def test_layer_is_part_of_the_run_id(tiny_wsol):
    assert _spec(tiny_wsol).run_id() != _spec(
        tiny_wsol, has_conv_layer="backbone.features.3").run_id()


@pytest.mark.slow
def test_short_run_hides_the_layer_in_training_only(tiny_wsol, tmp_path, monkeypatch):
    from benchmark.pipelines import conv_hiding

    seen = {True: [], False: []}
    hide = conv_hiding.HideFeatureCellsHook._hide

    def spying_hide(self, module, args, output):
        out = hide(self, module, args, output)
        shown = output if out is None else out
        seen[self._model().training].append(float((shown == 0).all(dim=1).float().mean()))
        return out

    monkeypatch.setattr(conv_hiding.HideFeatureCellsHook, "_hide", spying_hide)
    spec = _spec(tiny_wsol).with_options(batch_size=6, eval_batch_size=4)
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.ok and record.method == "has-conv"
    assert record.method_params["has_conv_grid_sizes"] == [5, 11]
    assert record.method_params["has_conv_layer"] == "the backbone's first Conv2d"
    assert 0.0 <= record.metrics["gt_known_loc"] <= 100.0
    assert seen[True] and seen[False]
    assert sum(seen[True]) / len(seen[True]) > 0.15  # about half of the cells, some draws none
    assert max(seen[False]) == 0.0
