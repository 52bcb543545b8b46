"""The real classification data on disk: CIFAR's python release and image-folder layouts.

Layout checks only (no framework import): they run before anything is trained, naming what
is missing and how to get it. Loading is mmpretrain's (:mod:`tasks.classification.datasets`
for generated CIFAR-10).
"""

from __future__ import annotations

from pathlib import Path

from tasks.base import check_image_files, require_paths

CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py", [*(f"data_batch_{i}" for i in range(1, 6)),
                                        "test_batch", "batches.meta"]),
    "cifar100": ("cifar-100-python", ["train", "test", "meta"]),
}


def check_cifar(name: str):
    """The layout check of a CIFAR release (python version) named ``name``."""
    folder, files = CIFAR_FILES[name]

    def check(root: Path) -> None:
        require_paths(
            root, [f"{folder}/{f}" for f in files], name,
            hint=f"Extract the official python-version archive into {root} "
                 f"(scripts/prepare_data.sh {name}) or generate one with "
                 f"`hasbench synth {name} --out {root}`.",
        )

    return check


def check_image_folders(splits: tuple[str, str], name: str):
    """The layout check of ``<split>/<class>/*`` image folders (same classes in both splits)."""
    def check(root: Path) -> None:
        require_paths(root, list(splits), name,
                      hint=f"Expected {splits[0]}/<class>/*.jpg and {splits[1]}/<class>/*.jpg.")
        for split in splits:
            classes = [p for p in (root / split).iterdir() if p.is_dir()]
            if not classes:
                raise ValueError(f"{name}: {root / split} has no class folders (<class>/*.jpg)")
        train = sorted(p.name for p in (root / splits[0]).iterdir() if p.is_dir())
        test = sorted(p.name for p in (root / splits[1]).iterdir() if p.is_dir())
        if train != test:
            raise ValueError(
                f"{name}: class folders differ between {splits[0]}/ and {splits[1]}/ "
                f"({sorted(set(train) ^ set(test))[:5]} ...); both splits need the same classes"
            )
        files = [p for split in splits for p in sorted((root / split).glob("*/*")) if p.is_file()]
        check_image_files(files, name)

    return check
