"""hasbench as a package to reuse: license, citation, changelog, version, type marker."""

from __future__ import annotations

import datetime
import importlib.metadata
import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml

import benchmark
from benchmark import cli
from benchmark.engine.paths import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]


def test_license_is_mit_for_the_hasbench_authors():
    text = (REPO_ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the hasbench authors" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text
    assert PROJECT["license"] == "MIT"


def test_citation_is_cff_1_2_with_the_has_paper_as_reference():
    cff = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text())
    # CFF 1.2.0's required keys, and what GitHub's "Cite this repository" shows.
    assert cff["cff-version"] == "1.2.0"
    assert {"cff-version", "message", "title", "authors"} <= set(cff)
    assert cff["type"] == "software" and cff["authors"] == [{"name": "hasbench authors"}]
    assert cff["version"] == VERSION  # a string, the package's own
    assert datetime.date.fromisoformat(cff["date-released"]) == datetime.date(2026, 12, 3)
    assert cff["license"] == "MIT"
    iccv, extended = cff["references"]
    assert iccv["type"] == "conference-paper" and iccv["year"] == 2017
    assert iccv["title"] == ("Hide-and-Seek: Forcing a Network to be Meticulous for "
                             "Weakly-supervised Object and Action Localization")
    assert iccv["authors"] == [{"family-names": "Singh", "given-names": "Krishna Kumar"},
                               {"family-names": "Lee", "given-names": "Yong Jae"}]
    assert "ICCV" in iccv["conference"]["name"]
    assert "1811.02545" in extended["url"]
    assert extended["authors"][0]["family-names"] == "Singh"
    for ref in cff["references"]:  # every reference has CFF's required keys
        assert {"type", "title", "authors"} <= set(ref)
    # The schema itself where cffconvert happens to be installed (it is not a dependency).
    if shutil.which("cffconvert") is not None:
        proc = subprocess.run(["cffconvert", "--validate", "-i", str(REPO_ROOT / "CITATION.cff")],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_changelog_starts_unreleased_then_this_version():
    text = (REPO_ROOT / "CHANGELOG.md").read_text()
    sections = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert sections[0] == ("Unreleased", "")
    assert (VERSION, "2026-12-03") in sections
    assert all(datetime.date.fromisoformat(date) for _, date in sections[1:])
    assert 40 <= len(text.splitlines()) <= 100


def test_version_flag_prints_the_package_metadata(capsys):
    assert importlib.metadata.version("hasbench") == VERSION  # installed (editable) here
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"hasbench {VERSION}\n"


def test_version_flag_of_the_console_script():
    script = shutil.which("hasbench", path=os.path.dirname(sys.executable))
    assert script is not None
    proc = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == f"hasbench {VERSION}\n"


def test_version_falls_back_to_pyproject_when_not_installed(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert benchmark.package_version() == VERSION
    assert benchmark.__version__ == VERSION


def test_version_from_metadata_wins(monkeypatch):
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.9.9")
    assert benchmark.__version__ == "9.9.9"
    with pytest.raises(AttributeError):
        benchmark.no_such_name  # noqa: B018


def test_installed_package_has_the_pep_561_marker():
    marker = importlib.resources.files("benchmark") / "py.typed"
    assert marker.is_file() and marker.read_bytes() == b""
