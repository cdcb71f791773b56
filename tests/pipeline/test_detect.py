import cv2
import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.pipeline.detect import (BLAZEFACE, DEFAULT_DETECTOR, DETECTORS, FRAMING, KEYPOINTS, BlazeFaceDetector,
                                    Look, blazeface_anchors, blazeface_input, clip_boxes, find_faces, make_detector,
                                    reframe)


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
    given, given_side, corner = blazeface_input(frame, 192)
    assert given_side == side and corner.tolist() == [0, 0]
    assert given.shape == (192, 192, 3) and given.dtype == np.uint8
    assert np.abs(given.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("height, width", [(330, 600), (600, 330)])
def test_a_closer_look_centres_the_frame_in_a_larger_square(height, width):
    """fill 0.6: the frame in the middle of a black square of its longer side / 0.6, as the slow way pads it."""
    rng = np.random.default_rng(0)
    frame = cv2.resize(rng.integers(0, 256, (height // 6, width // 6, 3), np.uint8), (width, height))
    side = 1000  # 600 / 0.6
    square = np.zeros((side, side, 3), np.uint8)
    x0, y0 = (side - width) // 2, (side - height) // 2
    square[y0:y0 + height, x0:x0 + width] = frame
    expected = cv2.cvtColor(cv2.resize(square, (200, 200), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
    given, given_side, corner = blazeface_input(frame, 200, fill=0.6)
    assert given_side == pytest.approx(side) and corner.tolist() == pytest.approx([-x0, -y0])
    assert np.abs(given.astype(int) - expected.astype(int)).max() <= 1


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


def face_box_cut(frame, margin):
    """The frame cut to the face box of the default's first look, grown by ``margin``: a face that fills the frame."""
    boxes, scores, _ = BlazeFaceDetector(DEFAULT_DETECTOR, closer_looks=False).detect(frame)
    x, y, w, h = clip_boxes(boxes[np.argmax(scores)][None], frame.shape[1], frame.shape[0], margin)[0]
    return frame[y:y + h, x:x + w]


@pytest.mark.parametrize("photo", ["AM01SAS.JPG", "AF02ANS.JPG"])
@pytest.mark.parametrize("margin", [0.0, 0.1])
def test_a_face_that_fills_the_frame_is_found_by_the_default(labelled_faces, photo, margin):
    """A dev photo cut to its face box: the first look alone misses these at 0% (as 219 of the 280 dev photos in
    benchmarks/detectors.py); the second look finds the one face, its box about the whole image, its keypoints on
    the face."""
    close = face_box_cut(cv2.imread(str(labelled_faces / photo)), margin)
    height, width = close.shape[:2]
    if margin == 0:
        assert len(BlazeFaceDetector(DEFAULT_DETECTOR, closer_looks=False).detect(close)[0]) == 0
    boxes, scores, keypoints = make_detector(DEFAULT_DETECTOR).detect(close)
    assert len(boxes) == 1 and scores[0] > 0.5
    x, y, w, h = boxes[0]
    assert abs(x + w / 2 - width / 2) < 0.1 * width and 0.7 * width < w < 1.2 * width
    assert np.all(keypoints[0, :4] > 0) and np.all(keypoints[0, :4] < (width, height))
    faces = find_faces(close, make_detector(DEFAULT_DETECTOR), FRAMING[DEFAULT_DETECTOR])
    assert len(faces.boxes) == 1 and faces.crops.shape == (1, 48, 48)


def test_a_face_too_close_for_the_first_look_is_boxed_by_the_second(labelled_faces):
    """Cut to the box + 10%, the face is more than 3/4 of the frame: the first look finds it but boxes it too large,
    so the default keeps the second look's box."""
    close = face_box_cut(cv2.imread(str(labelled_faces / "AF01HAS.JPG")), 0.1)
    detector = make_detector(DEFAULT_DETECTOR)
    first, second = detector.look(close, Look(DEFAULT_DETECTOR)), detector.look(close, detector.closer_looks[0])
    assert first[0][:, 2:].max() > BLAZEFACE[DEFAULT_DETECTOR].too_close * max(close.shape[:2])
    for given, expected in zip(detector.detect(close), second):
        np.testing.assert_array_equal(given, expected)
    assert second[0][0, 2] < first[0][0, 2]


def test_a_close_sample_clip_frame_yields_one_face(videos):
    boxes, _ = make_detector(DEFAULT_DETECTOR)(face_box_cut(first_frame(videos / "man_single_face.mp4"), 0.1))
    assert len(boxes) == 1


def test_closer_looks_leave_frames_with_a_face_as_the_first_look_found_them(videos):
    """Far faces stay as they were: where the first look finds a face (not too close), its faces are the answer,
    unchanged."""
    frame = first_frame(videos / "stage_multi_face.mp4", 58)
    once = BlazeFaceDetector(DEFAULT_DETECTOR, closer_looks=False).detect(frame)
    assert len(once[0]) >= 2
    for given, expected in zip(make_detector(DEFAULT_DETECTOR).detect(frame), once):
        np.testing.assert_array_equal(given, expected)


@pytest.mark.parametrize("face", ["angry/PublicTest_25439815.jpg", "happy/PublicTest_20450943.jpg"])
def test_a_tightly_cropped_dataset_face_is_found_by_the_short_range_look(fer2013, face):
    """A FER2013 face enlarged to 144x180, as face-cropped datasets ship them (SFEW's aligned faces are 143x181):
    both full-range looks miss it (as 63 of the 105 such faces of benchmarks/detectors.py); the short-range look
    finds one face about the size of the image."""
    gray = cv2.imread(str(fer2013 / "val" / face), cv2.IMREAD_GRAYSCALE)
    close = cv2.cvtColor(cv2.resize(gray, (144, 180), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
    detector = make_detector(DEFAULT_DETECTOR)
    assert [look.model for look in detector.closer_looks] == ["blazeface-full", "blazeface-short"]
    full_range_only = BlazeFaceDetector(DEFAULT_DETECTOR, closer_looks=detector.closer_looks[:1])
    assert len(full_range_only.detect(close)[0]) == 0
    boxes, scores, keypoints = detector.detect(close)
    assert len(boxes) == 1 and scores[0] > 0.5 and 0.6 * 144 < boxes[0, 2] < 1.4 * 144
    assert np.all(np.abs(keypoints[0, :4] - (72, 90)) < (72, 90))  # eyes, nose and mouth inside the image


def test_a_reframed_box_cuts_the_same_region_with_the_other_detectors_margins():
    """The short-range look's boxes, reframed for blazeface-full, give the crop the short-range FRAMING gives."""
    boxes = np.array([[400.0, 600.0, 120.0, 130.0], [100.0, 50.0, 30.0, 28.0]])
    given, wanted = FRAMING["blazeface-short"], FRAMING["blazeface-full"]
    np.testing.assert_allclose(clip_boxes(reframe(boxes, given, wanted), 10_000, 10_000, wanted),
                               clip_boxes(boxes, 10_000, 10_000, given), atol=1)
    np.testing.assert_allclose(reframe(boxes, wanted, wanted), boxes, atol=1e-4)


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
