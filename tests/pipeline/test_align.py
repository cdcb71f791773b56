"""Aligned crops: the keypoints land where FER2013 has them, the eyes come out level, large faces are averaged."""

import numpy as np
import pytest

from fervid.pipeline.align import FER2013_KEYPOINTS, aligned_crops, level_crops, match_fer2013, similarity, warp_crop

TEMPLATE = FER2013_KEYPOINTS["blazeface-full"]


def turn(points, angle_deg, scale, shift):
    angle = np.radians(angle_deg)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return points @ rotation.T + shift


def test_similarity_recovers_a_known_rotation_scale_and_shift():
    source = turn(TEMPLATE, 20, 5.0, [300, 120])
    matrix = similarity(source, TEMPLATE)
    mapped = np.c_[source, np.ones(len(source))] @ matrix.T
    assert mapped == pytest.approx(TEMPLATE, abs=1e-4)
    assert np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])) == pytest.approx(-20)


def test_similarity_refuses_points_that_are_all_one_point():
    with pytest.raises(ValueError, match="not all one point"):
        similarity(np.ones((4, 2)), TEMPLATE)


def test_a_tilted_face_comes_out_with_its_eyes_where_fer2013_has_them():
    """Two bright eyes on a 5x face turned 25 degrees: in the 48x48 crop they sit on FER2013's eye positions."""
    frame = np.full((480, 640, 3), 60, np.uint8)
    points = turn(TEMPLATE, 25, 5.0, [250, 100])
    for x, y in points[:2]:
        frame[int(round(y)) - 6:int(round(y)) + 7, int(round(x)) - 6:int(round(x)) + 7] = 255
    [crop] = aligned_crops(frame, points[None], TEMPLATE)
    for (x, y) in TEMPLATE[:2]:
        window = crop[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4]
        assert window.max() > 200  # the eye is there
    bright = np.argwhere(crop > 150)
    left, right = bright[bright[:, 1] < 24], bright[bright[:, 1] >= 24]
    assert abs(left[:, 0].mean() - right[:, 0].mean()) < 1.0  # level


def test_a_level_crop_turns_the_eyes_level_and_keeps_the_box_framing():
    frame = np.full((400, 400, 3), 60, np.uint8)
    box = np.array([[100.0, 100.0, 200.0, 200.0]])
    eyes = turn(np.array([[-50.0, -30.0], [50.0, -30.0]]), 20, 1.0, [200, 200])  # tilted 20 degrees
    for x, y in eyes:
        frame[int(y) - 8:int(y) + 9, int(x) - 8:int(x) + 9] = 255
    keypoints = np.concatenate([eyes, np.zeros((4, 2))])[None]
    [crop] = level_crops(frame, box, keypoints, (0.0, 0.0, 0.0, 0.0))
    bright = np.argwhere(crop > 150)
    left, right = bright[bright[:, 1] < 24], bright[bright[:, 1] >= 24]
    assert abs(left[:, 0].mean() - right[:, 0].mean()) < 1.0  # level now
    assert left[:, 1].mean() == pytest.approx(24 - 50 * 48 / 200, abs=1.5)  # same place as in the box, turned


def test_a_large_face_is_averaged_not_sampled():
    """A fine checkerboard (2-pixel squares) shrunk 8x must come out as flat grey, as INTER_AREA gives."""
    board = ((np.indices((480, 480)).sum(axis=0) // 2) % 2 * 255).astype(np.uint8)
    crop = warp_crop(board, np.array([[48 / 400, 0, -10 * 48 / 400], [0, 48 / 400, -10 * 48 / 400]]))
    assert crop.shape == (48, 48) and abs(crop.mean() - 127.5) < 5 and crop.std() < 10


@pytest.mark.parametrize("side", [60, 170, 300, 480])
def test_a_square_crop_without_a_turn_is_the_box_shrunk_by_area(side):
    """Small faces are warped as they are, large ones shrunk by block means first: both give INTER_AREA's crop."""
    import cv2

    rng = np.random.default_rng(1)
    frame = cv2.resize(rng.integers(0, 256, (100, 100), np.uint8), (1000, 1000), interpolation=cv2.INTER_CUBIC)
    x0, y0 = 100, 120
    expected = cv2.resize(frame[y0:y0 + side, x0:x0 + side], (48, 48), interpolation=cv2.INTER_AREA)
    crop = warp_crop(frame, np.array([[48 / side, 0, -x0 * 48 / side], [0, 48 / side, -y0 * 48 / side]]))
    assert np.abs(crop.astype(int) - expected).mean() < 0.5
    colour = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    assert (warp_crop(colour, np.array([[48 / side, 0, -x0 * 48 / side], [0, 48 / side, -y0 * 48 / side]])) == crop).all()


def _finely_sampled(frame, matrix, size=48):
    """The crop the slow, exact way: a canvas of at most half a frame pixel per pixel, warped with pixel centres
    placed where the corner-based matrix puts them, then averaged down by whole blocks."""
    import cv2

    scale = min(np.hypot(matrix[0, 0], matrix[1, 0]), np.hypot(matrix[0, 1], matrix[1, 1]))
    k = max(1, int(np.ceil(2 / scale)))
    canvas = k * np.asarray(matrix, np.float64)
    canvas[:, 2] += canvas[:, :2] @ [0.5, 0.5] - 0.5
    fine = cv2.warpAffine(frame, canvas, (size * k, size * k), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("angle", [0, 12, -30, 90])
@pytest.mark.parametrize("side", [40, 150, 400, 900])
@pytest.mark.parametrize("centre", [(960, 540), (30, 20), (1900, 1070)])  # inside, and over two corners
def test_turned_crops_of_any_size_match_a_finely_sampled_warp(angle, side, centre):
    """Shrinking a large face by block means before turning it keeps the crop where the matrix puts it."""
    import cv2

    rng = np.random.default_rng(0)
    frame = cv2.resize(rng.integers(0, 256, (54, 96), np.uint8), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    (x, y), turn = centre, np.vstack([cv2.getRotationMatrix2D(centre, angle, 1.0), [0, 0, 1]])
    to_crop = np.array([[48 / side, 0, -(x - side / 2) * 48 / side], [0, 48 / side, -(y - side / 2) * 48 / side],
                        [0, 0, 1]])
    matrix = (to_crop @ turn)[:2]
    assert np.abs(warp_crop(frame, matrix).astype(int) - _finely_sampled(frame, matrix)).mean() < 2.0


def test_beyond_the_frame_the_crop_repeats_its_border():
    crop = warp_crop(np.zeros((100, 100), np.uint8) + 90, np.array([[1.0, 0, -500], [0, 1.0, -500]]))
    assert crop.shape == (48, 48) and (crop == 90).all()


def test_soft_flat_crops_are_brought_up_to_fer2013_and_fer2013_like_ones_kept():
    rng = np.random.default_rng(0)
    sharp = rng.choice([0, 255], (1, 48, 48)).astype(np.uint8)  # more contrast and detail than FER2013
    import cv2

    y, x = np.indices((48, 48))
    soft = (128 + 15 * np.sin(x / 2.5) * np.cos(y / 3.0)).astype(np.uint8)[None]  # low contrast, little detail
    assert (match_fer2013(sharp) == sharp).all()
    [finished] = match_fer2013(soft)
    assert finished.std() > 2 * soft.std()
    assert cv2.Laplacian(finished, cv2.CV_64F).var() > 10 * cv2.Laplacian(soft[0], cv2.CV_64F).var()
    flat = np.full((1, 48, 48), 77, np.uint8)
    assert (match_fer2013(flat) == flat).all()  # nothing to stretch or sharpen, and no division by zero
