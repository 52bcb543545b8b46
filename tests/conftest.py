"""Shared fixtures: the real data folder, small generated datasets, quiet warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from benchmark.engine.paths import data_dir

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
    from tasks.classification.synth import write_cifar10_layout

    root = tmp_path_factory.mktemp("cifar10-synth")
    write_cifar10_layout(root, seed=0, train_per_class=12, test_per_class=6)
    return root


@pytest.fixture(scope="session")
def build_face_dataset():
    """``build(dataset_cfg)``: a face dataset (emotion, age/gender) from its mmpretrain config."""
    from mmpretrain.registry import DATASETS
    from mmpretrain.utils import register_all_modules

    import tasks._faces.mm  # noqa: F401  (registers the face datasets)

    register_all_modules(init_default_scope=True)
    return DATASETS.build


@pytest.fixture
def one_thread():
    """Run the test with one torch thread (restored after it).

    Two OpenMP threads per process on a shared 2-core machine made training many times slower.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
