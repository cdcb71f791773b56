"""Detection on every k-th frame: the frames between get the faces of the keyframes around them."""

import numpy as np
import pytest

from fervid.pipeline.detect import DEFAULT_DETECTOR, make_detector
from fervid.pipeline.keyframes import (SHOT_CHANGE_STRIDE, box_iou, detections_per_frame, keyframe_step, match_faces,
                                       shot_changed)
from fervid.pipeline.video import Frame, probe, read_range


def faces(*boxes):
    """Detections of x, y, w, h boxes with score 0.9 and keypoints at the box corners."""
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    keypoints = np.repeat(boxes[:, None, :2], 6, axis=1)
    return boxes, np.full(len(boxes), 0.9, np.float32), keypoints


def distinct_frames(count, sampled=lambda index: True):
    """Frames with their own (blank) images, so a detector can tell which one it was given."""
    return [Frame.from_bgr(i, i / 30, np.zeros((4, 4, 3), np.uint8) if sampled(i) else None) for i in range(count)]


class MovingFace:
    """A face moving 6 px right a frame; records which frames it was asked about."""

    def __init__(self, given):
        self.given, self.asked = given, []

    def __call__(self, image):
        index = next(i for i, frame in enumerate(self.given) if frame.image is image)
        self.asked.append(index)
        return faces([10 + 6 * index, 20, 50, 60])


@pytest.mark.parametrize("count", [1, 2, 7, 9, 10])
def test_keyframes_every_k_and_the_last_frame_carried_faces_on_the_line_between(count):
    given = distinct_frames(count)
    detect = MovingFace(given)
    out = list(detections_per_frame(given, detect, every=3))
    assert [frame.index for frame, *_ in out] == list(range(count))
    expected_keyframes = sorted({*range(0, count, 3), count - 1})
    assert detect.asked == expected_keyframes
    assert [frame.index for frame, _, detected in out if detected] == expected_keyframes
    for frame, (boxes, scores, keypoints), _ in out:
        np.testing.assert_allclose(boxes, [[10 + 6 * frame.index, 20, 50, 60]], atol=1e-4)
        np.testing.assert_allclose(keypoints[0, 0], [10 + 6 * frame.index, 20], atol=1e-4)
        assert scores.tolist() == pytest.approx([0.9])


def test_every_1_detects_every_analysed_frame_and_leaves_unsampled_frames_alone():
    given = distinct_frames(6, sampled=lambda i: i % 2 == 0)
    detect = MovingFace(given)
    out = list(detections_per_frame(given, detect, every=1))
    assert detect.asked == [0, 2, 4]
    assert [d is None for _, d, _ in out] == [False, True, False, True, False, True]
    assert [detected for *_, detected in out] == [True, False, True, False, True, False]


def test_frames_outside_the_sample_keep_their_place_and_count_no_keyframe():
    """--fps sampling: keyframes are every k-th *analysed* frame; unsampled frames pass through with no faces."""
    given = distinct_frames(12, sampled=lambda i: i % 2 == 0)  # analysed: 0, 2, 4, 6, 8, 10
    detect = MovingFace(given)
    out = list(detections_per_frame(given, detect, every=2))
    assert [frame.index for frame, *_ in out] == list(range(12))
    assert detect.asked == [0, 4, 8, 10]
    for frame, detections, _ in out:
        assert (detections is None) == (frame.index % 2 == 1)
        if detections is not None:
            np.testing.assert_allclose(detections[0], [[10 + 6 * frame.index, 20, 50, 60]], atol=1e-4)


def test_a_face_found_at_one_keyframe_only_is_kept_on_the_frames_nearer_it():
    given = distinct_frames(5)
    found = {0: faces([0, 0, 10, 10]), 4: faces([0, 0, 10, 10], [100, 100, 20, 20])}
    out = list(detections_per_frame(given, lambda image: found[next(i for i, f in enumerate(given)
                                                                    if f.image is image)], every=4))
    assert [len(d[0]) for _, d, _ in out] == [1, 1, 2, 2, 2]  # frame 2 is halfway: the later keyframe's side
    np.testing.assert_allclose(out[3][1][0][1], [100, 100, 20, 20])


def test_no_faces_at_either_keyframe_gives_empty_detections_of_the_right_shapes():
    given = distinct_frames(4)
    out = list(detections_per_frame(given, lambda image: faces(), every=3))
    boxes, scores, keypoints = out[1][1]
    assert boxes.shape == (0, 4) and scores.shape == (0,) and keypoints.shape == (0, 6, 2)


def test_no_face_is_carried_across_a_shot_change():
    """A cut at frame 5 (dark shot, then a bright one) with keyframes every 4: the dark shot's last frame and the
    bright shot's first are detected too, so each frame keeps its own shot's face."""
    given = [Frame.from_bgr(i, i / 30, np.full((64, 64, 3), 30 if i < 5 else 220, np.uint8)) for i in range(10)]
    asked = []

    def detect(image):
        asked.append(next(i for i, frame in enumerate(given) if frame.image is image))
        return faces([0, 0, 20, 20]) if image[0, 0, 0] < 128 else faces([40, 40, 20, 20])

    out = list(detections_per_frame(given, detect, every=4))
    assert asked == [0, 4, 5, 9]
    assert [d[0][0].tolist() for _, d, _ in out] == [[0, 0, 20, 20]] * 5 + [[40, 40, 20, 20]] * 5


def test_a_shot_change_is_a_large_change_of_the_whole_picture_not_a_moving_face():
    rng = np.random.default_rng(0)
    scene = rng.integers(0, 256, (360, 640), np.uint8)
    moved = scene.copy()
    moved[100:200, 200:300] = rng.integers(0, 256, (100, 100), np.uint8)  # a face-sized region changes

    def grey(image):
        return image[::SHOT_CHANGE_STRIDE, ::SHOT_CHANGE_STRIDE].astype(np.float32)

    assert not shot_changed(grey(scene), grey(moved))
    assert shot_changed(grey(scene), grey(rng.integers(0, 256, (360, 640), np.uint8)))
    assert shot_changed(grey(scene), grey(scene[:180]))  # another size: another source


def test_faces_are_matched_by_overlap_not_by_order():
    first = np.array([[0, 0, 10, 10], [100, 0, 10, 10]], np.float32)
    second = np.array([[101, 1, 10, 10], [200, 200, 5, 5], [1, 0, 10, 10]], np.float32)
    assert sorted(match_faces(first, second)) == [(0, 2), (1, 0)]
    assert box_iou(first[:1], first[:1])[0, 0] == pytest.approx(1.0)


def test_carried_boxes_on_a_real_clip_overlap_the_boxes_detected_in_every_frame(videos):
    """woman_talking.mp4, detector on every 3rd frame: the carried boxes sit on the detected ones (IoU)."""
    path = str(videos / "woman_talking.mp4")
    detector, fps = make_detector(DEFAULT_DETECTOR), probe(path).fps
    every_frame = [d for _, d, _ in detections_per_frame(read_range(path, 0, 4, fps), detector.detect, every=1)]
    carried = [d for _, d, _ in detections_per_frame(read_range(path, 0, 4, fps), detector.detect, every=3)]
    assert len(carried) == len(every_frame) > 90
    ious = [box_iou(a[0], b[0]).max() for a, b in zip(every_frame, carried)]
    assert np.min(ious) > 0.8 and np.median(ious) > 0.9


@pytest.mark.parametrize(("detect_every", "fps", "sample_fps", "step"), [
    (None, 30.0, None, 6), (None, 25.0, None, 5), (None, 23.976, None, 5), (None, 60.0, None, 12),
    (None, 30.0, 5.0, 1),  # --fps 5: analysed frames 0.2 s apart already, each one detected
    (None, 30.0, 10.0, 2), (None, 0.0, None, 1),  # a frame rate the container does not give: every frame
    (3, 30.0, None, 3), (1, 60.0, None, 1),  # --detect-every K is taken as it is
])
def test_the_default_detects_about_every_fifth_of_a_second_of_analysed_video(detect_every, fps, sample_fps, step):
    assert keyframe_step(detect_every, fps, sample_fps) == step
