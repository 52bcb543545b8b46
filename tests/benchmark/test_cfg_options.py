"""``--cfg-options``: DictAction values, checked against the built config, part of the run id."""

import json

import pytest

from benchmark.cfg_options import parse_pairs
from benchmark.cli import main
from benchmark.engine.spec import RunSpec
from tasks import get_task


def _run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr()


def _classification(root, **options):
    return RunSpec("classification", dataset="cifar10", data_root=str(root),
                   model="resnet-tiny-cifar", epochs=1).with_options(**options)


def test_values_are_read_like_mmengines_dict_action():
    parsed = parse_pairs(["b.int=1", "a.float=0.5", "c=true", "d=None", "e=[1,2]", "f=(3,4)",
                          "g=x,y", "h=text", "b.int=2"])
    assert parsed == {"a.float": 0.5, "b.int": 2, "c": True, "d": None, "e": [1, 2],
                      "f": (3, 4), "g": ["x", "y"], "h": "text"}
    assert list(parsed) == sorted(parsed)  # sorted: the run id does not depend on the order


def test_a_pair_without_a_value_exits_2(capsys):
    code, out = _run(capsys, "run", "classification", "--cfg-options", "optim_wrapper")
    assert code == 2 and "bad --cfg-options 'optim_wrapper'" in out.err, out.err


def test_overrides_reach_the_built_config_and_the_run_id(tiny_cifar10):
    task = get_task("classification")
    base = _classification(tiny_cifar10)
    spec = base.with_options(cfg_options=parse_pairs(
        ["train_dataloader.dataset.pipeline.1.prob=0.25", "optim_wrapper.optimizer.momentum=0.8"]))
    cfg, _ = task.build_config(task.resolve(spec))
    assert cfg.optim_wrapper.optimizer.momentum == 0.8
    assert cfg.train_dataloader.dataset.pipeline[1]["prob"] == 0.25
    assert cfg.test_dataloader.dataset.pipeline == task.build_config(task.resolve(base))[
        0].test_dataloader.dataset.pipeline
    assert spec.run_id() != base.run_id()
    reordered = base.with_options(cfg_options=parse_pairs(
        ["optim_wrapper.optimizer.momentum=0.8", "train_dataloader.dataset.pipeline.1.prob=0.25"]))
    assert reordered.run_id() == spec.run_id()


@pytest.mark.parametrize(("pairs", "extra", "message"), [
    (["optim_wrapper.optimizer.momentun=0.8"], [],
     "did you mean optim_wrapper.optimizer.momentum"),
    (["train_dataloader.dataset.pipeline.9.prob=1"], [], "is a list of 3; index it with 0..2"),
    (["optim_wrapper.optimizer.lr.x=1"], [], "optim_wrapper.optimizer.lr is a value"),
    (["train_cfg.max_epochs=3"], [], "hasbench sets train_cfg.max_epochs itself; use --epochs"),
    (["randomness.seed=3"], [], "use --seed"),
    (["train_dataloader.batch_size=8"], ["--option", "batch_size=16"], "given too"),
])
def test_bad_keys_exit_2_before_training(capsys, tmp_path, tiny_cifar10, pairs, extra, message):
    results = tmp_path / "res"
    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10", "--data-root",
                     str(tiny_cifar10), "--model", "resnet-tiny-cifar", "--results", str(results),
                     *extra, "--cfg-options", *pairs)
    assert code == 2 and message in out.err, out.err
    assert not (results / "records").exists() and not (results / "work").exists()


@pytest.mark.parametrize("task", ["video", "action_localization"])
def test_the_mmaction2_tasks_take_it_too(capsys, tmp_path, task):
    from benchmark.engine.runner import prepare

    spec = RunSpec(task, synthetic=True, epochs=1,
                   options=(("cfg_options", {"train_dataloader.batch_size": 3}),))
    resolved_task, resolved = prepare(spec, tmp_path)
    cfg, _ = resolved_task.build_config(resolved)
    assert cfg.train_dataloader.batch_size == 3
    bad = RunSpec(task, synthetic=True, epochs=1,
                  options=(("cfg_options", {"train_dataloader.batch_sise": 3}),))
    with pytest.raises(ValueError, match="batch_sise"):
        prepare(bad, tmp_path)


def test_reid_takes_the_same_dotted_keys_on_its_yaml_config():
    task = get_task("reid")
    spec = task.resolve(RunSpec("reid", dataset="market1501", model="osnet_x0_25", epochs=1,
                                data_root="/nowhere"))
    cfg = task.build_config(spec.with_options(cfg_options={"train.lr": 0.001,
                                                           "train.stepsize.0": 5}))
    assert cfg["train"]["lr"] == 0.001 and cfg["train"]["stepsize"] == [5]
    assert task.build_config(spec)["train"]["lr"] != 0.001
    for key, message in (("train.lrr", "did you mean train.lr"), ("train.max_epoch", "--epochs"),
                         ("data.workers", "num_workers")):
        with pytest.raises(ValueError, match=message):
            task.build_config(spec.with_options(cfg_options={key: 1}))


def test_a_run_trains_with_the_overrides(capsys, tmp_path, tiny_cifar10):
    from mmengine import Config

    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10", "--data-root",
                     str(tiny_cifar10), "--synthetic", "--model", "resnet-tiny-cifar",
                     "--epochs", "1", "--results", str(tmp_path), "--cfg-options",
                     "optim_wrapper.optimizer.momentum=0.8")
    assert code == 0, out.err[-3000:]
    record = json.loads(next((tmp_path / "records").glob("*.json")).read_text())
    assert record["provenance"]["options"]["cfg_options"] == {
        "optim_wrapper.optimizer.momentum": 0.8}
    dumped = Config.fromfile(tmp_path / "work" / record["run_id"] / "resnet_tiny_cifar10.py")
    assert dumped.optim_wrapper.optimizer.momentum == 0.8  # what mmengine's Runner trained
