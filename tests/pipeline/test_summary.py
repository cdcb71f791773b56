"""Summaries per track and per video, emotion segments, and the files `fervid summarize` writes."""

import numpy as np
import pandas as pd
import pytest

from fervid.errors import FervidError
from fervid.pipeline.schema import EMOTION_COLUMNS
from fervid.pipeline.summary import (SHARE_COLUMNS, Evidence, emotion_segments, prepare, summary_paths,
                                     track_summary, video_answers, video_summary, video_verdicts, write_summary)


def face(emotions, track_id=0, video_id="v", step_s=0.1, start_s=0.0):
    """Rows of one tracked face, one per ``step_s``, fully confident in the given labels (smoothing off)."""
    probabilities = np.zeros((len(emotions), len(EMOTION_COLUMNS)), dtype=np.float32)
    probabilities[np.arange(len(emotions)), [EMOTION_COLUMNS.index(name) for name in emotions]] = 1
    frame = pd.DataFrame(probabilities, columns=list(EMOTION_COLUMNS))
    return frame.assign(video_id=video_id, video_path=f"/videos/{video_id}.mp4", track_id=np.int32(track_id),
                        timestamp_s=start_s + step_s * np.arange(len(emotions)))


TWO_FACES = pd.concat([face(["happy"] * 3 + ["sad"]), face(["angry", "angry"], track_id=1, start_s=0.1)])


def test_track_summary_counts_seen_time_and_shares():
    tracks = track_summary(prepare(TWO_FACES, window_s=0)).set_index("track_id")
    assert tracks.loc[0, "seconds"] == pytest.approx(0.4) and tracks.loc[1, "seconds"] == pytest.approx(0.2)
    assert tracks.loc[0, "dominant"] == "happy" and tracks.loc[1, "dominant"] == "angry"
    assert tracks.loc[0, "share_happy"] == pytest.approx(0.75) and tracks.loc[0, "share_sad"] == pytest.approx(0.25)
    assert np.allclose(tracks[list(SHARE_COLUMNS)].sum(axis=1), 1)
    assert (tracks.loc[0, "first_s"], tracks.loc[0, "last_s"], tracks.loc[0, "frames"]) == (0.0, pytest.approx(0.3), 4)


def test_video_summary_weighs_every_face_by_its_time():
    video = video_summary(prepare(TWO_FACES, window_s=0)).iloc[0]
    assert video["tracks"] == 2 and video["face_seconds"] == pytest.approx(0.6)
    assert video["share_happy"] == pytest.approx(0.5) and video["dominant"] == "happy"


def test_segments_are_runs_of_one_emotion_per_track():
    segments = emotion_segments(prepare(TWO_FACES, window_s=0))
    assert segments[["track_id", "emotion", "frames"]].values.tolist() == [[0, "happy", 3], [0, "sad", 1],
                                                                          [1, "angry", 2]]
    # Each segment ends one frame step after its last row, so segments tile the time the face was seen.
    assert segments["start_s"].tolist() == pytest.approx([0.0, 0.3, 0.1])
    assert segments["end_s"].tolist() == pytest.approx([0.3, 0.4, 0.3])
    assert segments["mean_confidence"].tolist() == pytest.approx([1, 1, 1])


def test_the_same_emotion_in_two_tracks_is_two_segments():
    rows = pd.concat([face(["happy"]), face(["happy"], track_id=1)])
    assert len(emotion_segments(prepare(rows, window_s=0))) == 2


def test_copies_of_one_file_are_summarized_once():
    """Two paths with the same content share a video_id and get the same rows: one video, seen once (a FER2013
    folder holds identical faces; before, the videos table's repeated id crashed every summary)."""
    rows = face(["happy", "happy", "sad"])
    copies = pd.concat([rows, rows.assign(video_path="/videos/copy/v.mp4")])
    videos = pd.DataFrame({"video_id": ["v", "v"], "video_path": ["/videos/v.mp4", "/videos/copy/v.mp4"],
                           "duration_s": [0.3, 0.3], "frames_analyzed": [3, 3]})
    summary = video_summary(prepare(copies, window_s=0), videos)
    assert summary[["video_path", "tracks", "dominant"]].values.tolist() == [["/videos/copy/v.mp4", 1, "happy"]]
    assert summary["face_seconds"].iloc[0] == pytest.approx(0.3)
    assert video_verdicts(prepare(copies, window_s=0), videos)["dominant"].tolist() == ["happy"]


def test_the_videos_table_sets_the_frame_step_after_sampling():
    # --fps 2 on a 30 fps clip: rows 0.5 s apart; the videos table says 4 analysed frames over 2 s.
    rows = face(["happy", "happy"], step_s=0.5)
    videos = pd.DataFrame({"video_id": ["v"], "duration_s": [2.0], "frames_analyzed": [4]})
    assert track_summary(prepare(rows, window_s=0), videos)["seconds"].iloc[0] == pytest.approx(1.0)


def test_smoothing_changes_the_answer_raw_columns_do_not():
    flicker = face(["happy", "happy", "sad", "happy", "happy"])
    assert len(emotion_segments(prepare(flicker, window_s=0))) == 3
    assert len(emotion_segments(prepare(flicker, window_s=0.3))) == 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_summary_writes_three_tables_beside_each_other(tmp_path, suffix):
    out = tmp_path / f"summary{suffix}"
    write_summary(prepare(TWO_FACES, window_s=0), out)
    read = pd.read_csv if suffix == ".csv" else pd.read_parquet
    assert len(read(out)) == 2
    assert len(read(tmp_path / f"summary.segments{suffix}")) == 3
    assert read(tmp_path / f"summary.videos{suffix}")["tracks"].tolist() == [2]


@pytest.mark.parametrize("out, message", [
    ("summary.txt", "must end in .csv or .parquet"),
    ("missing/summary.csv", "output folder does not exist"),
])
def test_bad_summary_names_are_refused(tmp_path, out, message):
    with pytest.raises(FervidError, match=message):
        summary_paths(tmp_path / out)
        write_summary(prepare(TWO_FACES, window_s=0), tmp_path / out)


def test_summaries_refuse_unprepared_timelines():
    with pytest.raises(FervidError, match="call prepare"):
        track_summary(TWO_FACES)


def test_cli_summarize_writes_and_names_the_three_files(tmp_path):
    from click.testing import CliRunner

    from fervid.cli import main
    from fervid.pipeline.track_eval import SyntheticFace, synthetic_timelines

    timelines = tmp_path / "t.parquet"
    synthetic_timelines([SyntheticFace(0, 1, (100, 100)), SyntheticFace(0, 1, (300, 100))]).to_parquet(timelines)
    result = CliRunner().invoke(main, ["summarize", str(timelines), "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    assert f"tracks: 2 rows -> {tmp_path / 's.csv'}" in result.output
    assert "segments:" in result.output and (tmp_path / "s.videos.csv").is_file()


@pytest.mark.parametrize("args, message", [
    (["summarize", "missing.parquet", "--out", "s.csv"], "no such timelines file"),
    (["summarize", "missing.parquet", "--out", "s.json"], "must end in .csv or .parquet"),
    (["plot", "missing.parquet", "--out", "p.png", "--smooth", "-1"], "no such timelines file"),
])
def test_cli_errors_are_one_line(tmp_path, monkeypatch, args, message):
    from click.testing import CliRunner

    from fervid.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and result.output.startswith("error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_track_config_links_faces_again_even_when_ids_are_present():
    from fervid.pipeline.track_eval import LONG_GAP, synthetic_timelines
    from fervid.pipeline.tracks import TrackConfig, assign_tracks

    rows = synthetic_timelines(LONG_GAP)  # one face, unseen for a second in the middle
    written = assign_tracks(rows)  # what fervid analyze stores: a new id after the gap
    assert written.track_id.nunique() == 2
    assert prepare(written, window_s=0).track_id.nunique() == 2  # no config: the stored ids stay
    assert prepare(written, window_s=0, tracks=TrackConfig(max_gap_s=1.5)).track_id.nunique() == 1


def soft(rows, video_id="v", track_id=0, w=50, step_s=0.1):
    """Rows of one face with the given probability vectors (dicts of label -> probability, the rest spread)."""
    probabilities = np.array([[row.get(name, 0.0) for name in EMOTION_COLUMNS] for row in rows], np.float32)
    frame = pd.DataFrame(probabilities, columns=list(EMOTION_COLUMNS))
    return frame.assign(video_id=video_id, video_path=f"/videos/{video_id}.mp4", track_id=np.int32(track_id),
                        timestamp_s=step_s * np.arange(len(rows)), x=0, y=0, w=w, h=w)


# Three frames narrowly sad, one frame certainly happy: a vote per frame says sad, the mean probability happy.
NARROW = soft([{"sad": 0.4, "happy": 0.35, "neutral": 0.25}] * 3 + [{"happy": 1.0}])
# Two frames fairly happy, one that rules happy out: the geometric mean (log-mean) says sad, the others happy.
RULED_OUT = soft([{"happy": 0.9, "sad": 0.1}] * 2 + [{"sad": 1.0}])


@pytest.mark.parametrize("timeline, method, expected", [
    (NARROW, "share", "sad"), (NARROW, "mean", "happy"), (NARROW, "log-mean", "happy"),
    (RULED_OUT, "share", "happy"), (RULED_OUT, "mean", "happy"), (RULED_OUT, "log-mean", "sad")])
def test_answer_methods_read_the_same_frames_differently(timeline, method, expected):
    assert video_answers(prepare(timeline, window_s=0), method=method)["v"] == expected


def test_the_main_face_is_the_track_seen_longest():
    timeline = pd.concat([soft([{"angry": 1.0}] * 2, track_id=0, w=200), soft([{"fear": 1.0}] * 5, track_id=1)])
    prepared = prepare(timeline, window_s=0)
    assert video_answers(prepared, method="share", faces="main")["v"] == "fear"
    photo = pd.concat([soft([{"angry": 1.0}], track_id=0, w=20), soft([{"fear": 1.0}], track_id=1, w=90)])
    assert video_answers(prepare(photo, window_s=0), faces="main")["v"] == "fear"  # one frame: the larger face


def test_the_video_summary_reports_the_answer_of_video_answers():
    prepared = prepare(NARROW, window_s=0)
    assert video_summary(prepared, method="mean").iloc[0]["dominant"] == video_answers(prepared, method="mean")["v"]


@pytest.mark.parametrize("kwargs, message", [(dict(method="median"), "unknown answer method 'median'"),
                                             (dict(faces="first"), "unknown answer faces 'first'")])
def test_unknown_answer_rules_are_refused(kwargs, message):
    with pytest.raises(FervidError, match=message):
        video_answers(prepare(NARROW, window_s=0), **kwargs)


# Answers need evidence (summary.Evidence): 0.5 s seen, or half the video.
HAPPY_SECOND = face(["happy"] * 10)  # 1 s at 0.1 s a row
BLIP = face(["sad"] * 2, track_id=1, start_s=0.5)  # 0.2 s: a false detection or a face passing
LONG_VIDEO = pd.DataFrame({"video_id": ["v"], "duration_s": [10.0], "frames_analyzed": [100]})


def test_a_face_seen_briefly_gets_no_answer_and_the_reason():
    tracks = track_summary(prepare(pd.concat([HAPPY_SECOND, BLIP]), window_s=0), LONG_VIDEO).set_index("track_id")
    assert tracks.loc[0, "dominant"] == "happy" and tracks.loc[0, "no_answer"] is None
    assert tracks.loc[1, "dominant"] is None
    assert tracks.loc[1, "no_answer"] == "seen 0.20 s (2.0% of the video); an answer needs 0.5 s or 50%"


def test_a_video_answers_only_through_faces_with_evidence():
    video = video_summary(prepare(pd.concat([HAPPY_SECOND, BLIP]), window_s=0), LONG_VIDEO).iloc[0]
    assert video["dominant"] == "happy" and video["no_answer"] is None and video["tracks"] == 2
    assert video["share_happy"] == pytest.approx(1.0) and video["share_sad"] == 0  # the blip does not vote
    assert video["face_seconds"] == pytest.approx(1.2)  # but it was seen


def test_a_title_card_with_two_false_detections_gets_no_answer():
    # no_face_title_card.mp4: 95 frames at 23.67 fps, two detections in a row.
    title = face(["sad", "sad"], step_s=1 / 23.67, start_s=1.0)
    videos = pd.DataFrame({"video_id": ["v"], "duration_s": [95 / 23.67], "frames_analyzed": [95]})
    verdict = video_verdicts(prepare(title, window_s=0), videos).loc["v"]
    assert verdict["dominant"] is None and verdict["no_answer"].startswith("seen 0.08 s (2.1% of the video)")
    assert video_answers(prepare(title, window_s=0), videos)["v"] is None


def test_a_photo_is_all_of_its_video_and_answers():
    photo = face(["fear"])
    videos = pd.DataFrame({"video_id": ["v"], "duration_s": [0.04], "frames_analyzed": [1]})
    assert video_answers(prepare(photo, window_s=0), videos)["v"] == "fear"


def test_the_evidence_needed_is_a_setting():
    rows = prepare(pd.concat([HAPPY_SECOND, BLIP]), window_s=0)
    assert video_summary(rows, LONG_VIDEO, evidence=Evidence(min_seconds=0))["share_sad"].iloc[0] > 0
    assert video_answers(rows, LONG_VIDEO, evidence=Evidence(min_seconds=2))["v"] is None
    with pytest.raises(FervidError, match="--min-seen"):
        Evidence(min_seconds=-1)


def test_a_run_without_faces_summarizes_to_empty_tables(tmp_path):
    tables = write_summary(prepare(HAPPY_SECOND.iloc[:0], window_s=0), tmp_path / "s.csv")
    assert [len(table) for table in tables.values()] == [0, 0, 0]
    assert {"dominant", "no_answer", *SHARE_COLUMNS} <= set(tables["tracks"].columns)


def test_every_video_of_the_videos_table_has_a_row(tmp_path):
    """Issue 34: 7 videos in, 6 rows out; the no-face title card (and a file that failed) had no row, so a user
    counting rows lost videos. Now each gets one, with no answer and the reason."""
    rows = face(["happy"] * 10)
    videos = pd.DataFrame({"video_id": ["v", "t", None], "status": ["ok", "ok", "error"],
                           "video_path": ["/videos/v.mp4", "/videos/title.mp4", "/videos/broken.mp4"],
                           "error": [None, None, "/videos/broken.mp4: cannot open it"],
                           "duration_s": [1.0, 4.0, None], "frames_analyzed": [10, 95, 0]})
    tables = write_summary(prepare(rows, window_s=0), tmp_path / "s.csv", videos)
    summary = pd.read_csv(tmp_path / "s.videos.csv").set_index("video_path")
    assert len(summary) == len(tables["videos"]) == 3
    assert summary.loc["/videos/v.mp4", "dominant"] == "happy"
    assert summary.loc["/videos/title.mp4", ["tracks", "face_seconds"]].tolist() == [0, 0]
    assert pd.isna(summary.loc["/videos/title.mp4", "dominant"])
    assert summary.loc["/videos/title.mp4", "no_answer"] == "no face found in its 95 analysed frames"
    assert summary.loc["/videos/broken.mp4", "no_answer"] == "not analysed: /videos/broken.mp4: cannot open it"
    assert pd.isna(summary.loc["/videos/title.mp4", "share_happy"])
