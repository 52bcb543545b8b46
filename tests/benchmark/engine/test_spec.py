"""Run ids: pinned (records are found by them) and independent of where the data lives."""

from __future__ import annotations

import pytest

from benchmark.engine.spec import RunSpec

#: Ids of finished runs in users' results folders: a change here orphans their records.
GOLDEN_IDS = [
    (RunSpec("classification"), "classification__default__default__baseline__seed0__f2502ba7"),
    (RunSpec("wsol", method="has", dataset="cub", model="resnet50", seed=2, epochs=6),
     "wsol__cub__resnet50__has__seed2__639793ed"),
    (RunSpec("reid", method="has-32", dataset="market1501",
             options=(("batch_size", 32), ("lr", 0.01)), synthetic=True),
     "reid__market1501-synth__default__has-32__seed0__79af7947"),
    (RunSpec("segmentation", method="random_erasing", epochs=1,
             options=(("launcher", "slurm"),)),
     "segmentation__default__default__random_erasing__seed0__78a3fbc5"),
]


@pytest.mark.parametrize(("spec", "run_id"), GOLDEN_IDS, ids=[i for _, i in GOLDEN_IDS])
def test_run_ids_are_pinned(spec, run_id):
    assert spec.run_id() == run_id


@pytest.mark.parametrize(("spec", "run_id"), GOLDEN_IDS, ids=[i for _, i in GOLDEN_IDS])
def test_run_id_is_the_same_whatever_the_data_root_device_or_launcher(spec, run_id):
    for changed in (RunSpec(**{**spec.__dict__, "data_root": "/elsewhere/data"}),
                    RunSpec(**{**spec.__dict__, "device": "cuda"}),
                    spec.with_options(launcher="pytorch")):
        assert changed.run_id() == run_id


def test_what_the_run_computes_changes_its_id():
    base = RunSpec("classification")
    for changed in (RunSpec("classification", seed=1), RunSpec("classification", epochs=3),
                    RunSpec("classification", synthetic=True), base.with_options(lr=0.1),
                    RunSpec("classification", method="has")):
        assert changed.run_id() != base.run_id()
