"""Shared fixtures: the real data folder, small generated datasets, quiet warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from benchmark.paths import data_dir

warnings.filterwarnings("ignore", category=UserWarning)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$HASBENCH_DATA``); skips when absent."""
    root = data_dir()
    if not root.is_dir():
        pytest.skip(f"real data subsets not found at {root} (set HASBENCH_DATA)")
    return root


@pytest.fixture(scope="session")
def tiny_cifar10(tmp_path_factory) -> Path:
    """Generated two-part data in the cifar-10-batches-py layout, small enough for one epoch."""
    from benchmark.synth_parts import write_cifar10_layout

    root = tmp_path_factory.mktemp("cifar10-synth")
    write_cifar10_layout(root, seed=0, train_per_class=12, test_per_class=6)
    return root
