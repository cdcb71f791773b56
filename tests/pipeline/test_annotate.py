"""fervid annotate: the output opens, keeps the source's frame count, rate and size, and finds its rows."""

import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fervid.cli import main
from fervid.errors import FervidError
from fervid.pipeline.annotate import annotate_video, rows_for_video
from fervid.pipeline.plot import emotion_bgr
from fervid.pipeline.sources import fingerprint
from fervid.pipeline.track_eval import SyntheticFace, synthetic_timelines

CLIP = "man_single_face.mp4"  # 72 frames, 30 fps, 640x360


@pytest.fixture
def clip(videos):
    return videos / CLIP


def timelines_for(path, fps=30.0, **face):
    """Synthetic rows for a face in the first second of ``path``, labelled with its path and content id."""
    rows = synthetic_timelines([SyntheticFace(0, 1, (320, 150), **face)], fps=fps)
    # The clip's own frame numbers (30 fps), whatever rate the rows were sampled at.
    return rows.assign(video_path=str(path), video_id=fingerprint(str(path)),
                       frame_index=(rows["timestamp_s"] * 30).round().astype("int64"))


def video_facts(path):
    capture = cv2.VideoCapture(str(path))
    facts = (int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS),
             int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    ok, first = capture.read()
    capture.release()
    return facts, first if ok else None


def test_annotated_video_keeps_frames_rate_and_size_and_shows_the_box(clip, tmp_path):
    out = tmp_path / "annotated.mp4"
    result = annotate_video(clip, timelines_for(clip), out)
    (frames, fps, width, height), first = video_facts(out)
    (source_frames, source_fps, source_width, source_height), source_first = video_facts(clip)
    assert result.frames == frames == source_frames == 72
    assert (fps, width, height) == pytest.approx((source_fps, source_width, source_height))
    assert result.frames_with_boxes == 30  # one second of face at 30 fps
    assert np.abs(first.astype(int) - source_first.astype(int)).mean() > 1  # something was drawn


def test_sampled_rows_stay_drawn_until_the_next_analysed_frame(clip, tmp_path):
    result = annotate_video(clip, timelines_for(clip, fps=5.0), tmp_path / "a.mp4")  # rows every 6th frame
    assert result.frames_with_boxes == 30


def test_a_renamed_copy_is_found_by_its_content_id(clip, tmp_path):
    copy = tmp_path / "renamed.mp4"
    shutil.copy(clip, copy)
    assert len(rows_for_video(timelines_for(clip), copy)) == len(timelines_for(clip))


def test_a_video_not_in_the_timelines_is_a_clear_error(clip, videos, tmp_path):
    with pytest.raises(FervidError, match="woman_phone.mp4: not in the timelines"):
        annotate_video(videos / "woman_phone.mp4", timelines_for(clip), tmp_path / "a.mp4")


def test_cli_annotate_prints_the_frame_count(clip, tmp_path):
    timelines = tmp_path / "t.parquet"
    timelines_for(clip).drop(columns="true_id").to_parquet(timelines)
    result = CliRunner().invoke(main, ["annotate", str(clip), "--timelines", str(timelines),
                                       "--out", str(tmp_path / "a.mp4")])
    assert result.exit_code == 0, result.output
    assert "72 frames (30 with faces)" in result.output


def test_emotion_colours_are_bgr():
    assert emotion_bgr("angry") == (0x28, 0x27, 0xD6)  # "#d62728": red first in hex, last in BGR
