"""``pooling=gap|gmp``: the WSOL models' global pooling, its CAMs, a short run, a bad value."""

import pytest
import torch

from benchmark.cli import main
from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from tasks import get_task
from tasks.wsol import synth as wsol_synth

TASK = get_task("wsol")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_wsol(tmp_path_factory):
    spec = wsol_synth.SynthSpec(num_classes=2, train_per_class=3, test_per_class=2, side_px=32)
    return wsol_synth.write_tiny_imagenet(tmp_path_factory.mktemp("pooling") / "tiny", seed=0,
                                          spec=spec)


def _spec(root, model="alexnet-gap", **options):
    return TASK.resolve(RunSpec("wsol", dataset="tiny-imagenet", data_root=str(root),
                                model=model, epochs=1, synthetic=True).with_options(**options))


@pytest.mark.parametrize("model", ["alexnet-gap", "resnet18-small"])
def test_gmp_model_pools_by_max_and_its_cam_uses_the_classifier_weights(tiny_wsol, model):
    from tasks.wsol.cam import class_activation_maps

    spec = _spec(tiny_wsol, model, pooling="gmp")
    TASK.check(spec)
    torch.manual_seed(0)
    net = TASK.build_model(spec).eval()
    assert type(net.neck).__name__ == "GlobalMaxPooling" and net.cam_method == "cam"
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        (fmap,) = net.backbone(x)
        logits = net(x, mode="tensor")
        torch.testing.assert_close(logits, net.head.fc(fmap.amax(dim=(2, 3))))
        assert not torch.allclose(logits, net.head.fc(fmap.mean(dim=(2, 3))))
        cam_logits, cams = net.logits_and_cams(x, torch.tensor([0, 1, 0]))
    torch.testing.assert_close(cam_logits, logits)
    indices = torch.stack([logits.argmax(1), torch.tensor([0, 1, 0])], dim=1)
    torch.testing.assert_close(cams, class_activation_maps(fmap, net.head.fc.weight, indices,
                                                           (64, 64)))
    assert TASK.build_config(spec)[1]["pooling"] == "gmp"


def test_without_the_option_the_config_keeps_gap(tiny_wsol):
    cfg, params = TASK.build_config(_spec(tiny_wsol))
    assert cfg.model.neck.type == "GlobalAveragePooling" and "pooling" not in params
    cfg, params = TASK.build_config(_spec(tiny_wsol, pooling="gap"))
    assert cfg.model.neck.type == "GlobalAveragePooling" and params["pooling"] == "gap"


def test_pooling_is_part_of_the_run_id(tiny_wsol):
    assert _spec(tiny_wsol, pooling="gmp").run_id() != _spec(tiny_wsol).run_id()


def test_bad_pooling_exits_2_naming_the_allowed_values(capsys, tmp_path):
    code = main(["run", "wsol", "--option", "pooling=max", "--results", str(tmp_path / "res")])
    err = capsys.readouterr().err
    assert code == 2 and "pooling must be one of gap, gmp" in err and "'max'" in err, err


@pytest.mark.slow
def test_short_gmp_run_trains_and_scores(tiny_wsol, tmp_path):
    spec = _spec(tiny_wsol, "resnet18-small", pooling="gmp", batch_size=6, eval_batch_size=4)
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.ok and record.status == "ok"
    assert record.method_params["pooling"] == "gmp"
    assert set(record.metrics) == {"top1_cls", "top1_loc", "gt_known_loc", "maxboxaccv2"}
    assert all(0.0 <= v <= 100.0 for v in record.metrics.values())
    assert record.history
