"""The whole Ray job on the sample clips (subsampled with --fps to keep the file to a few minutes on 2 cores)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from fervid.cli import main
from fervid.errors import FervidError
from fervid.pipeline.job import AnalyzeConfig, AnalyzeSummary, analyze
from fervid.pipeline.output import SETTINGS_KEY, PartialOutput
from fervid.pipeline.schema import (EMOTION_COLUMNS, SMOOTH_COLUMNS, TIMELINE_SCHEMA, VIDEOS_SCHEMA, timeline_schema,
                                    videos_path)
from fervid.pipeline.summary import prepare, video_verdicts
from fervid.pipeline.tables import read_timelines, read_videos

SAMPLE_FPS = 10.0
FRAMES = {"face_then_no_face.mov": 169, "man_single_face.mp4": 72, "no_face_title_card.mp4": 95,
          "stage_multi_face.mp4": 275, "woman_outdoor.mp4": 472, "woman_phone.mp4": 115, "woman_talking.mp4": 464}
ONE_FACE_CLIPS = ("man_single_face.mp4", "woman_outdoor.mp4", "woman_phone.mp4", "woman_talking.mp4")
CONSTANT_RATE_CLIPS = ("man_single_face.mp4", "stage_multi_face.mp4", "woman_outdoor.mp4", "woman_talking.mp4")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(videos, untrained_model, ray_session, tmp_path_factory):
    """All seven clips, split into ranges of 150 frames, so four of them run as several tasks."""
    out = tmp_path_factory.mktemp("run") / "timelines.parquet"
    config = AnalyzeConfig(model_path=str(untrained_model), sample_fps=SAMPLE_FPS, frames_per_range=150)
    summary = analyze([videos], out, config)
    timeline = pd.read_parquet(out)
    table = pd.read_parquet(videos_path(out)).set_index(pd.read_parquet(videos_path(out)).video_path.map(
        lambda p: p.rsplit("/", 1)[1]))
    timeline["clip"] = timeline.video_path.map(lambda p: p.rsplit("/", 1)[1])
    return summary, out, timeline, table


def comparable(out) -> pd.DataFrame:
    """A timeline without the columns that depend on where the clips were copied."""
    return pd.read_parquet(out).drop(columns=["video_path"]).reset_index(drop=True)


def test_outputs_have_the_declared_schema(run):
    summary, out, timeline, table = run
    assert pq.read_schema(out).remove_metadata() == TIMELINE_SCHEMA
    assert pq.read_schema(videos_path(out)).remove_metadata() == VIDEOS_SCHEMA
    assert summary.videos_ok == 7 and summary.videos_failed == 0 and summary.faces == len(timeline)
    probabilities = timeline[list(EMOTION_COLUMNS)].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    assert (timeline.emotion == np.asarray(EMOTION_COLUMNS)[probabilities.argmax(axis=1)]).all()
    np.testing.assert_allclose(timeline.confidence, probabilities.max(axis=1))


def test_every_frame_is_counted_and_sampled_at_the_requested_rate(run):
    _, _, _, table = run
    assert (table.status == "ok").all() and table.error.isna().all()
    assert table.frames_total.to_dict() == FRAMES
    expected = np.ceil(table.duration_s * SAMPLE_FPS)
    assert (abs(table.frames_analyzed - expected) <= 1).all()
    assert table.video_id.str.fullmatch("[0-9a-f]{16}").all() and table.video_id.is_unique


def test_the_summary_line_names_the_videos_where_most_frames_had_no_face(run):
    summary, _, _, table = run
    faceless = table.index[2 * table.frames_with_faces < table.frames_analyzed]
    assert sorted(faceless) == ["face_then_no_face.mov", "no_face_title_card.mp4"]
    assert sorted(path.rsplit("/", 1)[1] for path in summary.videos_mostly_faceless) == sorted(faceless)
    assert "faces; 2 videos with no face in most analysed frames (" in summary.line()


@pytest.mark.parametrize("faceless, expected", [
    ((), "1 videos ok, 0 failed; 10 frames, 4 faces; 2.0 s, 5.0 frames/s -> o.parquet"),
    (("/v/a.mp4", "s3://b/c.mov"), "2 videos with no face in most analysed frames (a.mp4, c.mov); 2.0 s"),
    (("a", "b", "c", "d", "e"), "5 videos with no face in most analysed frames (a, b, c and 2 more); 2.0 s"),
])
def test_the_summary_line_counts_faceless_videos_and_names_a_few(faceless, expected):
    summary = AnalyzeSummary(out="o.parquet", videos_out="o.videos.parquet", videos_ok=1, videos_failed=0, frames=10,
                             faces=4, seconds=2.0, frames_this_run=10, videos_mostly_faceless=faceless)
    assert expected in summary.line()


def test_timestamps_increase_and_agree_with_the_frame_rate(run):
    _, _, timeline, table = run
    for clip, rows in timeline.groupby("clip"):
        frames = rows.drop_duplicates("frame_index")
        assert frames.frame_index.is_monotonic_increasing and frames.timestamp_s.is_monotonic_increasing
        if clip in CONSTANT_RATE_CLIPS:
            np.testing.assert_allclose(frames.timestamp_s, frames.frame_index / table.fps[clip], atol=1e-3)


def test_faces_where_there_are_faces_and_not_elsewhere(run):
    _, _, timeline, table = run
    share = table.frames_with_faces / table.frames_analyzed
    assert (share[list(ONE_FACE_CLIPS)] > 0.9).all()
    assert share["stage_multi_face.mp4"] > 0.8
    assert table.frames_with_faces["no_face_title_card.mp4"] <= 2  # FINDINGS: 2 false alarms in 95 frames
    late = timeline[timeline["clip"] == "face_then_no_face.mov"].timestamp_s
    assert len(late) > 10 and late.max() < 3.6  # the face is there for about 3 s, then a title card


def test_every_clip_with_a_person_gets_an_answer_and_the_title_card_none(run):
    _, out, _, table = run
    verdicts = video_verdicts(prepare(read_timelines(out)), read_videos(out))
    answers = table.video_id.map(verdicts["dominant"])
    people = [clip for clip in FRAMES if clip != "no_face_title_card.mp4"]
    assert answers[people].isin(EMOTION_COLUMNS).all(), verdicts
    assert pd.isna(answers["no_face_title_card.mp4"])  # no face, or too little of one


def test_faces_are_numbered_left_to_right_inside_the_frame(run):
    _, _, timeline, table = run
    for _, faces in timeline.groupby(["video_path", "frame_index"]):
        assert faces.face_index.tolist() == list(range(len(faces)))
        assert faces.x.is_monotonic_increasing
    assert timeline.groupby(["video_path", "frame_index"]).size().max() >= 2  # stage_multi_face has crowds
    size = table.loc[timeline["clip"], ["width", "height"]].to_numpy()
    assert (timeline.x >= 0).all() and (timeline.x + timeline.w <= size[:, 0]).all()
    assert (timeline.y >= 0).all() and (timeline.y + timeline.h <= size[:, 1]).all()


def test_one_face_keeps_one_track_and_smoothing_adds_columns(run, videos, untrained_model, tmp_path):
    _, _, timeline, _ = run
    single = timeline[timeline["clip"] == "man_single_face.mp4"]
    assert single.track_id.dtype == np.int32 and set(single.track_id) == {0}
    assert timeline.groupby("clip").track_id.min().eq(0).all()  # ids start at 0 in every video
    out = tmp_path / "smoothed.parquet"
    analyze([videos / "man_single_face.mp4"], out,
            AnalyzeConfig(model_path=str(untrained_model), sample_fps=SAMPLE_FPS, smooth_s=0.5))
    smoothed = pd.read_parquet(out)
    assert pq.read_schema(out).remove_metadata() == timeline_schema(0.5)
    raw = single.drop(columns="clip").reset_index(drop=True)
    pd.testing.assert_frame_equal(smoothed[raw.columns].drop(columns="video_path"), raw.drop(columns="video_path"))
    np.testing.assert_allclose(smoothed[list(SMOOTH_COLUMNS)].sum(axis=1), 1, atol=1e-4)
    # The window averages: the smoothed series varies less from frame to frame than the raw one.
    assert smoothed["happy_smooth"].diff().abs().mean() < smoothed["happy"].diff().abs().mean()


def test_a_split_video_gives_the_rows_of_one_pass(run, videos, untrained_model, tmp_path):
    _, out, timeline, _ = run
    whole = tmp_path / "whole.parquet"
    analyze([videos / "face_then_no_face.mov"], whole,
            AnalyzeConfig(model_path=str(untrained_model), sample_fps=SAMPLE_FPS, frames_per_range=10_000))
    split = timeline[timeline["clip"] == "face_then_no_face.mov"].drop(columns="clip").reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(whole), split)


def test_detecting_every_third_frame_gives_every_frame_its_faces(run, videos, untrained_model, tmp_path):
    """--detect-every 3 on a split video: the same frames with a face (carried across range ends too), boxes on the
    detected ones, the setting recorded."""
    _, _, timeline, _ = run
    out = tmp_path / "every3.parquet"
    analyze([videos / "woman_talking.mp4"], out, AnalyzeConfig(model_path=str(untrained_model), sample_fps=SAMPLE_FPS,
                                                               frames_per_range=150, detect_every=3))
    carried = pd.read_parquet(out)
    detected = timeline[timeline["clip"] == "woman_talking.mp4"]
    assert carried.frame_index.tolist() == detected.frame_index.tolist()  # one face in every analysed frame
    offsets = (carried[["x", "y", "w", "h"]].to_numpy() - detected[["x", "y", "w", "h"]].to_numpy())
    assert np.median(np.abs(offsets)) <= 2 and np.abs(offsets).max() < 0.2 * detected.w.min()
    assert json.loads(pq.read_schema(out).metadata[SETTINGS_KEY])["detect_every"] == 3
    assert carried.detected.sum() == pytest.approx(len(carried) / 3, abs=8)  # keyframes, range ends, shot changes
    with pytest.raises(FervidError, match="--detect-every"):
        AnalyzeConfig(detect_every=0)


def test_by_default_the_detector_runs_about_every_fifth_of_a_second(run):
    """At --fps 10 the default detects every 2nd analysed frame; the rows say which, and the setting is recorded."""
    _, out, timeline, _ = run
    settings = json.loads(pq.read_schema(out).metadata[SETTINGS_KEY])
    assert settings["detect_every"] is None and settings["detect_interval_s"] == 0.2
    one_face = timeline[timeline["clip"] == "woman_talking.mp4"]
    assert one_face.detected.mean() == pytest.approx(0.5, abs=0.05)


def test_bad_files_become_error_rows_and_good_ones_complete(videos, untrained_model, ray_session, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.avi").write_text("this is not a video\n" * 50)
    data = (videos / "man_single_face.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (folder / "gone.mkv").symlink_to(tmp_path / "deleted.mkv")  # listed, but cannot be read
    shutil.copy(videos / "woman_phone.mp4", folder / "good.mp4")
    uri = f"file://{videos / 'man_single_face.mp4'}"  # a URI: copied to a temporary file inside the task
    out = tmp_path / "out.parquet"
    args = ["analyze", str(folder), uri, "--out", str(out), "--model", str(untrained_model), "--fps", "5"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "2 videos ok, 4 failed" in result.output
    table = pd.read_parquet(videos_path(out)).set_index("video_path")
    errors = table[table.status == "error"]
    assert sorted(p.rsplit("/", 1)[1] for p in errors.index) == ["empty.mp4", "gone.mkv", "text.avi", "truncated.mp4"]
    for path, message in errors.error.items():
        assert path in message
    assert "empty file" in errors.error[str(folder / "empty.mp4")]
    assert "No such file" in errors.error[str(folder / "gone.mkv")]
    assert table.faces[uri] > 0 and table.faces[str(folder / "good.mp4")] > 0
    assert set(pd.read_parquet(out).video_path) == {uri, str(folder / "good.mp4")}

    before = out.stat().st_mtime_ns
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "exists; pass --overwrite" in again.output
    assert out.stat().st_mtime_ns == before


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def pair(videos, untrained_model, ray_session, tmp_path_factory):
    """Two short clips and the output of one uninterrupted run over them."""
    folder = tmp_path_factory.mktemp("pair")
    for name in ("man_single_face.mp4", "woman_phone.mp4"):
        shutil.copy(videos / name, folder / name)
    config = AnalyzeConfig(model_path=str(untrained_model), sample_fps=5)
    reference = folder.parent / "reference.parquet"
    analyze([folder], reference, config)
    return folder, config, reference


def test_an_interrupted_run_leaves_nothing_complete_and_resumes_to_the_same_rows(pair, tmp_path):
    folder, config, reference = pair
    out = tmp_path / "out.parquet"

    def stop_after_first_video(progress):
        raise Interrupted

    with pytest.raises(Interrupted):
        analyze([folder], out, config, progress=stop_after_first_video)
    assert not out.exists() and not videos_path(out).exists()
    assert len(list((tmp_path / ".out.parquet.partial").glob("*.json"))) == 2  # settings + one video

    summary = analyze([folder], out, AnalyzeConfig(**{**config.__dict__, "resume": True}))
    assert summary.videos_ok == 2 and 0 < summary.frames_this_run < summary.frames  # only one was analysed
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(reference))
    assert not (tmp_path / ".out.parquet.partial").exists()


def test_resume_adds_new_videos_to_a_complete_output(pair, videos, tmp_path):
    folder, config, reference = pair
    grow = tmp_path / "grow"
    grow.mkdir()
    shutil.copy(folder / "man_single_face.mp4", grow)
    out = tmp_path / "out.parquet"
    analyze([grow], out, config)
    first = pd.read_parquet(videos_path(out))
    shutil.copy(folder / "woman_phone.mp4", grow)
    summary = analyze([grow], out, AnalyzeConfig(**{**config.__dict__, "resume": True}))
    assert summary.frames_this_run == 115  # only the new clip was decoded
    table = pd.read_parquet(videos_path(out))
    assert table.seconds[0] == first.seconds[0]  # kept, not recomputed
    pd.testing.assert_frame_equal(comparable(out), comparable(reference))


def test_resume_refuses_other_settings(pair, tmp_path):
    folder, config, reference = pair
    out = tmp_path / "out.parquet"
    shutil.copy(reference, out)
    shutil.copy(videos_path(reference), videos_path(out))
    result = CliRunner().invoke(main, ["analyze", str(folder), "--out", str(out), "--model", config.model_path,
                                       "--fps", "2", "--resume"])
    assert result.exit_code == 1 and "other settings (sample_fps: 5 there, 2.0 now); run with the options" in (
        result.output)


def test_resume_names_both_values_and_takes_a_setting_an_older_run_lacked_for_null(tmp_path):
    out = tmp_path / "out.parquet"
    PartialOutput(out, {"detect_every": 1}, resume=False, overwrite=False)  # a run interrupted before any video
    with pytest.raises(FervidError, match=r"\(detect_every: 1 there, null now; detect_interval_s: null there, 0\.2 "
                                          r"now\); run with the options that made it, or pass --overwrite"):
        PartialOutput(out, {"detect_every": None, "detect_interval_s": 0.2}, resume=True, overwrite=False)
    # Made before detect_interval_s existed, when the detector ran on every frame: --detect-every 1 resumes it.
    PartialOutput(out, {"detect_every": 1, "detect_interval_s": None}, resume=True, overwrite=False)


def test_output_to_a_uri_is_staged_and_uploaded_videos_table_last(pair, tmp_path):
    folder, config, reference = pair
    target = tmp_path / "bucket"
    target.mkdir()
    uri = f"file://{target}/timelines.parquet"
    summary = analyze([folder], uri, config)
    assert summary.out == uri and summary.videos_out == f"file://{target}/timelines.videos.parquet"
    assert sorted(p.name for p in target.iterdir()) == ["timelines.parquet", "timelines.videos.parquet"]
    pd.testing.assert_frame_equal(comparable(target / "timelines.parquet"), comparable(reference))
    with pytest.raises(FervidError, match="exists; pass --overwrite"):
        analyze([folder], uri, config)
    again = analyze([folder], uri, replace(config, resume=True))
    assert again.frames_this_run == 0 and again.faces == summary.faces
