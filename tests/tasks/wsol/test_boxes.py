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
    assert not loc.normalize_map(cam).any()
    # MaxBoxAccV2: no contour at any threshold -> wsolevaluation's box (0, 0, 0, 0), the one
    # pixel at the origin: IoU 1 / 100 with the whole 10x10 image, 1 with that pixel, 0 with a
    # box away from it
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [0, 0, 9, 9]), 0.01)
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [0, 0, 0, 0]), 1.0)
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [5, 5, 9, 9]), 0.0)


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
    # MaxBoxAccV2 on binary maps (every threshold gives the same boxes), wsolevaluation boxes:
    # A: blob x, y 2..5 -> (2, 2, 6, 6), 25 px, GT 16 px inside it: IoU 16/25 = .64
    # B: blob 6..9 touches the 10x10 border -> min(6 + 4, 9) = 9: (6, 6, 9, 9), IoU 1
    # C: blob 0..1 -> (0, 0, 2, 2), 9 px inside the 16-px GT: IoU 9/16 = .5625
    # δ .3 and .5: 3 of 3; δ .7: B only -> mean (100 + 100 + 100/3) / 3
    np.testing.assert_allclose(scores[0].maxbox_scores, 16 / 25)
    np.testing.assert_allclose(scores[1].maxbox_scores, 1.0)
    np.testing.assert_allclose(scores[2].maxbox_scores, 9 / 16)
    assert metrics["maxboxacc@0.3"] == metrics["maxboxacc@0.5"] == 100.0
    assert metrics["maxboxacc@0.7"] == pytest.approx(100 / 3)
    assert metrics["maxboxaccv2"] == pytest.approx(700 / 9)


def test_maxboxaccv2_picks_one_threshold_for_all_images():
    # a map with a weak outer square (0.5) and a strong centre (1.0)
    cam = blob_map((10, 10), ((2, 2, 7, 7), 0.5), ((4, 4, 5, 5), 1.0))
    # wsolevaluation's contour boxes: outer square 2..7 -> (2, 2, 8, 8), 49 px; centre 4..5
    # -> (4, 4, 6, 6), 9 px inside it: IoU 9/49 between them
    outer_gt, inner_gt = [2, 2, 8, 8], [4, 4, 6, 6]
    s_outer = loc.best_iou_per_threshold(cam, [outer_gt])
    s_inner = loc.best_iou_per_threshold(cam, [inner_gt])
    t = loc.cam_thresholds()
    # quantized outer level is int(0.5 * 255) = 127: thresholds below 127/255 keep it
    keeps_outer = (t * 255).astype(int) < 127
    np.testing.assert_allclose(s_outer, np.where(keeps_outer, 1.0, 9 / 49))
    np.testing.assert_allclose(s_inner, np.where(keeps_outer, 9 / 49, 1.0))
    # each image is right at a different threshold: the best single threshold gets 1 of 2
    per_delta = loc.max_box_acc(np.stack([s_outer, s_inner]))
    assert per_delta == {0.3: 50.0, 0.5: 50.0, 0.7: 50.0}
    # alone, each image reaches 100 at its own best threshold
    assert loc.max_box_acc(s_outer[None])[0.5] == 100.0


def test_contour_boxes_include_every_region_and_hole():
    mask = np.zeros((12, 12), bool)
    mask[1:4, 1:4] = True  # rect (1, 1, 3, 3) -> (1, 1, 1 + 3, 1 + 3)
    mask[6:11, 6:11] = True  # rect (6, 6, 5, 5) -> (6, 6, 11, 11): 11 = W - 1, not clipped
    mask[8, 8] = False  # a hole: RETR_TREE gives its contour too, through pixels 7..9
    assert box_set(loc.contour_boxes(mask)) == {(1, 1, 4, 4), (6, 6, 11, 11), (7, 7, 10, 10)}


def box_set(boxes):
    return {tuple(b) for b in np.asarray(boxes).astype(int).tolist()}


def test_contour_box_ends_at_x_plus_w_clipped_to_the_border():
    # H = 6, W = 8; blob x 5..7 (touches the right border), y 1..2
    mask = np.zeros((6, 8), bool)
    mask[1:3, 5:8] = True
    # boundingRect (5, 1, 3, 2): x1 = min(5 + 3, W - 1 = 7) = 7 (clipped), y1 = 1 + 2 = 3
    np.testing.assert_array_equal(loc.contour_boxes(mask), [[5, 1, 7, 3]])
    # blob in the bottom-right corner, x 6..7, y 4..5: both ends clipped to (7, 5)
    corner = np.zeros((6, 8), bool)
    corner[4:6, 6:8] = True
    np.testing.assert_array_equal(loc.contour_boxes(corner), [[6, 4, 7, 5]])
    # through the metric: the binary map's box is (5, 1, 7, 3), 3 x 3 = 9 px
    cam = mask.astype(float)
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [5, 1, 7, 3]), 1.0)
    # GT = the blob itself (6 px) inside the 9-px box: 6 / 9
    np.testing.assert_allclose(loc.best_iou_per_threshold(cam, [5, 1, 7, 2]), 6 / 9)


def test_one_pixel_contour_box_is_two_by_two():
    mask = np.zeros((6, 6), bool)
    mask[3, 2] = True  # x = 2, y = 3: rect (2, 3, 1, 1) -> (2, 3, 3, 4), 4 px
    np.testing.assert_array_equal(loc.contour_boxes(mask), [[2, 3, 3, 4]])
    cam = mask.astype(float)
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [2, 3, 3, 4]), 1.0)
    # a one-pixel GT on the pixel itself: 1 / 4
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [2, 3, 2, 3]), 0.25)
    # in the last row and column nothing is added: (5, 5, min(6, 5), min(6, 5))
    corner = np.zeros((6, 6), bool)
    corner[5, 5] = True
    np.testing.assert_array_equal(loc.contour_boxes(corner), [[5, 5, 5, 5]])


def test_ring_gives_outer_and_hole_contours():
    # 10 x 10; square x, y 1..7 on, hole x, y 3..5 off
    mask = np.zeros((10, 10), bool)
    mask[1:8, 1:8] = True
    mask[3:6, 3:6] = False
    # outer: rect (1, 1, 7, 7) -> (1, 1, 8, 8), 64 px; hole: its contour runs through the
    # ring pixels bordering it, x, y 2..6: rect (2, 2, 5, 5) -> (2, 2, 7, 7), 36 px
    assert box_set(loc.contour_boxes(mask)) == {(1, 1, 8, 8), (2, 2, 7, 7)}
    cam = mask.astype(float)
    # GT (2, 2, 7, 7): the hole's box matches exactly (IoU 1); the outer box alone would give
    # 36 / 64 = .5625
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [2, 2, 7, 7]), 1.0)
    # GT (1, 1, 8, 8): the outer box, IoU 1
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [1, 1, 8, 8]), 1.0)


def test_two_contours_and_a_gt_matching_only_one():
    # 12 x 12; blob A x, y 1..3 -> (1, 1, 4, 4); blob B x 6..9, y 7..9 -> rect (6, 7, 4, 3)
    # -> (6, 7, 10, 10), 5 x 4 = 20 px
    mask = np.zeros((12, 12), bool)
    mask[1:4, 1:4] = True
    mask[7:10, 6:10] = True
    assert box_set(loc.contour_boxes(mask)) == {(1, 1, 4, 4), (6, 7, 10, 10)}
    cam = mask.astype(float)
    # GT = B's box: IoU 1 with B, 0 with A; a second GT box far from both changes nothing
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [6, 7, 10, 10]), 1.0)
    np.testing.assert_array_equal(
        loc.best_iou_per_threshold(cam, [[0, 10, 1, 11], [6, 7, 10, 10]]), 1.0)
    # GT = blob B's own pixels (12 px) inside B's 20-px box: 12 / 20; A does not help
    np.testing.assert_allclose(loc.best_iou_per_threshold(cam, [6, 7, 9, 9]), 12 / 20)


def test_threshold_keeps_pixels_strictly_above_the_level():
    # 10 x 10: square x, y 1..6 at 0.2, centre x, y 3..4 at 1.0; min 0 -> normalized as is
    cam = blob_map((10, 10), ((1, 1, 6, 6), 0.2), ((3, 3, 4, 4), 1.0))
    # quantized: 0.2 * 255 = 51 and 255. t = 0.19: level int(48.45) = 48 < 51 -> square on,
    # box (1, 1, 7, 7). t = 0.2: level int(0.2 * 255) = 51, and 51 > 51 is false -> only the
    # centre, rect (3, 3, 2, 2) -> (3, 3, 5, 5), 9 px inside the 49-px GT
    scores = loc.best_iou_per_threshold(cam, [1, 1, 7, 7], thresholds=[0.19, 0.2])
    np.testing.assert_allclose(scores, [1.0, 9 / 49])
    # the default sweep has t = 0.20 exactly (index 20)
    assert loc.cam_thresholds()[20] == 0.2
    np.testing.assert_allclose(loc.best_iou_per_threshold(cam, [1, 1, 7, 7])[19:21],
                               [1.0, 9 / 49])
    # the paper protocol keeps >= 20% of the max: the 0.2 square is in, inclusive box 1..6
    np.testing.assert_array_equal(loc.largest_component_box(cam), [1, 1, 6, 6])


def test_paper_box_stays_inclusive_while_maxbox_box_grows():
    # 8 x 8 blob x 2..5, y 1..3: boundingRect (2, 1, 4, 3)
    cam = blob_map((8, 8), ((2, 1, 5, 3), 1.0))
    # paper protocol: (x, y, x + w - 1, y + h - 1) = (2, 1, 5, 3), exactly the blob
    np.testing.assert_array_equal(loc.largest_component_box(cam), [2, 1, 5, 3])
    # MaxBoxAccV2: (x, y, x + w, y + h) = (2, 1, 6, 4)
    np.testing.assert_array_equal(loc.contour_boxes(cam > 0), [[2, 1, 6, 4]])
    score = loc.score_image(cam, cam, 0, 0, [[2, 1, 5, 3]])
    np.testing.assert_array_equal(score.box_top1, [2, 1, 5, 3])
    np.testing.assert_array_equal(score.box_gt_known, [2, 1, 5, 3])
    assert score.iou_top1 == score.iou_gt_known == 1.0
    # the 12-px GT inside the 5 x 4 = 20-px MaxBoxAccV2 box
    np.testing.assert_allclose(score.maxbox_scores, 12 / 20)


def test_gt_boxes_are_truncated_to_integers():
    # wsolevaluation's resize_bbox: int(55 * 224 / 110) = 112; scaled in floating point as
    # 55 * (224 / 110) it is 111.99999999999999, which must still count as 112
    scaled = 55 * (224 / 110)
    assert scaled < 112
    np.testing.assert_array_equal(loc.integer_gt_boxes([1.7, 2.2, scaled, 5.0]),
                                  [[1, 2, 112, 5]])
    # a fractional GT box scores as its truncation: (2.9, 1.5, 6.99, 4.2) -> (2, 1, 6, 4)
    cam = blob_map((8, 8), ((2, 1, 5, 3), 1.0))
    np.testing.assert_array_equal(loc.best_iou_per_threshold(cam, [2.9, 1.5, 6.99, 4.2]), 1.0)


def test_max_box_acc_counts_per_threshold():
    # 3 images x 2 thresholds; δ = .5: t0 has 2 of 3, t1 has 1 of 3 -> 200 / 3
    scores = np.array([[0.5, 0.2], [0.6, 0.1], [0.1, 0.9]])
    acc = loc.max_box_acc(scores, (0.5, 0.95))
    assert acc == {0.5: 2 * 100.0 / 3, 0.95: 0.0}
    with pytest.raises(ValueError, match="2-D"):
        loc.max_box_acc(scores[0])


def test_maxbox_input_errors():
    with pytest.raises(ValueError, match="2-D"):
        loc.contour_boxes(np.zeros(5, bool))
    with pytest.raises(ValueError, match="1-D"):
        loc.best_iou_per_threshold(np.zeros((4, 4)), [0, 0, 1, 1], thresholds=[[0.1]])


def test_summarize_empty():
    assert loc.summarize([])["top1_loc"] == 0.0
