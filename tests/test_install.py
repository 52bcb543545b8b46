"""The package builds with and without a C compiler: the C fill of HaS is optional."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from benchmark.engine.paths import REPO_ROOT


def _build_wheel(tmp_path, **env):
    """Build hasbench's wheel from a copy of its sources; (return code, log, wheel names)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, src / name)
    ignore = shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info")
    for package in ("benchmark", "tasks"):
        shutil.copytree(REPO_ROOT / package, src / package, ignore=ignore)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-index",
         "--no-build-isolation", "--disable-pip-version-check", str(src), "-w",
         str(tmp_path / "wheels")],
        capture_output=True, text=True, timeout=600, env={**os.environ, **env})
    wheels = list((tmp_path / "wheels").glob("*.whl"))
    names = zipfile.ZipFile(wheels[0]).namelist() if wheels else []
    return proc.returncode, proc.stdout + proc.stderr, names


def _has_c_fill(names):
    return any(n.startswith("benchmark/_hasfill") and n.endswith(".so") for n in names)


def test_builds_without_a_c_compiler(tmp_path):
    code, log, names = _build_wheel(tmp_path, CC="false")
    assert code == 0, log[-3000:]
    assert "benchmark/hide_and_seek.py" in names and not _has_c_fill(names)
    assert 'building extension "benchmark._hasfill" failed' in log


def test_builds_the_c_fill_with_a_compiler(tmp_path):
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) on this machine")
    code, log, names = _build_wheel(tmp_path)
    assert code == 0, log[-3000:]
    assert _has_c_fill(names), log[-3000:]
