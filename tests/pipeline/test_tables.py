"""Reading timelines back: clear errors for wrong files, choosing one video, and the time each row stands for."""

import pandas as pd
import pytest

from fervid.errors import FervidError
from fervid.pipeline.tables import frame_step_s, read_timelines, read_videos, select_video
from fervid.pipeline.track_eval import SyntheticFace, synthetic_timelines

ONE_FACE = [SyntheticFace(0, 1, (100, 100))]
TWO_VIDEOS = pd.concat([synthetic_timelines(ONE_FACE, video_id="a"), synthetic_timelines(ONE_FACE, video_id="b")])


def test_read_timelines_round_trips_and_finds_no_videos_table(tmp_path):
    path = tmp_path / "t.parquet"
    TWO_VIDEOS.to_parquet(path)
    assert len(read_timelines(path)) == len(TWO_VIDEOS)
    assert read_videos(path) is None


def test_timelines_written_before_the_detected_column_still_read(tmp_path):
    path = tmp_path / "t.parquet"
    TWO_VIDEOS.drop(columns="detected").to_parquet(path)
    assert len(read_timelines(path)) == len(TWO_VIDEOS)


@pytest.mark.parametrize("content, message", [
    (None, "no such timelines file"),
    (b"not parquet", "not a readable Parquet file"),
    ("frame", "lacks the column"),
])
def test_read_timelines_refuses_wrong_files(tmp_path, content, message):
    path = tmp_path / "t.parquet"
    if content == "frame":
        pd.DataFrame({"video_id": ["a"]}).to_parquet(path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(FervidError, match=message):
        read_timelines(path)


@pytest.mark.parametrize("video", ["a", "/synthetic/a.mp4", "a.mp4"])
def test_select_video_by_id_path_or_file_name(video):
    assert select_video(TWO_VIDEOS, video)["video_id"].unique().tolist() == ["a"]


@pytest.mark.parametrize("video, message", [(None, "hold 2 video.*pass one"), ("c.mp4", "matches none")])
def test_select_video_lists_the_choices(video, message):
    with pytest.raises(FervidError, match=f"{message}.*/synthetic/b.mp4"):
        select_video(TWO_VIDEOS, video)


def test_frame_step_from_rows_and_from_the_videos_table():
    assert frame_step_s(TWO_VIDEOS).to_dict() == pytest.approx({"a": 1 / 30, "b": 1 / 30})
    videos = pd.DataFrame({"video_id": ["a", None], "duration_s": [3.0, None], "frames_analyzed": [6, 0]})
    assert frame_step_s(TWO_VIDEOS, videos).to_dict() == pytest.approx({"a": 0.5, "b": 1 / 30})
