"""Temporal localization helpers: annotations, features, timeline, grouping, NMS, mAP."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.engine.paths import data_dir
from tasks.action_localization import temporal

THUMOS_JSON = data_dir() / "thumos14-annotations" / "thumos14.json"
needs_thumos = pytest.mark.skipif(
    not THUMOS_JSON.is_file(),
    reason=f"real THUMOS14 annotations not found at {THUMOS_JSON} (set HASBENCH_DATA)",
)


# --------------------------------------------------------------------------- annotations
@needs_thumos
def test_real_annotations_counts_and_classes():
    validation = temporal.load_annotations(THUMOS_JSON, "Validation")
    test = temporal.load_annotations(THUMOS_JSON, "test")  # subset name is case-insensitive
    assert (len(validation), len(test)) == (200, 212)
    labels = {s.label_id for v in validation + test for s in v.segments}
    assert labels == set(range(20)) == set(range(len(temporal.THUMOS14_CLASSES)))
    raw = json.loads(THUMOS_JSON.read_text())["database"]
    for video in validation[:20] + test[:20]:
        entry = raw[video.video_id]
        assert video.duration_seconds == entry["duration"] and video.fps == entry["fps"]
        assert len(video.segments) == len(entry["annotations"])
        for seg, ann in zip(video.segments, entry["annotations"], strict=True):
            assert temporal.THUMOS14_CLASSES[seg.label_id] == ann["label"]
            assert 0 <= seg.start_seconds <= seg.end_seconds


def test_annotations_reject_wrong_layout(tmp_path):
    bad = tmp_path / "a.json"
    bad.write_text(json.dumps({"videos": {}}))
    with pytest.raises(ValueError, match="database"):
        temporal.load_annotations(bad)


# --------------------------------------------------------------------------- features
def test_feature_loader_single_and_two_stream(tmp_path):
    rng = np.random.default_rng(0)
    single = rng.normal(size=(7, 6)).astype(np.float32)
    np.save(tmp_path / "v1.npy", single)
    rgb, flow = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    np.save(tmp_path / "v2_rgb.npy", rgb)
    np.save(tmp_path / "v2_flow.npy", flow)
    assert np.array_equal(temporal.load_features(tmp_path, "v1"), single)
    both = temporal.load_features(tmp_path, "v2")
    assert both.shape == (5, 7) and both.dtype == np.float32
    assert np.allclose(both[:, :4], rgb) and np.allclose(both[:, 4:], flow)
    with pytest.raises(ValueError, match=r"v3\.npy"):
        temporal.load_features(tmp_path, "v3")


def test_feature_loader_trims_streams_off_by_one_and_rejects_bad_shapes(tmp_path):
    np.save(tmp_path / "a_rgb.npy", np.zeros((10, 2)))
    np.save(tmp_path / "a_flow.npy", np.ones((9, 2)))
    assert temporal.load_features(tmp_path, "a").shape == (9, 4)
    np.save(tmp_path / "b.npy", np.zeros(5))
    with pytest.raises(ValueError, match="T x D"):
        temporal.load_features(tmp_path, "b")


# --------------------------------------------------------------------------- timeline
def test_seconds_snippets_round_trip():
    stride, fps = 16, 30.0  # 1 snippet = 0.5333 s
    start_s, end_s = temporal.snippets_to_seconds(3, 8, stride, fps)
    assert start_s == pytest.approx(3 * 16 / 30) and end_s == pytest.approx(8 * 16 / 30)
    assert temporal.seconds_to_snippets(start_s, end_s, stride, fps) == (3, 8)
    # A span inside one snippet covers that snippet; a span over a boundary covers both.
    assert temporal.seconds_to_snippets(0.1, 0.2, stride, fps) == (0, 1)
    assert temporal.seconds_to_snippets(0.5, 0.6, stride, fps) == (0, 2)
    # Clipped to the sequence.
    assert temporal.seconds_to_snippets(-1.0, 100.0, stride, fps, num_snippets=10) == (0, 10)
    assert temporal.num_snippets_for(10.0, 25.0, 16) == 15
    with pytest.raises(ValueError, match="positive"):
        temporal.snippets_to_seconds(0, 1, 0, 30)


# --------------------------------------------------------------------------- grouping
def test_group_runs_adjacent_single_and_empty():
    assert temporal.group_runs([0, 1, 1, 0, 1, 0, 0, 1, 1]) == [(1, 3), (4, 5), (7, 9)]
    assert temporal.group_runs([1]) == [(0, 1)]
    assert temporal.group_runs([0, 0, 0]) == []
    assert temporal.group_runs([]) == []
    assert temporal.group_runs(np.ones(4, bool)) == [(0, 4)]


def test_detect_segments_on_hand_made_tcam():
    tcam = np.zeros((20, 3))
    tcam[2:6, 1] = 0.9  # a 4-snippet action of class 1
    tcam[6:8, 1] = 0.85  # adjacent, slightly weaker: merged at low thresholds
    tcam[12, 1] = 0.95  # a single snippet
    tcam[:, 2] = 0.5  # flat: the class is not in the video
    scores = np.array([0.01, 0.9, 0.05])
    dets = temporal.detect_segments(tcam, scores, thresholds=(0.5,), nms_iou=0.5)
    assert {d.label_id for d in dets} == {1}
    spans = sorted((d.start, d.end) for d in dets)
    assert spans == [(2, 8), (12, 13)]
    # At a threshold between the two plateaus the adjacent run splits off.
    split = temporal.detect_segments(tcam, scores, thresholds=(0.9,), nms_iou=0.5)
    assert sorted((d.start, d.end) for d in split) == [(2, 6), (12, 13)]
    # Empty T-CAM, and a silent one (only the best class is kept, one run over everything).
    assert temporal.detect_segments(np.zeros((0, 3)), scores) == []
    silent = temporal.detect_segments(np.zeros((5, 3)), scores)
    assert [(d.label_id, d.start, d.end) for d in silent] == [(1, 0, 5)]


def test_detect_segments_limits_classes_and_checks_shapes():
    tcam = np.random.default_rng(0).random((30, 5))
    dets = temporal.detect_segments(tcam, np.full(5, 0.9), max_classes=2)
    assert len({d.label_id for d in dets}) == 2
    with pytest.raises(ValueError, match="T x C"):
        temporal.detect_segments(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="video scores"):
        temporal.detect_segments(np.zeros((4, 5)), np.zeros(3))


def test_outer_inner_score_prefers_contrast():
    activation = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    tight, loose = temporal.outer_inner_scores(activation, np.array([2, 1]), np.array([4, 5]))
    assert tight == pytest.approx(1.0) and loose < tight


def test_temporal_nms_keeps_best_of_overlapping():
    segments = np.array([[0, 10], [1, 10], [20, 30], [0, 4]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert temporal.temporal_nms(segments, scores, 0.5) == [0, 2, 3]
    assert temporal.temporal_nms(segments, scores, 0.95) == [0, 1, 2, 3]
    assert temporal.temporal_nms(np.zeros((0, 2)), np.zeros(0), 0.5) == []


# --------------------------------------------------------------------------- mAP
def test_map_hand_computed_through_mmaction():
    # Class 0: two ground truths in v1; detections sorted by score: a false positive in v2
    # (0.95), an exact hit (0.9), and a hit of tIoU 9/11 = 0.818 (0.8).
    # Precision 0, 1/2, 2/3 at recall 0, 1/2, 1 -> interpolated AP = 2/3 at tIoU <= 0.8,
    # and 1/2 x 1/2 = 1/4 at tIoU 0.9 (the third detection becomes a false positive).
    ground_truth = {"v1": [(0, 0.0, 10.0), (0, 20.0, 30.0)], "v2": []}
    detections = {"v1": [(0, 0.0, 10.0, 0.9), (0, 21.0, 31.0, 0.8)], "v2": [(0, 0.0, 5.0, 0.95)]}
    values, classes = temporal.mean_average_precision(ground_truth, detections, (0.1, 0.5, 0.9))
    assert classes == [0]
    assert values == pytest.approx([2 / 3, 2 / 3, 1 / 4], abs=1e-6)
    # A second class with a perfect detection averages in.
    ground_truth["v2"] = [(1, 3.0, 4.0)]
    detections["v2"].append((1, 3.0, 4.0, 0.5))
    values, classes = temporal.mean_average_precision(ground_truth, detections, (0.5,))
    assert classes == [0, 1] and values[0] == pytest.approx((2 / 3 + 1) / 2, abs=1e-6)


def test_map_metrics_names_and_percent():
    ground_truth = {"v": [(3, 1.0, 2.0)]}
    metrics = temporal.map_metrics(ground_truth, {"v": [(3, 1.0, 2.0, 1.0)]})
    assert list(metrics) == ["map@0.1", "map@0.2", "map@0.3", "map@0.4", "map@0.5", "map@0.3:0.7"]
    assert all(v == pytest.approx(100.0) for v in metrics.values())
    empty = temporal.map_metrics(ground_truth, {"v": []})
    assert all(v == 0.0 for v in empty.values())
