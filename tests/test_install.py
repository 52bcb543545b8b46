"""hasbench's wheel builds without a C compiler and holds every module, py.typed and LICENSE."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

from benchmark.engine.paths import REPO_ROOT


def _source_modules() -> set[str]:
    """Every module of ``benchmark`` and ``tasks`` and their subpackages, as wheel paths."""
    return {str(path.relative_to(REPO_ROOT)) for package in ("benchmark", "tasks")
            for path in (REPO_ROOT / package).rglob("*.py") if "__pycache__" not in path.parts}


def test_wheel_builds_without_a_compiler_and_holds_every_package(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO_ROOT / name, src / name)
    for package in ("benchmark", "tasks"):
        shutil.copytree(REPO_ROOT / package, src / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation",
         "--disable-pip-version-check", str(src), "-w", str(tmp_path / "wheels")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "CC": "false"})
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = _source_modules()
    # The redesign's subpackages are there (a find rule that missed them would drop them).
    assert {"tasks/_faces/__init__.py", "benchmark/engine/__init__.py",
            "benchmark/pipelines/__init__.py", "benchmark/reporting/__init__.py",
            "tasks/wsol/__init__.py"} <= modules
    assert modules <= names, sorted(modules - names)
    assert not [n for n in names if n.endswith((".so", ".c"))]  # pure Python
    assert "benchmark/py.typed" in names
    (info,) = {n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA")}
    assert f"{info}/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata and "Classifier: Typing :: Typed" in metadata
