"""hasbench: Hide-and-Seek (Singh & Lee, ICCV 2017) measured with one protocol on every task.

The package is layered (see README "Layout"): ``hide_and_seek`` (framework-free core) <-
``pipelines`` (framework adapters) <- ``methods`` (config overlays) <- ``tasks`` <- ``runner``
(the only writer of records) <- ``results`` / ``report`` <- ``cli``.
"""

__version__ = "0.1.0"
