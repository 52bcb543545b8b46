"""`make install` never installs mmcv-lite over a full mmcv (scripts/lock_for_install.py).

The installed distributions are faked: a folder with ``<name>-<version>.dist-info/METADATA``
(and, for a source build without metadata, an ``mmcv/_ext`` library) passed with ``--path``.
Nothing is installed and nothing is downloaded.
"""

from __future__ import annotations

import importlib.machinery
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.engine.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "lock_for_install.py"
LOCK = REPO_ROOT / "requirements" / "lock.txt"


def _dist(site: Path, name: str, version: str) -> Path:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return site


def _compiled_mmcv(site: Path) -> Path:
    package = site / "mmcv"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / f"_ext{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"\x7fELF")
    return site


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--lock", str(LOCK), *args],
                          capture_output=True, text=True, timeout=60)


def _lock_lines() -> list[str]:
    return LOCK.read_text().splitlines()


def test_the_lock_pins_mmcv_lite_once():
    # What the guard removes is there to remove (one line, the name pip normalizes).
    assert [line for line in _lock_lines() if line.lower().startswith("mmcv")] == [
        "mmcv-lite==2.1.0"]


@pytest.mark.parametrize("mode", ["auto", "lite"])
def test_without_full_mmcv_the_lock_is_installed_as_it_is(tmp_path, mode):
    site = _dist(tmp_path / "site", "mmcv-lite", "2.1.0")  # what make install left last time
    proc = _run("--mmcv", mode, "--path", str(site))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == _lock_lines()
    assert "installing mmcv-lite" in proc.stderr


def test_fresh_venv_gets_the_whole_lock(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = _run("--path", str(tmp_path / "empty"))
    assert proc.returncode == 0 and proc.stdout.splitlines() == _lock_lines()


@pytest.mark.parametrize("name", ["mmcv", "mmcv-full", "MMCV"])
def test_installed_full_mmcv_is_kept(tmp_path, name):
    site = _dist(tmp_path / "site", name, "2.1.0")
    proc = _run("--path", str(site))  # MMCV=auto, make's default
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "mmcv-lite==2.1.0" not in lines
    assert lines == [line for line in _lock_lines() if line != "mmcv-lite==2.1.0"]
    assert f"keeping {name.lower()} 2.1.0" in proc.stderr


def test_compiled_ops_without_metadata_count_as_full_mmcv(tmp_path):
    # e.g. `python setup.py develop` or a copied build: the compiled _ext is the evidence.
    site = _compiled_mmcv(tmp_path / "site")
    proc = _run("--path", str(site))
    assert proc.returncode == 0, proc.stderr
    assert "mmcv-lite==2.1.0" not in proc.stdout.splitlines()
    assert "compiled ops" in proc.stderr and "_ext" in proc.stderr


def test_mmcv_lite_with_a_stray_ext_is_still_lite(tmp_path):
    site = _dist(_compiled_mmcv(tmp_path / "site"), "mmcv-lite", "2.1.0")
    proc = _run("--path", str(site))
    assert proc.returncode == 0 and proc.stdout.splitlines() == _lock_lines()


def test_explicit_full_leaves_mmcv_lite_out_before_mmcv_is_built(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = _run("--mmcv", "full", "--path", str(tmp_path / "empty"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [line for line in _lock_lines()
                                        if line != "mmcv-lite==2.1.0"]
    assert "no full mmcv installed yet" in proc.stderr and "Full mmcv" in proc.stderr


def test_explicit_lite_over_full_mmcv_is_refused(tmp_path):
    site = _dist(tmp_path / "site", "mmcv", "2.1.0")
    proc = _run("--mmcv", "lite", "--path", str(site))
    assert proc.returncode == 2 and proc.stdout == ""
    assert "mmcv 2.1.0 is installed" in proc.stderr and "pip uninstall -y mmcv" in proc.stderr


def test_unknown_mode_is_a_usage_error(tmp_path):
    proc = _run("--mmcv", "cuda")
    assert proc.returncode == 2 and "invalid choice: 'cuda'" in proc.stderr


def test_this_venv_is_detected_as_mmcv_lite():
    # Without --path the script looks at its interpreter's sys.path: the locked venv has lite.
    proc = _run()
    assert proc.returncode == 0 and "installing mmcv-lite" in proc.stderr


def test_requirement_names_are_read_as_pip_reads_them():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import lock_for_install as guard
    finally:
        sys.path.remove(str(SCRIPT.parent))
    assert guard.requirement_name("mmcv-lite==2.1.0") == "mmcv-lite"
    assert guard.requirement_name("MMCV_Lite == 2.1.0") == "mmcv-lite"
    assert guard.requirement_name("mmcv_lite[extra]>=2") == "mmcv-lite"
    assert guard.requirement_name("mmcv==2.1.0") == "mmcv"
    assert guard.requirement_name("# mmcv-lite==2.1.0") is None
    assert guard.requirement_name("-r other.txt") is None
    assert guard.requirement_name("") is None


def test_make_install_runs_the_guard_with_the_mmcv_mode():
    # make -n prints the install recipe without running it; -B as if the venv were stale.
    for mode, expected in (("", "--mmcv auto"), ("MMCV=full", "--mmcv full")):
        proc = subprocess.run(["make", "-n", "-B", "install", *([mode] if mode else [])],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        guard = [i for i, line in enumerate(lines) if "scripts/lock_for_install.py" in line]
        assert len(guard) == 1 and expected in lines[guard[0]]
        (out,) = [part.strip() for part in lines[guard[0]].split(">")[1:]]
        installs = [i for i, line in enumerate(lines) if "pip install" in line and " -r " in line]
        assert len(installs) == 1 and installs[0] > guard[0]
        assert lines[installs[0]].endswith(f"-r {out}")
        assert "requirements/lock.txt" not in lines[installs[0]]  # never the raw lock
