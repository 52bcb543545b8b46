"""``--pretrained`` end to end: run ids by content, checks before training, loading, records."""

import hashlib

import pytest
import torch

from benchmark.cli import main
from benchmark.engine.spec import RunSpec

CIFAR = dict(task="classification", dataset="cifar10", model="resnet-tiny-cifar")


def _spec(root, **options):
    return RunSpec(**CIFAR, data_root=str(root), epochs=1, synthetic=True,
                   options=tuple(sorted(options.items())))


def _model_checkpoint(root, path, seed=1):
    """An mmpretrain-style checkpoint of the tiny CIFAR ResNet's backbone, random values."""
    from tasks import get_task

    task = get_task("classification")
    torch.manual_seed(seed)
    state = {k: (torch.randn_like(v) if v.is_floating_point() else v)
             for k, v in task.build_model(task.resolve(_spec(root))).state_dict().items()
             if k.startswith("backbone.")}
    torch.save({"state_dict": state, "meta": {}}, path)
    return state


def test_run_id_follows_the_file_content_not_its_path(tmp_path, tiny_cifar10):
    from tasks import get_task

    task = get_task("classification")
    first, same, other = tmp_path / "a.pth", tmp_path / "b" / "a.pth", tmp_path / "c.pth"
    same.parent.mkdir()
    torch.save({"w": torch.zeros(2)}, first)
    same.write_bytes(first.read_bytes())
    torch.save({"w": torch.ones(2)}, other)
    ids = [task.resolve(_spec(tiny_cifar10, pretrained=str(p))).run_id()
           for p in (first, same, other)]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0] != task.resolve(_spec(tiny_cifar10)).run_id()
    resolved = task.resolve(_spec(tiny_cifar10, pretrained=str(first)))
    assert resolved.option_dict["pretrained_sha256"] == hashlib.sha256(
        first.read_bytes()).hexdigest()


def test_a_bare_name_is_looked_up_in_hasbench_weights(tmp_path, tiny_cifar10, monkeypatch):
    from tasks import get_task

    monkeypatch.setenv("HASBENCH_WEIGHTS", str(tmp_path))
    _model_checkpoint(tiny_cifar10, tmp_path / "tiny.pth")
    resolved = get_task("classification").resolve(_spec(tiny_cifar10, pretrained="tiny.pth"))
    assert resolved.option_dict["pretrained"] == str(tmp_path / "tiny.pth")


@pytest.mark.parametrize("make, message", [
    (None, "does-not-exist.pth"),
    ("resnet18", "conv1.weight"),  # a torchvision ResNet-18: 7x7 stem, not the 3x3 one
])
def test_bad_weights_exit_2_before_anything_is_written(capsys, tmp_path, tiny_cifar10, make,
                                                      message):
    import torchvision

    path = tmp_path / "does-not-exist.pth"
    if make:
        path = tmp_path / f"{make}.pth"
        torch.save(getattr(torchvision.models, make)(weights=None).state_dict(), path)
    results = tmp_path / "res"
    code = main(["run", "classification", "--dataset", "cifar10", "--model",
                 "resnet-tiny-cifar", "--data-root", str(tiny_cifar10), "--epochs", "1",
                 "--results", str(results), "--pretrained", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert not (results / "records").exists() and not (results / "work").exists()


def test_a_run_starts_from_the_file_and_records_it(tmp_path, tiny_cifar10):
    from benchmark.engine.mmrun import latest_checkpoint
    from benchmark.engine.runner import run_one

    path = tmp_path / "init.pth"
    state = _model_checkpoint(tiny_cifar10, path)
    # lr 0: the weights the run ends with are the weights it started from.
    record = run_one(_spec(tiny_cifar10, pretrained=str(path), lr=0.0), tmp_path / "res",
                     raise_errors=True)
    assert record.ok
    assert record.pretrained["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record.pretrained["loaded"] == len(state)
    assert record.pretrained["missing"] == 2  # head.fc.weight, head.fc.bias: the new head
    assert record.pretrained["unexpected"] == 0
    final = torch.load(latest_checkpoint(tmp_path / "res" / "work" / record.run_id),
                       map_location="cpu", weights_only=False)["state_dict"]
    convs = [k for k in state if k.endswith("conv1.weight")]
    assert convs and all(torch.equal(final[k], state[k]) for k in convs)


def test_suite_lists_refuses_and_allows_scratch(capsys, tmp_path, tiny_cifar10):
    manifest = tmp_path / "s.yaml"
    manifest.write_text(
        "name: s\nruns:\n"
        f"  - {{task: classification, dataset: cifar10, model: resnet-tiny-cifar, epochs: 1,\n"
        f"     data_root: {tiny_cifar10}, methods: [baseline], pretrained: nowhere-1234.pth}}\n")
    results = tmp_path / "res"
    assert main(["suite", str(manifest), "--results", str(results), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "weights=nowhere-1234.pth (MISSING)" in out and "weights missing" in out
    assert main(["suite", str(manifest), "--results", str(results)]) == 2
    assert "nowhere-1234.pth" in capsys.readouterr().err
    assert not (results / "records").exists()
    assert main(["suite", str(manifest), "--results", str(results), "--dry-run",
                 "--allow-scratch"]) == 0
    captured = capsys.readouterr()
    assert "weights=-" in captured.out and "starts from random init" in captured.err


def test_tasks_without_weights_refuse_the_option(tmp_path):
    from tasks import get_task

    path = tmp_path / "w.pth"
    torch.save({"w": torch.zeros(1)}, path)
    task = get_task("action_localization")
    with pytest.raises(ValueError, match="does not start from pretrained weights"):
        task.check_pretrained(RunSpec("action_localization", options=(("pretrained", str(path)),)))
