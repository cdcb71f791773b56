import numpy as np
import pytest

from fervid.pipeline.crops import _face_rows, _summary_row
from fervid.pipeline.detect import Faces
from fervid.pipeline.schema import EMOTION_COLUMNS, TIMELINE_SCHEMA
from fervid.pipeline.timeline import Collector, ends_early

TASK = dict(video_path="/v.mp4", video_id="abc", range_index=0)


def classified(batch):
    """What the classifier stage adds, without a model: a fixed distribution."""
    batch = dict(batch)
    batch.pop("crop")
    n = len(batch["face_index"])
    for i, name in enumerate(EMOTION_COLUMNS):
        batch[name] = np.full(n, 0.4 if name == "happy" else 0.1, np.float32)
    batch["emotion"] = np.full(n, "happy", object)
    batch["confidence"] = np.full(n, 0.4, np.float32)
    return batch


def faces(*xs):
    boxes = np.array([[x, 0, 10, 10] for x in xs], np.int32).reshape(-1, 4)
    return Faces(boxes, np.ones(len(xs), np.float32), np.zeros((len(xs), 48, 48), np.uint8))


def summary(ranges, frames, error=None, frames_declared=0):
    return dict(ranges=ranges, fps=10.0, width=64, height=48, frames_declared=frames_declared, frames=frames,
                analyzed=frames, with_faces=1,
                last_timestamp_s=None if not frames else 0.1 * frames, seconds=0.5, error=error)


def test_ranges_in_any_order_are_offset_into_one_timeline():
    collector = Collector()
    second = dict(TASK, range_index=1)
    assert collector.add(classified(_face_rows(second, [(0, 2.0, faces(1, 5), True)]))) == []
    assert collector.add(classified(_summary_row(second, summary(2, 7)))) == []  # range 0 still missing
    first_rows = _face_rows(TASK, [(3, 0.3, faces(4), False)])
    [video] = collector.add(classified({k: np.concatenate([v, _summary_row(TASK, summary(2, 20))[k]])
                                        for k, v in first_rows.items()}))
    assert video.timeline.schema == TIMELINE_SCHEMA
    table = video.timeline.to_pydict()
    assert table["frame_index"] == [3, 20, 20]  # range 1 starts after the 20 frames of range 0
    assert table["face_index"] == [0, 0, 1] and table["x"] == [4, 1, 5]
    assert table["detected"] == [False, True, True]  # whether the detector saw the frame travels with each row
    assert video.row["status"] == "ok" and video.row["frames_total"] == 27 and video.row["faces"] == 3
    assert video.row["video_id"] == "abc"


@pytest.mark.parametrize("summary_fields, message", [
    (dict(frames=0), "no frame could be decoded"),
    (dict(frames=3, error="/v.mp4: broken"), "/v.mp4: broken"),
])
def test_failed_videos_have_an_error_and_no_timeline_rows(summary_fields, message):
    collector = Collector()
    collector.add(classified(_face_rows(TASK, [(0, 0.0, faces(1), True)])))
    fields = summary(1, **summary_fields)
    [video] = collector.add(classified(_summary_row(TASK, fields)))
    assert video.row["status"] == "error" and message in video.row["error"] and video.timeline.num_rows == 0
    assert video.row["frames_total"] == video.row["frames_with_faces"] == video.row["faces"] == 0


def test_a_damaged_video_keeps_the_rows_of_the_frames_that_decoded():
    collector = Collector()
    collector.add(classified(_face_rows(TASK, [(0, 0.0, faces(1), True), (5, 0.5, faces(2, 20), True)])))
    [video] = collector.add(classified(_summary_row(TASK, summary(1, frames=36, frames_declared=72))))
    assert video.row["status"] == "partial" and video.timeline.num_rows == video.row["faces"] == 3
    assert video.row["error"].startswith("/v.mp4: truncated or damaged: frames stop at 3.7 s of the 7.2 s")
    assert video.row["frames_total"] == 36
    assert video.row["duration_s"] == pytest.approx(3.7)


@pytest.mark.parametrize("frames, frames_declared, fps, truncated", [
    (36, 72, 30.0, True),  # an .avi cut in half: the header still declares all 72
    (95, 98, 23.67, False),  # the sample title card: the estimate is 3 frames over
    (169, 169, 26.4, False),
    (100, 0, 25.0, False),  # no declared count: nothing to compare with
    (20, 30, 30.0, False),  # 1 s declared, 0.33 s short: within the 0.5 s tolerance
    (900, 1000, 25.0, False),  # 40 s declared, 4 s short: within 10%
    (850, 1000, 25.0, True),
])
def test_a_video_is_truncated_when_its_frames_stop_well_short_of_its_declared_length(frames, frames_declared,
                                                                                        fps, truncated):
    error = ends_early("/v.avi", frames / fps, frames, frames_declared, fps)
    assert (error is not None) == truncated
    if truncated:
        assert error.startswith("/v.avi: truncated or damaged") and f"{frames} of {frames_declared} frames" in error
