"""Shared fixtures: the real data folder, small generated datasets, quiet warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from benchmark.engine.paths import data_dir

warnings.filterwarnings("ignore", category=UserWarning)

#: Why a test marked ``cuda`` was skipped.
NO_CUDA_REASON = "needs a CUDA device (torch.cuda.is_available() is False); `pytest -m cuda` " \
                 "on a GPU machine runs it"


def pytest_runtest_setup(item):
    """Skip a test marked ``cuda`` (``pytest.mark.cuda``) when no CUDA device is visible.

    A test runs its CPU variant everywhere and its CUDA variant where there is one by
    parametrizing over ``["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]`` (the
    :func:`device` fixture does it); ``pytest -m cuda`` selects the CUDA variants only.
    """
    if item.get_closest_marker("cuda") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip(NO_CUDA_REASON)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request) -> str:
    """``"cpu"``, then ``"cuda"`` (marked ``cuda``: skipped without a CUDA device)."""
    return request.param


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


@pytest.fixture(autouse=True)
def one_thread():
    """Run every test with one torch thread (restored after it).

    Two OpenMP threads per process on a shared 2-core machine made training many times slower.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class InputSpy:
    """What the model's data preprocessor handed the network in an mmengine run.

    ``fractions[training]`` holds, per batch, the fraction of input values within ``0.01`` of
    the fill: hidden cells hold the mean pixel, 0 after normalization (within 0.0087 with a
    rounded uint8 fill) -- or, where HaS fills the training set's own mean and the normalizer
    is ImageNet's, that mean normalized (``fill``, one value per channel) -- while natural
    pixels are rarely that close to the mean in a value.
    """

    def __init__(self):
        self.fractions = {True: [], False: []}
        self.fill = None  # per-channel normalized fill; None: 0

    def watch(self, module):
        """Also record every input ``module`` is called with (torchreid: no data preprocessor)."""
        module.register_forward_pre_hook(lambda mod, args: self.record(args[0], mod.training))
        return module

    def reset(self):
        """Forget what was seen (before the next run in the same test)."""
        self.fractions = {True: [], False: []}

    def record(self, out, training):
        for batch in out if isinstance(out, tuple | list) else (out,):
            inputs = batch["inputs"] if isinstance(batch, dict) else batch
            tensors = inputs if isinstance(inputs, tuple | list) else [inputs]
            tensors = [t for t in tensors if hasattr(t, "is_floating_point")
                       and t.is_floating_point()]
            if tensors:
                near = sum(float((self._off_fill(t).abs() < 0.01).sum()) for t in tensors)
                self.fractions[bool(training)].append(near / sum(t.numel() for t in tensors))

    def _off_fill(self, t):
        """``t`` minus the fill of its channel (channels on dim 1, or 2 for clips)."""
        if self.fill is None:
            return t
        import torch

        fill = torch.as_tensor(self.fill, dtype=t.dtype, device=t.device)
        axis = next(a for a in (1, 2) if a < t.ndim and t.shape[a] == len(fill))
        return t - fill.view(-1, *([1] * (t.ndim - axis - 1)))

    def check(self, method: str):
        """Training batches hidden iff the method is HaS; evaluation batches never.

        Methods that erase otherwise (random erasing) get only the evaluation check.
        """
        hides = True if method == "has" or method.startswith("has-") else (
            False if method == "baseline" else None)
        train, evaluation = self.fractions[True], self.fractions[False]
        assert train and evaluation, f"no batches seen: {len(train)} train, {len(evaluation)} eval"
        mean_train = sum(train) / len(train)
        assert max(evaluation) < 0.05, f"evaluation batches look hidden: {max(evaluation):.3f}"
        print(f"input spy {method}: train {mean_train:.3f}, eval max {max(evaluation):.3f}")
        if hides:
            assert mean_train > 0.25, f"training batches are not hidden: {mean_train:.3f}"
        elif hides is False:
            assert mean_train < 0.1, f"training batches look hidden: {mean_train:.3f}"


def _normalized_fill(cfg, preprocessor):
    """The normalized value HaS fills with in this run, where it is not 0 (else None)."""
    from benchmark.methods import _train_dataset_cfgs, normalized_fill

    fill = getattr(getattr(preprocessor, "hide_and_seek", None), "fill", 0.0)
    if isinstance(fill, tuple):
        return list(fill)
    for dataset in _train_dataset_cfgs(cfg):
        for stage in dataset["pipeline"]:
            if str(stage["type"]).endswith("HideAndSeek") and stage.get("mean"):
                pre = cfg.get("data_preprocessor") or cfg.model.data_preprocessor
                return normalized_fill([round(v) for v in stage["mean"]], pre)
    return None


@pytest.fixture
def input_spy(monkeypatch):
    """An :class:`InputSpy` on every mmengine ``Runner`` that trains in this test."""
    from mmengine.runner import Runner

    spy, train = InputSpy(), Runner.train

    def spying_train(runner):
        preprocessor = runner.model.data_preprocessor
        forward = preprocessor.forward
        spy.fill = _normalized_fill(runner.cfg, preprocessor)

        def spying_forward(data, training=False):
            out = forward(data, training)
            spy.record(out, training)
            return out

        preprocessor.forward = spying_forward
        return train(runner)

    monkeypatch.setattr(Runner, "train", spying_train)
    return spy
