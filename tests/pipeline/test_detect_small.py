"""The farther look of the default detector: small faces (galleries, audiences) found on windows of the frame."""

import cv2
import numpy as np
import pytest

from fervid.pipeline.detect import BLAZEFACE, DEFAULT_DETECTOR, BlazeFaceDetector, merged, tile_windows

PHOTOS = ["AM01SAS.JPG", "AF02ANS.JPG", "AF01HAS.JPG", "AM02HAS.JPG"]


@pytest.mark.parametrize("width, height, side, overlap", [(1920, 1080, 436, 120), (1280, 720, 436, 80),
                                                          (640, 360, 436, 40), (1080, 1920, 500, 120)])
def test_windows_cover_the_frame_and_share_the_overlap(width, height, side, overlap):
    windows = tile_windows(width, height, side, overlap)
    covered = np.zeros((height, width), bool)
    for x, y, window in windows:
        assert window == side and x >= 0 and y >= 0
        assert x + side <= max(width, side) and y + side <= max(height, side)  # inside, unless the frame is smaller
        covered[y:y + side, x:x + side] = True
    assert covered.all()
    for axis, length in ((0, width), (1, height)):
        starts = sorted({window[axis] for window in windows})
        assert all(b - a <= side - overlap for a, b in zip(starts, starts[1:]))
        assert starts[-1] + side >= length and starts[0] == 0


def test_the_whole_frame_look_wins_where_boxes_overlap():
    """The first boxes (whole-frame look) are kept as they are, whatever the scores; a window's box of the same
    face goes, one of another face stays."""
    boxes = np.array([[100, 100, 40, 40], [500, 500, 30, 30], [102, 101, 40, 40], [900, 100, 30, 30],
                      [901, 101, 30, 30]], np.float32)
    scores = np.array([0.6, 0.55, 0.99, 0.8, 0.9], np.float32)
    assert merged(boxes, scores, 2).tolist() == [0, 1, 4]


def gallery(labelled_faces, sizes: tuple[int, ...], n: int = 4) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A 1080p frame of n x n tiles, a dev photo in each, shrunk so its face is about ``sizes`` px high (in turn);
    the tiles' centres."""
    frame = np.full((1080, 1920, 3), 40, np.uint8)
    width, height, centres = 1920 // n, 1080 // n, []
    for k in range(n * n):
        photo = cv2.imread(str(labelled_faces / PHOTOS[k % len(PHOTOS)]))
        scale = sizes[k % len(sizes)] / (0.45 * photo.shape[0])  # KDEF portraits: the face about 45% of the height
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[:height, :width]
        row, col = divmod(k, n)
        x, y = col * width + (width - small.shape[1]) // 2, row * height + (height - small.shape[0]) // 2
        frame[y:y + small.shape[0], x:x + small.shape[1]] = small
        centres.append((col * width + width // 2, row * height + height // 2))
    return frame, centres


def test_small_faces_of_a_gallery_are_found_by_the_farther_look(labelled_faces):
    """Faces about 45 px high in a 1080p frame are 4 px in the whole-frame look's 192x192 input, and those of 110
    px 11 px: it finds some of the larger ones at most; the farther look finds one face in every tile, each box
    inside its tile, and keeps every face the whole-frame look found with its own box."""
    frame, centres = gallery(labelled_faces, (45, 110, 110, 45))
    detector = BlazeFaceDetector(DEFAULT_DETECTOR)
    near = detector.first.look(frame)
    boxes, scores, keypoints = detector.detect(frame)
    assert 0 < len(near[0]) <= len(centres) // 2
    assert len(boxes) == len(centres) and keypoints.shape == (len(centres), 6, 2) and scores.min() > 0.5
    middles = boxes[:, :2] + boxes[:, 2:] / 2
    for cx, cy in centres:  # one face per tile, near its middle, about 45 px high
        near_tile = np.abs(middles - (cx, cy)).max(axis=1) < 60
        assert near_tile.sum() == 1 and 25 < boxes[near_tile][0, 3] < 200
    for box in near[0]:
        assert any(np.array_equal(box, given) for given in boxes)


def test_frames_with_only_large_faces_keep_the_whole_frame_look(labelled_faces):
    """A face of a fifth of a 1080p frame: the whole-frame look finds it, and the farther look does not run (the
    answer is exactly the whole-frame look's)."""
    photo = cv2.imread(str(labelled_faces / PHOTOS[0]))
    frame = cv2.copyMakeBorder(cv2.resize(photo, None, fx=500 / photo.shape[0], fy=500 / photo.shape[0]),
                               290, 290, 700, 700, cv2.BORDER_CONSTANT)
    once = BlazeFaceDetector(DEFAULT_DETECTOR, farther_look=False).detect(frame)
    assert len(once[0]) == 1 and once[0][0, 3] >= BLAZEFACE[DEFAULT_DETECTOR].farther_look.small * 1920
    for given, expected in zip(BlazeFaceDetector(DEFAULT_DETECTOR).detect(frame), once):
        np.testing.assert_array_equal(given, expected)


def test_small_frames_get_no_farther_look(videos):
    """The sample clips (596x336): windows would see them barely larger than the whole-frame look, so the farther
    look does not run and their faces are the whole-frame look's."""
    capture = cv2.VideoCapture(str(videos / "stage_multi_face.mp4"))
    ok, frame = capture.read()
    tiles = BLAZEFACE[DEFAULT_DETECTOR].farther_look
    assert ok and max(frame.shape[:2]) < tiles.min_gain * tiles.side(BLAZEFACE[DEFAULT_DETECTOR].input_size)
    for given, expected in zip(BlazeFaceDetector(DEFAULT_DETECTOR).detect(frame),
                               BlazeFaceDetector(DEFAULT_DETECTOR, farther_look=False).detect(frame)):
        np.testing.assert_array_equal(given, expected)



def test_the_video_summary_says_which_share_of_faces_were_small():
    """small_faces: the share of a video's face rows whose box is under SMALL_FACE_PX high; NaN without boxes."""
    import pandas as pd

    from fervid.pipeline.detect import SMALL_FACE_PX
    from fervid.pipeline.schema import EMOTION_COLUMNS
    from fervid.pipeline.summary import prepare, video_summary

    heights = {"far": [SMALL_FACE_PX - 10] * 3 + [SMALL_FACE_PX + 60], "near": [SMALL_FACE_PX] * 4}
    happy = np.eye(len(EMOTION_COLUMNS), dtype=np.float32)[[EMOTION_COLUMNS.index("happy")] * 4]
    rows = pd.concat([pd.DataFrame(happy, columns=list(EMOTION_COLUMNS)).assign(
        video_id=video, video_path=f"/v/{video}.mp4", track_id=np.int32(0), timestamp_s=0.1 * np.arange(4),
        x=0, y=0, w=h, h=h) for video, h in heights.items()])
    summary = video_summary(prepare(rows, window_s=0)).set_index("video_id")
    assert summary.loc["far", "small_faces"] == pytest.approx(0.75) and summary.loc["near", "small_faces"] == 0
    no_boxes = video_summary(prepare(rows.drop(columns=["x", "y", "w", "h"]), window_s=0))
    assert no_boxes["small_faces"].isna().all()


@pytest.mark.parametrize("photo", ["AF01NES.JPG", "AF03DIS.JPG"])
def test_a_small_face_seen_by_two_windows_is_found_once(labelled_faces, photo):
    """A face of about 54 px at the middle of a 1080p frame lies whole in two windows, which box it a pixel apart
    (their boxes' centres fall on either side of the line between the windows' middles): it is found once."""
    image = cv2.imread(str(labelled_faces / photo))
    detector = BlazeFaceDetector(DEFAULT_DETECTOR)
    boxes, scores, _ = detector.first.look(image)
    box = boxes[np.argmax(scores)]
    # As benchmarks/detectors.py places faces: the face box 1/20 of 1080 high, centred, the photo's edges repeated.
    scale, centre = 54 / box[3], box[:2] + box[2:] / 2
    matrix = np.array([[scale, 0, 960 - scale * centre[0]], [0, scale, 540 - scale * centre[1]]])
    frame = cv2.warpAffine(image, matrix, (1920, 1080), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    assert len(detector.first.look(frame)[0]) == 0
    boxes, scores, _ = detector.detect(frame)
    assert len(boxes) == 1 and scores[0] > 0.6 and 35 < boxes[0, 3] < 80
    assert abs(boxes[0, 0] + boxes[0, 2] / 2 - 960) < 30 and abs(boxes[0, 1] + boxes[0, 3] / 2 - 540) < 60
