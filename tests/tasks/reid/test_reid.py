"""Re-ID on torchreid: layouts through torchreid's own parsers, no downloads, rank/mAP, runs."""

import hashlib
import re
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from benchmark.engine.runner import run_one
from benchmark.engine.spec import RunSpec
from tasks import get_task
from tasks.reid import LAYOUTS, apply_options, register_offline_datasets
from tasks.reid.synth import write_reid_layout

TASK = get_task("reid")
NAME = re.compile(r"([-\d]+)_c(\d)")
SMALL = dict(num_train_ids=6, num_test_ids=5, images_per_id=4, num_cameras=3)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("market")
    write_reid_layout(root, seed=0, **SMALL, num_distractor_images=4, num_junk_images=3)
    return root


@pytest.fixture(scope="module")
def duke(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("duke")
    write_reid_layout(root, seed=1, style="duke", num_train_ids=5, num_test_ids=4,
                      images_per_id=4, num_cameras=8, num_distractor_ids=2,
                      num_distractor_images=0, num_junk_images=0)
    return root


def _on_disk(folder: Path) -> list[tuple[int, int]]:
    return sorted(tuple(map(int, NAME.match(p.name).groups())) for p in folder.glob("*.jpg"))


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlretrieve", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# ----------------------------------------------------------------------------- layouts
def test_market_layout_parsed_by_torchreid(market):
    LAYOUTS["market1501"].check(market)
    base = market / LAYOUTS["market1501"].subdir
    data = register_offline_datasets()["market1501"](root=str(market), verbose=False)
    train, query, gallery = (_on_disk(base / s) for s in
                             ("bounding_box_train", "query", "bounding_box_test"))
    assert {pid for pid, _ in gallery} >= {0, -1}  # distractors and junk were written
    # junk (-1) is dropped everywhere; distractors (0000) stay in the gallery; cameras 0-based
    assert len(data.gallery) == sum(pid != -1 for pid, _ in gallery)
    assert sorted((p, c + 1) for _, p, c, _ in data.gallery) == [g for g in gallery if g[0] != -1]
    assert sorted((p, c + 1) for _, p, c, _ in data.query) == query
    assert 0 in {p for _, p, _, _ in data.gallery}
    # train ids are relabeled 0..N-1, one label per original id
    assert data.num_train_pids == SMALL["num_train_ids"] == len({p for p, _ in train})
    assert {p for _, p, _, _ in data.train} == set(range(SMALL["num_train_ids"]))
    assert {c for _, _, c, _ in data.train} <= set(range(SMALL["num_cameras"]))
    # train and test identities are disjoint, every query id is in the gallery
    assert not {p for p, _ in train} & {p for p, _ in query}
    assert {p for p, _ in query} <= {p for p, _ in gallery}


def test_duke_layout_parsed_by_torchreid(duke):
    LAYOUTS["dukemtmc-reid"].check(duke)
    base = duke / LAYOUTS["dukemtmc-reid"].subdir
    data = register_offline_datasets()["dukemtmc-reid"](root=str(duke), verbose=False)
    query, gallery = _on_disk(base / "query"), _on_disk(base / "bounding_box_test")
    assert sorted((p, c + 1) for _, p, c, _ in data.gallery) == gallery
    assert data.num_train_pids == 5
    assert all(name.name.count("_") == 2 and "_f" in name.name
               for name in (base / "query").glob("*.jpg"))
    gallery_only = {p for p, _ in gallery} - {p for p, _ in query}
    assert len(gallery_only) == 2  # distractor identities, gallery only
    assert max(c for _, c in gallery + query) <= 8


@pytest.mark.parametrize("dataset", ["market1501", "dukemtmc-reid"])
def test_hasbench_synth_writes_a_layout_the_task_accepts(dataset, tmp_path):
    info = TASK.datasets[dataset]
    info.synth(tmp_path, 0)  # what `hasbench synth DATASET --out PATH` calls
    info.check_layout(tmp_path)
    base = tmp_path / LAYOUTS[dataset].subdir
    train = _on_disk(base / "bounding_box_train")
    assert len({p for p, _ in train}) == 30 and len(train) == 300
    cameras = {c for _, c in train + _on_disk(base / "bounding_box_test")}
    assert cameras == set(range(1, 7 if dataset == "market1501" else 9))


def test_generation_is_deterministic_by_seed(tmp_path):
    def digest(root):
        files = sorted(root.rglob("*.jpg"))
        return [f.name for f in files], hashlib.sha1(b"".join(f.read_bytes() for f in files))

    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for root, seed in ((a, 3), (b, 3), (c, 4)):
        write_reid_layout(root, seed=seed, num_train_ids=2, num_test_ids=2, images_per_id=4,
                          num_cameras=2, num_distractor_images=1, num_junk_images=1)
    (names_a, hash_a), (names_b, hash_b), (names_c, _) = digest(a), digest(b), digest(c)
    assert names_a == names_b and hash_a.hexdigest() == hash_b.hexdigest()
    assert names_a != names_c


# ----------------------------------------------------------------------------- no downloads
def test_missing_dataset_is_refused_without_network(tmp_path, no_network):
    classes = register_offline_datasets()
    with pytest.raises(ValueError, match=r"market1501/Market-1501-v15\.09\.15.*never downloads"):
        classes["market1501"](root=str(tmp_path))
    with pytest.raises(ValueError, match=r"dukemtmc-reid/DukeMTMC-reID"):
        classes["dukemtmc-reid"](root=str(tmp_path))
    assert not (tmp_path / "market1501").exists()  # torchreid would have created it
    with pytest.raises(ValueError, match=r"bounding_box_train,query,bounding_box_test"):
        TASK.check(TASK.resolve(RunSpec("reid", dataset="market1501", data_root=str(tmp_path),
                                        model="osnet_x0_25")))


def test_datamanager_never_downloads(tmp_path, no_network):
    from tasks.reid.train import import_torchreid

    torchreid = import_torchreid()
    register_offline_datasets()
    with pytest.raises(ValueError, match="expected layout"):
        torchreid.data.ImageDataManager(root=str(tmp_path), sources="hasbench_market1501",
                                        workers=0, use_gpu=False)


def test_layout_errors_name_what_is_wrong(market, tmp_path):
    inner = market / LAYOUTS["market1501"].subdir
    with pytest.raises(ValueError, match="two levels above"):
        LAYOUTS["market1501"].check(inner)
    broken = tmp_path / "market1501" / "Market-1501-v15.09.15"
    for split in ("bounding_box_train", "bounding_box_test"):
        (broken / split).mkdir(parents=True)
    with pytest.raises(ValueError, match="missing: query"):
        LAYOUTS["market1501"].check(tmp_path)
    (broken / "query").mkdir()
    for split in ("bounding_box_train", "query", "bounding_box_test"):
        (broken / split / "0001_c1s1_000001_01.jpg").write_bytes(b"")
    (broken / "query" / "person7.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"person7\.jpg does not follow"):
        LAYOUTS["market1501"].check(tmp_path)


def test_options_are_config_keys():
    cfg = {"train": {"batch_size": 32}, "data": {"height": 256}}
    assert apply_options(cfg, {"train.batch_size": 8})["train"]["batch_size"] == 8
    with pytest.raises(ValueError, match=r"unknown reid option .batch_size.*train\.batch_size"):
        apply_options(cfg, {"batch_size": 8})
    with pytest.raises(ValueError, match=r"train\.lr_typo"):
        apply_options(cfg, {"train.lr_typo": 1})


# ----------------------------------------------------------------------------- runs
TINY = (("data.height", 64), ("data.width", 32), ("data.workers", 0), ("test.batch_size", 64),
        ("train.batch_size", 8))


@pytest.mark.slow
def test_each_method_writes_rank_and_map_rows(market, tmp_path, input_spy, monkeypatch):
    from tasks.reid.train import import_torchreid

    models = import_torchreid().models
    build = models.build_model
    monkeypatch.setattr(models, "build_model", lambda *a, **k: input_spy.watch(build(*a, **k)))
    rows = {}
    for method in ("baseline", "random_erasing", "has", "has+random_erasing"):
        input_spy.reset()
        spec = RunSpec("reid", method=method, dataset="market1501", data_root=str(market),
                       model="osnet_x0_25", epochs=1, options=TINY, synthetic=True)
        record = run_one(spec, tmp_path, raise_errors=True)
        assert record.status == "ok" and record.dataset == "market1501-synth"
        assert set(record.metrics) == {"rank1", "rank5", "rank10", "map"}
        assert all(0.0 <= v <= 100.0 for v in record.metrics.values())
        assert record.metrics["rank1"] <= record.metrics["rank5"] <= record.metrics["rank10"]
        assert record.history[-1]["epoch"] == 1 and np.isfinite(record.history[-1]["loss"])
        rows[method] = record.method_params["train_transform"]
        input_spy.check(method.split("+")[0])  # training images hidden (HaS) or not; never eval
    assert "HideAndSeekTensor" not in rows["baseline"] + rows["random_erasing"]
    assert rows["random_erasing"][-1] == "RandomErasing"
    assert rows["has"][-1] == "HideAndSeekTensor"
    assert rows["has+random_erasing"][-2:] == ["HideAndSeekTensor", "RandomErasing"]


@pytest.mark.slow
def test_interrupted_run_resumes_from_torchreid_checkpoint(market, tmp_path):
    spec = TASK.resolve(RunSpec("reid", method="has", dataset="market1501",
                                data_root=str(market), model="osnet_x0_25", epochs=1,
                                options=TINY))
    two_epochs = TASK.resolve(RunSpec(**{**spec.__dict__, "epochs": 2}))
    first = TASK.run(spec, tmp_path / "interrupted")
    assert (tmp_path / "interrupted" / first.artifacts["checkpoint"]).name == "model.pth.tar-1"
    resumed = TASK.run(two_epochs, tmp_path / "interrupted")
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[0]["loss"] == first.history[0]["loss"]  # epoch 1 not retrained
    assert "Loading checkpoint" in (tmp_path / "interrupted" / "torchreid.log").read_text()
    assert [p.name for p in (tmp_path / "interrupted" / "checkpoints" / "model").iterdir()] == [
        "model.pth.tar-2"]
    # model, optimizer, scheduler and random streams are restored: same as never interrupted
    straight = TASK.run(two_epochs, tmp_path / "straight")
    assert straight.metrics == resumed.metrics
    assert straight.history[-1]["loss"] == resumed.history[-1]["loss"]
