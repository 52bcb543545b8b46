"""The CLI's argument errors: non-zero exit, a message naming the problem and the fix."""

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
    code, out = _run(capsys, "run", "classification", "--method", "cutmix")
    assert code == 2 and "unknown method 'cutmix'" in out.err and "has-32" in out.err


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
    assert proc.returncode != 0 and "task" in proc.stderr


@pytest.mark.parametrize("command", [["list"], ["status", "demo"]])
def test_informational_commands_run(capsys, command):
    code, out = _run(capsys, *command)
    assert code == 0 and "classification" in out.out
