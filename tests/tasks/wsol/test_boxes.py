"""Boxes from maps, IoU and the WSOL metrics on hand-made maps with hand-computed answers."""

import numpy as np
import pytest

from tasks.wsol import boxes as loc


def blob_map(hw, *boxes_and_values):
    cam = np.zeros(hw)
    for (x0, y0, x1, y1), value in boxes_and_values:
        cam[y0:y1 + 1, x0:x1 + 1] = np.maximum(cam[y0:y1 + 1, x0:x1 + 1], value)
    return cam


def test_iou_hand_computed():
    a = [0, 0, 9, 9]
    assert loc.box_iou(a, a)[0, 0] == 1.0
    # 5x5 overlap of two 10x10 boxes: 25 / (100 + 100 - 25)
    assert loc.box_iou(a, [5, 5, 14, 14])[0, 0] == pytest.approx(25 / 175)
    assert loc.box_iou(a, [10, 0, 19, 9])[0, 0] == 0.0  # touching edges do not overlap
    first, second = [a, [5, 5, 14, 14]], [[5, 5, 14, 14], a, [100, 100, 101, 101]]
    iou = loc.box_iou(first, second)
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(loc.box_iou(second, first), iou.T)
    np.testing.assert_allclose(iou[:, 2], 0.0)
    assert loc.box_iou(loc.EMPTY_BOX, a)[0, 0] == 0.0
    assert loc.box_iou(loc.EMPTY_BOX, loc.EMPTY_BOX)[0, 0] == 0.0


def test_best_iou_takes_best_matching_gt_box():
    gt = [[0, 0, 3, 3], [10, 10, 19, 19]]
    assert loc.best_iou([10, 10, 19, 19], gt) == 1.0
    assert loc.best_iou(np.zeros((0, 4)), gt) == 0.0
    with pytest.raises(ValueError, match="shape"):
        loc.box_iou([1, 2, 3], [0, 0, 1, 1])


def test_one_blob():
    cam = blob_map((20, 30), ((4, 6, 12, 9), 1.0))
    np.testing.assert_array_equal(loc.largest_component_box(cam), [4, 6, 12, 9])


def test_two_blobs_largest_wins_even_if_weaker():
    # a small strong blob and a large weaker one (above 20% of max): the large one is taken
    cam = blob_map((32, 32), ((1, 1, 3, 3), 1.0), ((10, 12, 29, 25), 0.5))
    np.testing.assert_array_equal(loc.largest_component_box(cam), [10, 12, 29, 25])
    # below 20% of the max, the weak blob is not part of any component
    cam = blob_map((32, 32), ((1, 1, 3, 3), 1.0), ((10, 12, 29, 25), 0.1))
    np.testing.assert_array_equal(loc.largest_component_box(cam), [1, 1, 3, 3])


def test_diagonal_pixels_are_one_component():
    cam = np.zeros((8, 8))
    cam[[2, 3, 4], [2, 3, 4]] = 1.0
    np.testing.assert_array_equal(loc.largest_component_box(cam), [2, 2, 4, 4])


def test_blob_touching_the_border():
    cam = blob_map((16, 16), ((0, 5, 3, 15), 1.0))
    np.testing.assert_array_equal(loc.largest_component_box(cam), [0, 5, 3, 15])
    full = np.full((16, 16), 0.5)
    full[0, 0], full[8, 8] = 0.0, 1.0  # all but the minimum pixel above 20%: the whole image
    np.testing.assert_array_equal(loc.largest_component_box(full), [0, 0, 15, 15])


@pytest.mark.parametrize(
    "cam",
    [np.zeros((10, 10)), np.full((10, 10), 3.5), np.full((10, 10), np.nan),
     np.full((10, 10), np.inf)],
    ids=["all-zero", "constant", "all-nan", "all-inf"],
)
def test_degenerate_maps_give_the_empty_box(cam):
    box = loc.largest_component_box(cam)
    np.testing.assert_array_equal(box, loc.EMPTY_BOX)
    assert loc.best_iou(box, [0, 0, 9, 9]) == 0.0
    assert not loc.best_iou_per_threshold(cam, [0, 0, 9, 9]).any()
    assert not loc.normalize_map(cam).any()


def test_nan_pixels_carry_no_evidence():
    cam = blob_map((12, 12), ((2, 3, 5, 7), 1.0))
    cam[0, :] = np.nan
    cam[11, 11] = -np.inf
    np.testing.assert_array_equal(loc.largest_component_box(cam), [2, 3, 5, 7])
    norm = loc.normalize_map(cam)
    assert np.isfinite(norm).all() and norm.min() == 0 and norm.max() == 1


def test_paper_metrics_hand_computed():
    gt_a, gt_b, gt_c = [2, 2, 5, 5], [6, 6, 9, 9], [0, 0, 3, 3]
    cam_a = blob_map((10, 10), ((2, 2, 5, 5), 1.0))
    cam_b_wrong_class = blob_map((10, 10), ((0, 0, 2, 2), 1.0))
    cam_b_gt_class = blob_map((10, 10), ((6, 6, 9, 9), 1.0))
    cam_c = blob_map((10, 10), ((0, 0, 1, 1), 1.0))  # IoU 4/16 with gt_c
    scores = [
        loc.score_image(cam_a, cam_a, 3, 3, [gt_a]),  # right class, right box
        loc.score_image(cam_b_wrong_class, cam_b_gt_class, 1, 0, [gt_b]),  # wrong class
        loc.score_image(cam_c, cam_c, 2, 2, [gt_c]),  # right class, box too small
    ]
    assert scores[2].iou_top1 == pytest.approx(0.25)
    metrics = loc.summarize(scores)
    assert metrics["top1_cls"] == pytest.approx(200 / 3)
    assert metrics["top1_loc"] == pytest.approx(100 / 3)
    assert metrics["gt_known_loc"] == pytest.approx(200 / 3)
    # binary maps: every threshold gives the same boxes -> A and B right, C (IoU .25) wrong
    assert metrics["maxboxaccv2"] == pytest.approx(200 / 3)


def test_maxboxaccv2_picks_one_threshold_for_all_images():
    # a map with a weak outer square (0.5) and a strong centre (1.0)
    cam = blob_map((10, 10), ((2, 2, 7, 7), 0.5), ((4, 4, 5, 5), 1.0))
    outer_gt, inner_gt = [2, 2, 7, 7], [4, 4, 5, 5]
    s_outer = loc.best_iou_per_threshold(cam, [outer_gt])
    s_inner = loc.best_iou_per_threshold(cam, [inner_gt])
    t = loc.cam_thresholds()
    # quantized outer level is int(0.5 * 255) = 127: thresholds below 127/255 keep it
    keeps_outer = (t * 255).astype(int) < 127
    np.testing.assert_allclose(s_outer, np.where(keeps_outer, 1.0, 4 / 36))
    np.testing.assert_allclose(s_inner, np.where(keeps_outer, 4 / 36, 1.0))
    # each image is right at a different threshold: the best single threshold gets 1 of 2
    per_delta = loc.max_box_acc(np.stack([s_outer, s_inner]))
    assert per_delta == {0.3: 50.0, 0.5: 50.0, 0.7: 50.0}
    # alone, each image reaches 100 at its own best threshold
    assert loc.max_box_acc(s_outer[None])[0.5] == 100.0


def test_contour_boxes_include_every_region_and_hole():
    mask = np.zeros((12, 12), bool)
    mask[1:4, 1:4] = True
    mask[6:11, 6:11] = True
    mask[8, 8] = False  # a hole: RETR_TREE gives its contour too
    boxes = loc.contour_boxes(mask)
    as_set = {tuple(b) for b in boxes.astype(int).tolist()}
    assert (1, 1, 3, 3) in as_set and (6, 6, 10, 10) in as_set
    assert len(boxes) == 3


def test_summarize_empty():
    assert loc.summarize([])["top1_loc"] == 0.0
