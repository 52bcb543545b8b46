"""`make install` takes Python 3.11 or 3.12 (one venv each) and refuses any other, or a shim.

The bootstrap interpreter is faked by a shell script that answers the Makefile's version probe,
so nothing is installed: the install rule stops at its version check, before any venv exists.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from benchmark.engine.paths import REPO_ROOT


def _fake_python(tmp_path: Path, version: str | None) -> Path:
    """A 'python' that prints ``version`` for any ``-c`` probe, or fails like a pyenv shim."""
    script = tmp_path / "fakepython"
    shim = 'echo "pyenv: python3.12: command not found" >&2; exit 127'
    body = f'echo "{version}"' if version else shim
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def _make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-C", str(REPO_ROOT), *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("version", "venv"), [("3.11", ".venv"), ("3.12", ".venv-py3.12")])
def test_each_supported_python_gets_its_own_venv(tmp_path, version, venv):
    fake = _fake_python(tmp_path, version)
    shown = _make("--eval", "show-venv: ; @echo $(VENV)", "show-venv",
                  f"PYTHON_BOOTSTRAP={fake}")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == venv


@pytest.mark.parametrize(("version", "message"), [
    ("3.10", "hasbench runs on Python 3.11 or 3.12; "),
    (None, "is on PATH but does not run (a pyenv shim"),
])
def test_another_python_or_a_broken_shim_stops_before_any_venv_is_made(tmp_path, version, message):
    fake = _fake_python(tmp_path, version)
    venv = tmp_path / "venv"
    result = _make("install", f"PYTHON_BOOTSTRAP={fake}", f"VENV={venv}")
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not venv.exists()
