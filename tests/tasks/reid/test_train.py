"""The torchreid run loop's evaluation: rank-k and mAP under the Market-1501 protocol."""

import numpy as np
import pytest

from tasks.reid.train import rank_metrics


def test_rank_and_map_on_a_hand_made_distance_matrix():
    #             g0  g1  g2  g3  g4  g5  g6
    g_pids = [1, 2, 1, 0, 1, 3, 2]
    g_cams = [0, 1, 1, 2, 2, 1, 0]
    q_pids, q_cams = [1, 2, 3], [0, 1, 1]
    dist = np.array([
        [0.1, 0.2, 0.4, 0.3, 0.6, 0.5, 0.7],  # g0 same id+camera: discarded
        [0.3, 0.05, 0.2, 0.4, 0.5, 0.6, 0.1],  # g1 same id+camera: discarded
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.05, 0.6],  # only match g5 is same camera: query skipped
    ])
    # q0 ranks g1 x, g3 x (distractor), g2 v, g5 x, g4 v, g6 x -> first hit at 3,
    #    AP = (1/3 + 2/5) / 2 = 11/30;  q1 ranks g6 v first -> AP = 1.
    got = rank_metrics(dist, q_pids, g_pids, q_cams, g_cams, ranks=(1, 2, 3))
    assert got["rank1"] == pytest.approx(50.0)
    assert got["rank2"] == pytest.approx(50.0)
    assert got["rank3"] == pytest.approx(100.0)
    assert got["map"] == pytest.approx(100 * (11 / 30 + 1) / 2)
    # Without the same-camera rule q0 would hit g0 at rank 1: the rule is applied.
    assert rank_metrics(dist, q_pids, g_pids, [9, 9, 9], g_cams, ranks=(1,))["rank1"] == 100.0


def test_rank_metrics_rejects_unusable_splits():
    with pytest.raises(ValueError, match="another camera"):
        rank_metrics(np.zeros((1, 3)), [1], [1, 2, 3], [0], [0, 0, 0], ranks=(1,))
    with pytest.raises(ValueError, match="rank-10"):
        rank_metrics(np.zeros((1, 3)), [1], [1, 2, 3], [0], [1, 0, 0], ranks=(1, 10))
