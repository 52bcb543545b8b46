"""CIFAR datasets in mmpretrain's own loader, for files whose checksums are not the release's.

mmpretrain's ``CIFAR10``/``CIFAR100`` verify the official files' MD5 sums, so data generated
in the same ``cifar-10-batches-py`` / ``cifar-100-python`` layout (``hasbench synth cifar10``)
would be rejected. These subclasses only drop the checksums and take the class names from
the files' own meta (``batches.meta``/``meta``) instead of the release's hard-coded list;
loading is mmpretrain's.
"""

from __future__ import annotations

from mmpretrain.datasets import CIFAR10, CIFAR100
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


@DATASETS.register_module()
class CIFAR100Unverified(CIFAR100):
    """mmpretrain's CIFAR-100 without MD5 checks (never downloads)."""

    train_list = _without_md5(CIFAR100.train_list)
    test_list = _without_md5(CIFAR100.test_list)
    meta = {k: v for k, v in CIFAR100.meta.items() if k != "md5"}
    METAINFO = {}

    def __init__(self, *args, **kwargs):
        kwargs["download"] = False
        super().__init__(*args, **kwargs)
