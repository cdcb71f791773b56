import numpy as np
import pytest
from PIL import Image

from fervid.pipeline.video import VideoError, VideoInfo, is_sampled, plan_ranges, probe, read_range

CONSTANT_RATE_CLIPS = ("man_single_face.mp4", "stage_multi_face.mp4", "woman_outdoor.mp4", "woman_talking.mp4")


def timestamps(path, start=-np.inf, stop=np.inf, sample_fps=None):
    return [(f.index, f.timestamp_s, f.image is not None)
            for f in read_range(str(path), start, stop, probe(str(path)).fps, sample_fps)]


@pytest.mark.parametrize("clip", CONSTANT_RATE_CLIPS)
def test_timestamps_increase_and_match_the_frame_rate(videos, clip):
    frames = timestamps(videos / clip)
    fps = probe(str(videos / clip)).fps
    times = np.array([t for _, t, _ in frames])
    assert [i for i, *_ in frames] == list(range(len(frames))) and len(frames) > 50
    assert np.all(np.diff(times) > 0)
    np.testing.assert_allclose(times, np.arange(len(times)) / fps, atol=1e-3)


def test_variable_frame_rate_keeps_container_times(videos):
    times = np.array([t for _, t, _ in timestamps(videos / "face_then_no_face.mov")])
    by_rate = np.arange(len(times)) / probe(str(videos / "face_then_no_face.mov")).fps
    assert np.all(np.diff(times) > 0)
    assert times[-1] == pytest.approx(by_rate[-1], abs=0.05)  # same length as the average rate says...
    assert np.abs(times - by_rate).max() > 0.3  # ...but frames in between are 0.36 s off frame_index / fps


def test_animated_gif_times_follow_frame_durations(tmp_path):
    frames = [Image.fromarray(np.full((40, 60, 3), 25 * i, np.uint8)) for i in range(6)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=[100, 300, 100, 100, 100, 100])
    assert [round(t, 3) for _, t, _ in timestamps(tmp_path / "a.gif")] == [0, 0.1, 0.4, 0.5, 0.6, 0.7]


@pytest.mark.parametrize("clip", ["face_then_no_face.mov", "woman_talking.mp4"])
@pytest.mark.parametrize("sample_fps", [None, 7.0])
def test_time_ranges_partition_the_frames_like_one_pass(videos, clip, sample_fps):
    whole = timestamps(videos / clip, sample_fps=sample_fps)
    info = probe(str(videos / clip))
    ranges = plan_ranges(info, 60)
    assert len(ranges) >= 3
    pieces, offset = [], 0
    for start, stop in ranges:
        part = timestamps(videos / clip, start, stop, sample_fps)
        pieces += [(offset + i, t, s) for i, t, s in part]
        offset += len(part)
    assert pieces == whole


def test_plan_ranges_keeps_short_videos_whole():
    assert plan_ranges(VideoInfo(fps=30, width=1, height=1, frame_count=500), 500) == [(-np.inf, np.inf)]
    assert plan_ranges(VideoInfo(fps=0, width=1, height=1, frame_count=5000), 500) == [(-np.inf, np.inf)]
    assert plan_ranges(VideoInfo(fps=10, width=1, height=1, frame_count=25), 10) == [(-np.inf, 1), (1, 2), (2, np.inf)]


@pytest.mark.parametrize("time_s, previous_s, fps, expected", [
    (0.0, None, 2.0, True),  # the first frame is always kept
    (0.49, 0.45, 2.0, False),
    (0.5, 0.45, 2.0, True),  # crossed the 0.5 s tick
    (1 / 3, 0.3, 3.0, True),  # float time exactly on a tick
    (0.9, 0.8, None, True),  # no sampling
])
def test_is_sampled(time_s, previous_s, fps, expected):
    assert is_sampled(time_s, previous_s, fps) is expected


@pytest.mark.parametrize("content, message", [(b"", "empty file"), (b"plain text\n" * 20, "cannot open it as a video")])
def test_undecodable_files_raise_a_readable_error(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=message) as caught:
        probe(str(path))
    assert str(path) in str(caught.value)


def test_frames_outside_the_sample_are_counted_not_converted(videos):
    frames = timestamps(videos / "man_single_face.mp4", sample_fps=5)
    assert len(frames) == 72 and sum(s for *_, s in frames) == 12  # 2.4 s at 5 frames/s
