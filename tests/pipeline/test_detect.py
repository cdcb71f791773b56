import cv2
import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.pipeline.detect import (BLAZEFACE, DETECTORS, FRAMING, KEYPOINTS, blazeface_anchors, blazeface_input,
                                    clip_boxes, find_faces, make_detector)


def first_frame(path, index=0):
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    assert ok
    return frame


@pytest.mark.parametrize("height, width", [(336, 596), (1080, 1920), (480, 360)])
def test_blazeface_input_is_the_frame_padded_to_a_square_then_resized(height, width):
    """The one warp gives the pixels of the slow way (pad the full frame, resize the square), in any orientation."""
    rng = np.random.default_rng(0)
    frame = cv2.resize(rng.integers(0, 256, (height // 8, width // 8, 3), np.uint8), (width, height))
    side = max(height, width)
    square = np.zeros((side, side, 3), np.uint8)
    square[:height, :width] = frame
    expected = cv2.cvtColor(cv2.resize(square, (192, 192)), cv2.COLOR_BGR2RGB).astype(int)
    given, given_side = blazeface_input(frame, 192)
    assert given_side == side
    assert given.shape == (192, 192, 3) and given.dtype == np.uint8
    assert np.abs(given.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("name, count", [("blazeface-short", 896), ("blazeface-full", 2304)])
def test_anchor_layouts_match_the_models(name, count):
    anchors = blazeface_anchors(BLAZEFACE[name])
    assert anchors.shape == (count, 2) and anchors.min() > 0 and anchors.max() < 1


@pytest.mark.parametrize("name", DETECTORS)
def test_one_frontal_face_found_by_every_detector(videos, name):
    frame = first_frame(videos / "man_single_face.mp4")
    boxes, scores = make_detector(name)(frame)
    assert len(boxes) == 1 and 0.5 < scores[0] <= 1
    x, y, w, h = boxes[0]
    # Where the face is (checked by eye): centre near (295, 205), about 185 px wide.
    assert abs(x + w / 2 - 295) < 30 and abs(y + h / 2 - 205) < 35 and 130 < w < 240


@pytest.mark.parametrize("name", ["blazeface-full", "blazeface-short"])
def test_keypoints_lie_on_the_face_in_mediapipe_order(videos, name):
    frame = first_frame(videos / "man_single_face.mp4")
    detector = make_detector(name)
    boxes, scores, keypoints = detector.detect(frame)
    assert keypoints.shape == (1, len(KEYPOINTS), 2) and keypoints.dtype == np.float32
    called_boxes, called_scores = detector(frame)  # what the pipeline calls: the same faces, no keypoints
    np.testing.assert_array_equal(called_boxes, boxes)
    np.testing.assert_array_equal(called_scores, scores)
    (x, y, w, h), points = boxes[0], dict(zip(KEYPOINTS, keypoints[0]))
    # The ear tragions may sit a little outside the box; everything else inside it.
    assert np.all(keypoints[0] > (x - 0.15 * w, y)) and np.all(keypoints[0] < (x + 1.15 * w, y + h))
    inner = keypoints[0, :4]
    assert np.all(inner > (x, y)) and np.all(inner < (x + w, y + h))
    # The subject's right eye is on the image's left (the clip is not mirrored); eyes above the nose, nose above
    # the mouth.
    assert points["right_eye"][0] < points["nose_tip"][0] < points["left_eye"][0]
    assert max(points["right_eye"][1], points["left_eye"][1]) < points["nose_tip"][1] < points["mouth_center"][1]
    assert points["right_ear_tragion"][0] < points["right_eye"][0]
    assert points["left_ear_tragion"][0] > points["left_eye"][0]


def test_haar_keypoints_are_nan_with_the_same_shape(videos):
    boxes, _, keypoints = make_detector("haar").detect(first_frame(videos / "man_single_face.mp4"))
    assert keypoints.shape == (len(boxes), len(KEYPOINTS), 2) and np.isnan(keypoints).all()


@pytest.mark.parametrize("name", ["blazeface-full", "blazeface-short"])
def test_title_card_has_no_face(videos, name):
    boxes, scores, keypoints = make_detector(name).detect(first_frame(videos / "no_face_title_card.mp4", 40))
    assert boxes.shape == (0, 4) and scores.shape == (0,) and keypoints.shape == (0, len(KEYPOINTS), 2)


def test_unknown_detector_is_a_usage_error():
    with pytest.raises(FervidError, match="unknown detector 'yolo'"):
        make_detector("yolo")


@pytest.mark.parametrize("box, margins, expected", [
    ([10, 10, 20, 20], 0.0, [10, 10, 20, 20]),
    ([10, 10, 20, 20], 0.1, [8, 8, 24, 24]),  # grown by 10% of the size on each side
    ([10, 10, 20, 20], (0.1, 0.2, 0.0, 0.05), [8, 6, 22, 25]),  # left, top, right, bottom
    ([-5, 2, 20, 10], 0.0, [0, 2, 15, 10]),  # clipped at the left edge
    ([90, 45, 20, 20], 0.2, [86, 41, 14, 9]),  # grown, then clipped at the right and bottom edges (100 x 50)
    ([200, 10, 20, 20], 0.0, [100, 10, 0, 20]),  # fully outside: zero width
])
def test_clip_boxes(box, margins, expected):
    assert clip_boxes(np.array([box], np.float32), 100, 50, margins).tolist() == [expected]


def test_every_detector_has_a_measured_framing_and_analyze_uses_it():
    from fervid.pipeline.job import AnalyzeConfig

    assert set(FRAMING) == set(DETECTORS)
    assert all(len(margins) == 4 and all(0 <= m <= 1 for m in margins) for margins in FRAMING.values())
    assert AnalyzeConfig(detector="haar").crop_margins == FRAMING["haar"]
    assert AnalyzeConfig(margins=(0.1, 0.1, 0.1, 0.1)).crop_margins == (0.1, 0.1, 0.1, 0.1)
    with pytest.raises(FervidError, match="four shares"):
        AnalyzeConfig(margins=(0.1, 0.1))


def test_find_faces_orders_left_to_right_and_crops_with_margin_inside_the_frame():
    frame = np.zeros((50, 100, 3), np.uint8)
    frame[:, 50:] = 255  # right half white: a crop's mean tells which half it came from

    class Detector:
        def detect(self, _):
            boxes = np.array([[80, 30, 30, 30], [-10, -10, 20, 20], [200, 0, 10, 10], [30, 5, 10, 10]], np.float32)
            return boxes, np.array([0.9, 0.8, 0.7, 0.6], np.float32), np.full((4, 6, 2), np.nan, np.float32)

    faces = find_faces(frame, Detector(), margins=0.2)
    assert faces.boxes.tolist() == [[0, 0, 10, 10], [30, 5, 10, 10], [80, 30, 20, 20]]  # off-frame box dropped
    assert faces.scores.tolist() == pytest.approx([0.8, 0.6, 0.9])
    assert faces.crops.shape == (3, 48, 48) and faces.crops.dtype == np.uint8
    assert faces.crops[0].mean() == 0 and faces.crops[2].mean() == 255


def test_the_cli_offers_every_detector_and_the_same_default():
    from fervid.cli import analyze
    from fervid.pipeline.detect import DEFAULT_DETECTOR

    option = next(p for p in analyze.params if p.name == "detector")
    assert tuple(option.type.choices) == DETECTORS and option.default == DEFAULT_DETECTOR


def test_find_faces_leaves_the_grey_levels_to_the_model():
    """Crop version 3: a dim, flat face comes out as dim and flat as it is (the classifier equalizes it)."""
    frame = np.full((100, 100, 3), 90, np.uint8)
    frame[40:60, 40:60] = 100

    class Detector:
        def detect(self, _):
            return (np.array([[30, 30, 40, 40]], np.float32), np.array([0.9], np.float32),
                    np.full((1, 6, 2), np.nan, np.float32))

    [crop] = find_faces(frame, Detector(), margins=0.0).crops
    assert crop.min() >= 90 and crop.max() <= 100  # no contrast stretch, no sharpening overshoot
