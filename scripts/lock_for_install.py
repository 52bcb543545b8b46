"""Print the lock's requirement lines that `make install` should install into this environment.

mmcv-lite and full mmcv (compiled ops) are two distributions of one ``mmcv/`` package folder:
``pip install mmcv-lite`` over a full mmcv overwrites its Python files and leaves the compiled
``mmcv/_ext`` of another build beside them. So when a full mmcv is installed (its ``mmcv``
distribution, or a compiled ``mmcv/_ext`` next to an unknown one), the lock is installed
without its ``mmcv-lite`` line. The mode is ``auto`` (that detection, the default), ``full``
(never install mmcv-lite, e.g. before building mmcv from source) or ``lite`` (the lock as
is; refused, exit 2, while a full mmcv is installed, which has to be uninstalled first).

Standard library only: `make install` runs it with the venv's bare Python before the lock is
installed. It imports nothing from mmcv; it reads distribution metadata and files.

Usage:
    python scripts/lock_for_install.py [--lock requirements/lock.txt] [--mmcv auto|full|lite]
        [--path DIR ...] > requirements-to-install.txt

``--path`` replaces ``sys.path`` as the place to look for an installed mmcv (the tests fake
one in a temporary folder). The decision goes to stderr, the requirement lines to stdout.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.metadata
import re
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements" / "lock.txt"
#: Distributions that ship mmcv with compiled ops (mmcv-full is mmcv 1.x's name).
FULL_DISTRIBUTIONS = ("mmcv", "mmcv-full")
LITE_DISTRIBUTION = "mmcv-lite"


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (``MMCV_Lite`` -> ``mmcv-lite``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_mmcv(path: list[str] | None = None) -> dict[str, str]:
    """The mmcv distributions installed on ``path`` (default ``sys.path``), name -> version."""
    found = {}
    for dist in importlib.metadata.distributions(path=path if path is not None else sys.path):
        name = normalize(dist.metadata["Name"] or "")
        if name in (*FULL_DISTRIBUTIONS, LITE_DISTRIBUTION):
            found.setdefault(name, dist.version)
    return found


def compiled_ops(path: list[str] | None = None) -> Path | None:
    """The compiled ``mmcv/_ext`` library of the ``mmcv`` package on ``path``, if it has one.

    The package is located, not imported (``import mmcv`` needs torch, absent on a first
    install).
    """
    spec = importlib.machinery.PathFinder.find_spec("mmcv", path)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            ext = Path(folder) / f"_ext{suffix}"
            if ext.is_file():
                return ext
    return None


def full_mmcv(path: list[str] | None = None) -> str | None:
    """Describe the installed full mmcv (for messages), or None when there is none."""
    dists = installed_mmcv(path)
    for name in FULL_DISTRIBUTIONS:
        if name in dists:
            return f"{name} {dists[name]}"
    ext = compiled_ops(path)
    if ext is not None and LITE_DISTRIBUTION not in dists:
        return f"mmcv with compiled ops ({ext})"
    return None


def requirement_name(line: str) -> str | None:
    """The distribution a requirements line pins (``mmcv-lite==2.1.0`` -> ``mmcv-lite``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:[=<>!~;@]|$)",
                     line)
    if match is None or line.lstrip().startswith(("#", "-")):
        return None
    return normalize(match.group(1))


def lines_to_install(lock_lines: list[str], mode: str,
                     path: list[str] | None = None) -> tuple[list[str], str]:
    """The lock's lines to install in ``mode`` and a one-line note saying why.

    Args:
        lock_lines: The lock file's lines (comments and blank lines are kept).
        mode: ``auto``, ``full`` or ``lite`` (see the module docstring).
        path: Where to look for an installed mmcv (default ``sys.path``).

    Returns:
        The lines (without their newlines) and the note.

    Raises:
        ValueError: ``mode`` is ``lite`` while a full mmcv is installed, or is unknown.
    """
    if mode not in ("auto", "full", "lite"):
        raise ValueError(f"MMCV={mode!r}: use auto, full or lite")
    full = full_mmcv(path)
    if mode == "lite" and full is not None:
        raise ValueError(
            f"MMCV=lite, but {full} is installed: mmcv-lite would overwrite its files. "
            f"Uninstall it first (.venv/bin/pip uninstall -y mmcv) or keep it with MMCV=auto")
    lines = [line.rstrip("\n") for line in lock_lines]
    if mode == "lite" or (mode == "auto" and full is None):
        return lines, "mmcv: installing mmcv-lite from the lock (no full mmcv installed)"
    kept = [line for line in lines if requirement_name(line) != LITE_DISTRIBUTION]
    if full is None:
        note = ("mmcv: MMCV=full, no full mmcv installed yet: the lock without mmcv-lite; "
                "build mmcv next (requirements/README.md, 'Full mmcv')")
    else:
        note = f"mmcv: keeping {full}; the lock without mmcv-lite"
    return kept, note


def main(argv: list[str] | None = None) -> int:
    """Print the lines to install (stdout) and the decision (stderr); 2 on a refused mode."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument("--mmcv", default="auto", choices=["auto", "full", "lite"],
                        help="auto: keep an installed full mmcv (default); full: never "
                             "install mmcv-lite; lite: the lock as is")
    parser.add_argument("--path", action="append", metavar="DIR",
                        help="look for an installed mmcv here instead of sys.path (repeatable)")
    args = parser.parse_args(argv)
    try:
        lines, note = lines_to_install(args.lock.read_text().splitlines(), args.mmcv, args.path)
    except ValueError as err:
        print(f"lock_for_install: error: {err}", file=sys.stderr)
        return 2
    print(note, file=sys.stderr)
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
