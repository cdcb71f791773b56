"""`fervid evaluate --videos`: the real analysis scored per clip; bad rows are reported, never a crash."""

import json

import pytest
from click.testing import CliRunner

from fervid.cli import main
from fervid.errors import FervidError
from fervid.pipeline.evaluate import NO_ANSWER, read_labels
from fervid.pipeline.schema import EMOTION_COLUMNS


def test_a_labels_file_of_clips_is_scored_clip_by_clip(videos, untrained_model, ray_session, tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "man.mp4").symlink_to(videos / "man_single_face.mp4")
    (tmp_path / "title.mp4").symlink_to(videos / "no_face_title_card.mp4")
    (tmp_path / "labels.csv").write_text("file,label,note\nclips/man.mp4,Happy,x\ntitle.mp4,neutral,\n"
                                         "clips/gone.mp4,sad,\nclips/man.mp4,joy,\n")
    result = CliRunner().invoke(main, ["evaluate", "--videos", str(tmp_path / "labels.csv"), "--model",
                                       str(untrained_model), "--fps", "5", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    clips = {(clip["file"], clip["label"]): clip for clip in report["clips"]}
    man = clips[("clips/man.mp4", "happy")]  # labels are matched without case
    assert man["answer"] in EMOTION_COLUMNS and man["faces"] > 0 and man["frames"] == 72 and man["status"] == "ok"
    title = clips[("title.mp4", "neutral")]
    assert title["status"] == "ok" and title["frames"] == 95
    # At most two false detections (0.4 s at 5 fps): too little evidence for an answer, and the note says why.
    assert title["answer"] == NO_ANSWER and report["unanswered"] == 1
    assert title["note"] == "no face found" if title["faces"] == 0 else "an answer needs 0.5 s" in title["note"]
    assert clips[("clips/gone.mp4", "sad")]["answer"] is None and "no such file" in clips[("clips/gone.mp4", "sad")]["note"]
    assert "unknown label 'joy'" in clips[("clips/man.mp4", "joy")]["note"]
    assert report["n"] == 2 and report["not_scored"] == 2 and report["right"] == sum(
        clips[key]["answer"] == key[1] for key in (("clips/man.mp4", "happy"), ("title.mp4", "neutral")))
    assert set(report) >= {"accuracy", "n", "per_class", "confusion_matrix", "clips"}
    assert sum(map(sum, report["confusion_matrix"])) == report["n"] - report["unanswered"]
    # Two labels, one clip each, the title card unanswered: the mean recall is the man's clip's 0 or 1, halved.
    assert report["mean_recall"] == (man["answer"] == "happy") / 2


@pytest.mark.parametrize("content, message", [
    ("name,emotion\na.mp4,happy\n", "expected the columns file and label; missing file, label"),
    ("file,label\n", "no rows to score"),
])
def test_an_unusable_labels_file_is_a_usage_error(tmp_path, content, message):
    (tmp_path / "labels.csv").write_text(content)
    with pytest.raises(FervidError, match=message):
        read_labels(tmp_path / "labels.csv")


def test_data_and_videos_exclude_each_other(tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "--data", str(tmp_path), "--videos", str(tmp_path / "l.csv")])
    assert result.exit_code == 2 and "exactly one of --data" in result.output
    result = CliRunner().invoke(main, ["evaluate", "--videos", str(tmp_path / "missing.csv")])
    assert result.exit_code == 1 and "missing.csv: no such labels file" in result.output
