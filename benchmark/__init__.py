"""hasbench: Hide-and-Seek (Singh & Lee, ICCV 2017) measured with one protocol on every task.

The package is layered (see README "Layout"): ``hide_and_seek`` (the framework-free core) <-
``pipelines`` (framework adapters) <- ``methods`` (config overlays) <- ``tasks/<task>/`` (one
folder per task, outside this package) <- ``engine`` (spec, runner -- the only writer of
records --, executors, run loops, compat) <- ``reporting`` (table, report, figures, the one
document renderer) <- ``cli``. The engine, the report and the CLI reach tasks only through
the registry (``tasks.get_task``, ``tasks.available_tasks``).
"""

from __future__ import annotations


def package_version() -> str:
    """The version of hasbench: the installed distribution's metadata, else ``pyproject.toml``'s.

    The fallback covers a source checkout imported without being installed (``PYTHONPATH``).

    Returns:
        The version string, e.g. ``"0.1.0"``.
    """
    from importlib import metadata

    try:
        return metadata.version("hasbench")
    except metadata.PackageNotFoundError:
        import tomllib
        from pathlib import Path

        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as f:
            return tomllib.load(f)["project"]["version"]


def __getattr__(name: str) -> str:
    """``benchmark.__version__``, looked up on first use (importing the package stays cheap)."""
    if name == "__version__":
        return package_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
