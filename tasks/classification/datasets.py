"""CIFAR-10 in mmpretrain's own loader, for files whose checksums are not the release's.

mmpretrain's ``CIFAR10`` verifies the official files' MD5 sums, so data generated in the same
``cifar-10-batches-py`` layout (``hasbench synth cifar10``) would be rejected. This subclass
only drops the checksums and takes the class names from the files' own ``batches.meta``
instead of the release's hard-coded list; loading is mmpretrain's.
"""

from __future__ import annotations

from mmpretrain.datasets import CIFAR10
from mmpretrain.registry import DATASETS


def _without_md5(entries: list[list[str]]) -> list[tuple[str, None]]:
    return [(name, None) for name, *_ in entries]


@DATASETS.register_module()
class CIFAR10Unverified(CIFAR10):
    """mmpretrain's CIFAR-10 without MD5 checks (never downloads)."""

    train_list = _without_md5(CIFAR10.train_list)
    test_list = _without_md5(CIFAR10.test_list)
    meta = {k: v for k, v in CIFAR10.meta.items() if k != "md5"}
    METAINFO = {}

    def __init__(self, *args, **kwargs):
        kwargs["download"] = False
        super().__init__(*args, **kwargs)
