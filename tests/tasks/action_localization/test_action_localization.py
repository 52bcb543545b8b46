"""Temporal action localization task: generated features, pipeline stages, short runs."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from benchmark.engine.paths import data_dir
from benchmark.engine.spec import RunSpec
from tasks.action_localization import temporal

THUMOS_JSON = data_dir() / "thumos14-annotations" / "thumos14.json"
#: The generated features follow the real timeline when the file is there, a generated one
#: otherwise: only the comparison with the real file needs it.
needs_real_timeline = pytest.mark.skipif(
    not THUMOS_JSON.is_file(),
    reason=f"real THUMOS14 annotations not found at {THUMOS_JSON} (set HASBENCH_DATA); the "
           "other tests ran on a generated timeline",
)
FAST = dict(max_train_videos=8, max_test_videos=4, val_interval=1)


@pytest.fixture(scope="module")
def thumos_root(tmp_path_factory):
    """Generated features for 16 validation + 16 test videos (the real timeline if there)."""
    from tasks.action_localization.synth import write_thumos14_features

    root = tmp_path_factory.mktemp("thumos-synth")
    write_thumos14_features(root, seed=0, max_videos_per_subset=16)
    return root


@needs_real_timeline
def test_generated_features_follow_the_real_timeline(thumos_root):
    from tasks.action_localization.synth import FEATURE_DIM, FEATURE_STRIDE_FRAMES

    videos = temporal.load_annotations(thumos_root / "thumos14.json")
    assert sorted({v.subset for v in videos}) == ["Test", "Validation"]
    assert len(videos) == 32
    real = {v.video_id: v for v in temporal.load_annotations(THUMOS_JSON)}
    info = json.loads((thumos_root / "features" / "feature_info.json").read_text())
    assert info["stride_frames"] == FEATURE_STRIDE_FRAMES
    inside, outside = [], []
    for video in videos:
        assert video == real[video.video_id]  # annotations copied unchanged
        features = temporal.load_features(thumos_root / "features", video.video_id)
        length = temporal.num_snippets_for(video.duration_seconds, video.fps,
                                           FEATURE_STRIDE_FRAMES)
        assert features.shape == (length, FEATURE_DIM)
        action = np.zeros(length, dtype=bool)
        for seg in video.segments:
            start, end = temporal.seconds_to_snippets(seg.start_seconds, seg.end_seconds,
                                                      FEATURE_STRIDE_FRAMES, video.fps, length)
            action[start:end] = True
        centred = features - features[~action].mean(0) if (~action).any() else features
        inside.append((centred[action] ** 2).sum(1).mean())
        outside.append((centred[~action] ** 2).sum(1).mean())
    # Background is unit-variance noise per dimension; action snippets carry extra energy.
    assert np.mean(outside) == pytest.approx(FEATURE_DIM, rel=0.1)
    assert np.mean(inside) > np.mean(outside) + 0.1 * FEATURE_DIM


def test_without_real_annotations_the_timeline_is_generated(tmp_path, monkeypatch):
    from tasks.action_localization.synth import FEATURE_DIM, write_thumos14_features

    monkeypatch.setenv("HASBENCH_DATA", str(tmp_path / "no-data"))
    ids = write_thumos14_features(tmp_path / "d", seed=3, max_videos_per_subset=5)
    info = json.loads((tmp_path / "d" / "features" / "feature_info.json").read_text())
    videos = temporal.load_annotations(tmp_path / "d" / "thumos14.json")
    assert info["timeline"] == "generated" and [v.video_id for v in videos] == ids
    assert sorted({v.subset for v in videos}) == ["Test", "Validation"] and len(ids) == 10
    for video in videos:
        assert video.segments and all(0 <= s.label_id < 20 for s in video.segments)
        ends = [(s.start_seconds, s.end_seconds) for s in video.segments]
        assert all(a < b <= video.duration_seconds for a, b in ends)
        assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(ends))
        features = temporal.load_features(tmp_path / "d" / "features", video.video_id)
        assert features.shape[1] == FEATURE_DIM
    with pytest.raises(ValueError, match="is missing"):
        write_thumos14_features(tmp_path / "e", annotations=tmp_path / "nothing.json")


def test_generated_two_stream_files(tmp_path):
    from tasks.action_localization.synth import write_thumos14_features

    ids = write_thumos14_features(tmp_path, seed=1, max_videos_per_subset=1, feature_dim=8,
                                  two_stream=True)
    assert len(ids) == 2
    for vid in ids:
        rgb = np.load(tmp_path / "features" / f"{vid}_rgb.npy")
        assert rgb.shape[1] == 4
        assert temporal.load_features(tmp_path / "features", vid).shape[1] == 8


def test_dataset_and_pipeline_give_video_labels_only(thumos_root):
    from tasks.action_localization.mm import ThumosFeatureDataset

    pipeline = [dict(type="mmaction.LoadSnippetFeatures"),
                dict(type="mmaction.SampleSnippets", num_snippets=32),
                dict(type="mmaction.PackSnippetInputs")]
    dataset = ThumosFeatureDataset(ann_file=str(thumos_root / "thumos14.json"),
                                   feature_dir=str(thumos_root / "features"), subset="Validation",
                                   max_videos=5, pipeline=pipeline)
    assert len(dataset) == 5
    videos = {v.video_id: v for v in temporal.load_annotations(thumos_root / "thumos14.json")}
    for i in range(len(dataset)):
        item = dataset[i]
        meta = item["data_samples"].metainfo
        assert tuple(item["inputs"].shape) == (32, 64)
        video = videos[meta["video_name"]]
        assert np.flatnonzero(meta["video_label"]).tolist() == video.label_ids()
        assert meta["stride_frames"] == 16 and meta["fps"] == videos[meta["video_name"]].fps


def test_hide_and_seek_frames_on_feature_sequences():
    from mmaction.registry import TRANSFORMS

    import benchmark.pipelines  # noqa: F401  (registers the stages)

    stage = TRANSFORMS.build(dict(type="HideAndSeekFrames", keys=("snippet_features",),
                                  hide_prob=0.5, segment_len=4, fill=0.0, time_axis=0))
    rng = np.random.default_rng(0)
    np.random.seed(0)
    hidden_fraction = []
    for _ in range(200):
        seq = rng.normal(size=(30, 6)).astype(np.float32) + 3.0  # no zero rows by chance
        original = seq.copy()
        out = stage({"snippet_features": seq})["snippet_features"]
        assert out.shape == seq.shape and out.dtype == seq.dtype
        assert np.array_equal(seq, original)  # input untouched
        hidden = (out == 0).all(axis=1)
        assert np.array_equal(out[~hidden], seq[~hidden])  # visible rows unchanged
        # Hidden rows come in whole segments of 4 from the start (the last one may be short).
        segments = hidden.reshape(-1)[:28].reshape(7, 4)
        assert (segments.all(1) | ~segments.any(1)).all()
        assert hidden[28] == hidden[29]
        hidden_fraction.append(hidden.mean())
    assert 0.4 < np.mean(hidden_fraction) < 0.6


def test_erase_snippet_span_is_one_contiguous_span():
    from tasks.action_localization.mm import EraseSnippetSpan

    stage = EraseSnippetSpan(prob=0.5, min_fraction=0.02, max_fraction=0.4)
    np.random.seed(0)
    erased_count = 0
    for _ in range(200):
        seq = np.random.rand(50, 3).astype(np.float32) + 1.0
        out = stage({"snippet_features": seq})["snippet_features"]
        hidden = (out == 0).all(axis=1)
        runs = temporal.group_runs(hidden)
        assert len(runs) <= 1
        if runs:
            erased_count += 1
            start, end = runs[0]
            assert 1 <= end - start <= round(0.4 * 50)
            assert np.array_equal(out[~hidden], seq[~hidden])
    assert 70 < erased_count < 130  # p = 0.5
    with pytest.raises(ValueError, match="EraseSnippetSpan"):
        EraseSnippetSpan(min_fraction=0.5, max_fraction=0.1)


def test_check_rejects_missing_features_and_unknown_options(thumos_root, tmp_path):
    from tasks.action_localization import TASK

    spec = TASK.resolve(RunSpec(task="action_localization", data_root=str(thumos_root)))
    TASK.check(spec)
    with pytest.raises(ValueError, match="unknown options"):
        TASK.check(spec.with_options(max_videos=3))
    broken = tmp_path / "broken"
    (broken / "features").mkdir(parents=True)
    (broken / "thumos14.json").write_text((thumos_root / "thumos14.json").read_text())
    with pytest.raises(ValueError, match="have no features"):
        TASK.check(TASK.resolve(RunSpec(task="action_localization", data_root=str(broken))))
    (broken / "thumos14.json").unlink()
    with pytest.raises(ValueError, match="missing the annotations"):
        TASK.check(TASK.resolve(RunSpec(task="action_localization", data_root=str(broken))))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["baseline", "random_erasing", "has"])
def test_short_run_writes_map_rows(method, thumos_root, tmp_path, input_spy):
    from benchmark.engine.runner import run_one

    spec = RunSpec(task="action_localization", method=method, data_root=str(thumos_root),
                   epochs=1, synthetic=True, options=tuple(sorted(FAST.items())))
    record = run_one(spec, tmp_path, raise_errors=True)
    assert record.status == "ok"
    names = ["map@0.1", "map@0.2", "map@0.3", "map@0.4", "map@0.5", "map@0.3:0.7"]
    assert set(record.metrics) == set(names)
    values = [record.metrics[n] for n in names[:5]]
    assert all(0.0 <= v <= 100.0 for v in values)
    assert values == sorted(values, reverse=True)  # stricter tIoU never raises AP
    assert record.method_params["method"] == method
    if method == "has":
        assert record.method_params["has_hide_prob"] == 0.5
        assert record.method_params["has_segment_snippets"] >= 1
    if method == "random_erasing":
        assert record.method_params["re_span_fraction"] == [0.02, 0.4]
    work = tmp_path / "work" / record.run_id
    assert (work / record.artifacts["tcam"]).is_file()
    assert record.history and record.history[-1]["epoch"] == 1
    if method == "has":  # `hasbench explain` on the finished run
        from tasks.action_localization import explain

        figure = explain([work], tmp_path / "explain" / "tcam.png", n=2)
        assert figure.is_file() and figure.stat().st_size > 0
    input_spy.check(method)
