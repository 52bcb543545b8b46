"""hasbench: Hide-and-Seek (Singh & Lee, ICCV 2017) measured with one protocol on every task.

The package is layered (see README "Layout"): ``hide_and_seek`` (the framework-free core) <-
``pipelines`` (framework adapters) <- ``methods`` (config overlays) <- ``tasks/<task>/`` (one
folder per task, outside this package) <- ``engine`` (spec, runner -- the only writer of
records --, executors, run loops, compat) <- ``reporting`` (table, report, figures, the one
document renderer) <- ``cli``. The engine, the report and the CLI reach tasks only through
the registry (``tasks.get_task``, ``tasks.available_tasks``).
"""

__version__ = "0.1.0"
