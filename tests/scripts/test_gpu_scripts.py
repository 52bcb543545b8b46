"""scripts/gpu_wheels.sh and scripts/gpu_check.sh: the wheel list and the check's CPU fallback.

Nothing is downloaded: the wheel list is checked against the lock and the installed packages'
own requirements; the GPU check runs its CPU fallback (this machine has no GPU) with the
packages of this venv.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from benchmark.engine.paths import REPO_ROOT


def torch_cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()

WHEELS = REPO_ROOT / "scripts" / "gpu_wheels.sh"
CHECK = REPO_ROOT / "scripts" / "gpu_check.sh"
#: What mmengine, mmaction2 and grad-cam declare but the lock replaces by opencv-python-headless.
OPENCV_VARIANTS = {"opencv-python", "opencv-contrib-python"}


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _array(name: str) -> set[str]:
    """The names in one bash array (``packages`` or ``present``) of gpu_wheels.sh."""
    body = re.search(rf"^{name}=\((.*?)^\)", WHEELS.read_text(), re.S | re.M)
    assert body, f"no {name}=( ... ) in {WHEELS}"
    return {_name(word) for line in body.group(1).splitlines()
            for word in line.split("#")[0].split()}


def _runtime_requirements(top: list[str], stop: set[str]) -> set[str]:
    """Every distribution ``top`` needs at run time, not descending into ``stop``."""
    seen, todo = set(), list(top)
    while todo:
        name = _name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        if name in stop or name in OPENCV_VARIANTS:
            continue
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen - OPENCV_VARIANTS


def test_the_wheels_and_the_gpu_machine_cover_every_runtime_requirement_of_the_stack():
    carried, present = _array("packages"), _array("present")
    locked = {_name(line.split("==")[0]) for line in
              (REPO_ROOT / "requirements" / "lock.txt").read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    assert carried <= locked, f"not in the lock: {sorted(carried - locked)}"
    # What the machine has comes with its own requirements installed.
    needed = _runtime_requirements(["mmengine", "mmcv-lite", "mmpretrain", "mmsegmentation",
                                    "mmaction2", "torchreid", "grad-cam", "submitit"],
                                   stop=present)
    assert needed - carried - present == set()
    # Imported without being declared: torchreid's dataset registry imports gdown.
    assert {"gdown", "beautifulsoup4", "soupsieve", "numpy", "setuptools"} <= carried


def _fake_python(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(("args", "python_body", "message"), [
    (["--bogus"], None, "unknown argument '--bogus'"),
    ([], "exit 1", "cannot import torch and torchvision; install them first"),
    ([], 'case "$*" in *mmengine*) exit 1;; *) exit 0;; esac',
     "run scripts/gpu_wheels.sh"),
])
def test_the_gpu_check_exits_2_naming_the_fix(tmp_path, args, python_body, message):
    python = _fake_python(tmp_path, python_body) if python_body else sys.executable
    out = tmp_path / "out"
    result = subprocess.run(["bash", str(CHECK), "--out", str(out), "--wheels",
                             str(tmp_path / "no-wheels"), *args], capture_output=True,
                            text=True, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                         "PYTHON": str(python)})
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.skipif(torch_cuda_available(), reason="a GPU machine runs the GPU path")
def test_the_gpu_check_runs_its_cpu_fallback_and_writes_every_csv(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(["bash", str(CHECK), "--out", str(out), "--wheels",
                             str(tmp_path / "no-wheels")], capture_output=True, text=True,
                            timeout=900, env={**os.environ, "PYTHON": sys.executable,
                                              "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    steps = {row["step"]: row for row in csv.DictReader((out / "steps.csv").open())}
    assert set(steps) == {"environment", "cuda_tests", "has_speed", "throughput"}
    assert all(row["rc"] == "0" for row in steps.values())
    assert "no CUDA device: CPU fallback" in (out / "gpu_check.log").read_text()
    # pytest -m cuda selected the CUDA tests, and without a GPU every one of them skipped.
    tests = list(csv.DictReader((out / "cuda_tests.csv").open()))
    assert len(tests) >= 10 and {t["outcome"] for t in tests} == {"skipped"}
    assert any("hide_patches_batch" in t["test"] or "hide_and_seek" in t["test"] for t in tests)
    # The bandwidth group ran on the CPU beside the clone() reference.
    speed = list(csv.DictReader((out / "has_speed.csv").open()))
    device_rows = [r for r in speed if r["group"].startswith("cpu batch")]
    assert device_rows and all(float(r["gb_per_s"]) > 0 for r in device_rows)
    # The probe covered every task of the paper suite, baseline and HaS, at tiny sizes.
    rows = list(csv.DictReader((out / "throughput.csv").open()))
    assert {r["task"] for r in rows} == set(_paper_tasks())
    assert {r["method"] for r in rows} == {"baseline", "has"}
    assert all(r["tiny"] == "True" and r["device"] == "cpu" and float(r["samples_per_s"]) > 0
               for r in rows)


def _paper_tasks() -> set[str]:
    import yaml

    suite = yaml.safe_load((REPO_ROOT / "configs" / "suites" / "paper.yaml").read_text())
    return {run["task"] for run in suite["runs"]}
