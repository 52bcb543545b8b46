"""The CLI's argument errors: non-zero exit, a message naming the problem and the fix."""

import json
import subprocess
import sys

import pytest

from benchmark.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr()


def test_unknown_task_names_known_tasks(capsys):
    code, out = _run(capsys, "run", "detection")
    assert code == 2
    assert "unknown task 'detection'" in out.err and "classification" in out.err


def test_unknown_method_names_known_methods(capsys):
    code, out = _run(capsys, "run", "classification", "--method", "mixup")
    assert code == 2 and "unknown method 'mixup'" in out.err and "has-32" in out.err


def test_unknown_dataset_names_known_datasets(capsys):
    code, out = _run(capsys, "run", "classification", "--dataset", "mnist")
    assert code == 2 and "unknown dataset 'mnist'" in out.err and "cifar10" in out.err


def test_missing_data_root_names_layout_and_generator(capsys, tmp_path):
    missing = tmp_path / "nowhere"
    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10",
                     "--data-root", str(missing), "--results", str(tmp_path / "res"))
    assert code == 2
    assert str(missing) in out.err and "does not exist" in out.err
    assert "hasbench synth cifar10" in out.err
    assert not (tmp_path / "res" / "records").exists() or not any(
        (tmp_path / "res" / "records").iterdir())


def test_wrong_layout_names_missing_files(capsys, tmp_path):
    root = tmp_path / "cifar"
    (root / "cifar-10-batches-py").mkdir(parents=True)
    (root / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"")
    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10",
                     "--data-root", str(root), "--results", str(tmp_path / "res"))
    assert code == 2 and "missing" in out.err and "cifar-10-batches-py/test_batch" in out.err
    assert "cifar-10-batches-py/data_batch_1" not in out.err.split("missing:")[1].split(".")[0]


def test_unwritable_results_dir(capsys, tmp_path, tiny_cifar10):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10",
                     "--data-root", str(tiny_cifar10), "--results", str(blocker / "res"))
    assert code == 2 and "not writable" in out.err and "--results" in out.err


def test_bad_option_and_unknown_suite(capsys):
    code, out = _run(capsys, "run", "classification", "--option", "batch_size")
    assert code == 2 and "KEY=VALUE" in out.err
    code, out = _run(capsys, "suite", "nonsense")
    assert code == 2 and "unknown suite 'nonsense'" in out.err and "demo" in out.err
    code, out = _run(capsys, "suite", "demo", "--only", "colour=red")
    assert code == 2 and "bad --only filter" in out.err


def test_synth_unknown_dataset_lists_generators(capsys, tmp_path):
    code, out = _run(capsys, "synth", "mnist", "--out", str(tmp_path))
    assert code == 2 and "no generator for dataset 'mnist'" in out.err and "cifar10" in out.err


def test_argparse_errors_exit_non_zero():
    proc = subprocess.run([sys.executable, "-m", "benchmark.cli", "run"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "task" in proc.stderr  # the README's code for bad input


@pytest.mark.parametrize("command", [["list"], ["status", "demo"]])
def test_informational_commands_run(capsys, command):
    code, out = _run(capsys, *command)
    assert code == 0 and "classification" in out.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "has", "--has-grid-sizes", "16,x"], "--has-grid-sizes takes"),
        (["--method", "has", "--has-grid-sizes", "16,-8"], "grid_sizes must be an int >= 0"),
        (["--method", "has", "--has-hide-prob", "1.5"], "has_hide_prob (--has-hide-prob)"),
        (["--method", "has", "--has-hide-prob", "half"], "--has-hide-prob takes"),
        (["--method", "baseline", "--has-hide-prob", "0.3"], "does not hide"),
        (["--method", "has-32", "--has-grid-sizes", "0,16"], "fixes the grid"),
        (["--method", "has", "--option", "has_grid_sizes_px=[]"], "must be a non-empty sequence"),
    ],
)
def test_bad_has_arguments_fail_before_training(capsys, tmp_path, tiny_cifar10, argv, message):
    results = tmp_path / "res"
    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10",
                     "--data-root", str(tiny_cifar10), "--results", str(results), *argv)
    assert code == 2 and message in out.err, out.err
    assert not (results / "records").exists() and not (results / "work").exists()


def test_has_arguments_reach_the_stage_and_the_run_id(tiny_cifar10):
    from benchmark.engine.spec import RunSpec
    from benchmark.methods import method_for
    from tasks import get_task

    task = get_task("classification")
    base = RunSpec("classification", method="has", dataset="cifar10",
                   data_root=str(tiny_cifar10), model="resnet-tiny-cifar")
    custom = base.with_options(has_grid_sizes_px=[0, 112], has_hide_prob=0.25)
    assert custom.run_id() != base.run_id()
    cfg, params = task.build_config(task.resolve(custom))
    stage = next(s for s in cfg.train_dataloader.dataset.pipeline
                 if s["type"].endswith("HideAndSeek"))
    assert tuple(stage["grid_sizes"]) == (0, 16)  # 112 px at 224 -> 16 px at 32
    assert stage["hide_prob"] == 0.25 and params["has_hide_prob"] == 0.25
    assert method_for("has+random_erasing", {"has_hide_prob": 0.1}).erases


def test_listing_imports_neither_torch_nor_a_framework():
    """``hasbench list`` and the method table stay light: no torch, no OpenMMLab at import."""
    code = ("import sys, benchmark.cli, benchmark.methods; "
            "from benchmark.cli import main; main(['list']); "
            "heavy = [m for m in ('torch', 'mmengine', 'mmpretrain') if m in sys.modules]; "
            "sys.exit(f'imported {heavy}' if heavy else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "has" in done.stdout and "classification" in done.stdout


@pytest.mark.slow
def test_a_failed_run_exits_1_and_records_why(capsys, tiny_cifar10, tmp_path):
    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10", "--data-root",
                     str(tiny_cifar10), "--synthetic", "--model", "resnet-tiny-cifar",
                     "--epochs", "1", "--option", "batch_size=16", "--option", "lr=1e12",
                     "--results", str(tmp_path))
    printed = json.loads(out.out[out.out.index("{"): out.out.rindex("}") + 1])
    assert code == 1 and printed["status"] == "failed"
    assert "NonFiniteLossError" in printed["reason"]


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs must be a whole number >= 1"),
    (["--epochs", "-1"], "--epochs must be a whole number >= 1"),
    (["--seed", "-1"], "--seed must be a whole number in [0, 2**32)"),
    (["--seed", str(2**32)], "--seed must be a whole number in [0, 2**32)"),
])
def test_bad_epochs_and_seeds_exit_2_before_training(capsys, tmp_path, argv, message):
    results = tmp_path / "res"
    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10", "--synthetic",
                     "--results", str(results), *argv)
    assert code == 2 and message in out.err, out.err
    assert not (results / "records").exists() and not (results / "data").exists()


def test_a_results_dir_that_cannot_be_created_exits_2(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep me\n")
    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10", "--synthetic",
                     "--epochs", "1", "--results", str(blocker / "res"))
    assert code == 2 and "cannot be created" in out.err and "--results" in out.err, out.err
    assert blocker.read_text() == "keep me\n"


@pytest.mark.parametrize("task, dataset", [
    ("classification", "cifar10"), ("wsol", "tiny-imagenet"), ("segmentation", "camvid"),
    ("emotion", "ckplus48"), ("age_gender", "utkface"), ("video", "clips"),
    ("action_localization", "thumos14-features"),
])
def test_unknown_options_exit_2_listing_the_valid_ones(capsys, tmp_path, task, dataset):
    results = tmp_path / "res"
    code, out = _run(capsys, "run", task, "--dataset", dataset, "--synthetic",
                     "--option", "nosuchkey=1", "--results", str(results))
    assert code == 2 and "nosuchkey" in out.err and "batch_size" in out.err, out.err
    assert not (results / "records").exists() and not (results / "data").exists()
