"""Training on labelled photos and clips: faces cut by the analysis' own path, bad rows one line each."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from fervid.cli import main
from fervid.errors import FervidError
from fervid.model.data import is_labelled_media_csv, load_dataset
from fervid.pipeline.labelled_faces import cut_labelled_faces, faces_of_file


@pytest.fixture(scope="module")
def media_csv(tmp_path_factory, labelled_faces, labelled_videos, videos):
    """Four photos and one clip that give faces, and four rows that cannot: no face, a bad label, a missing file,
    a file that is not a video."""
    folder = tmp_path_factory.mktemp("media")
    for name in ("AF01HAS.JPG", "AF01SAS.JPG", "AM01HAS.JPG", "AM01SAS.JPG"):
        shutil.copy(labelled_faces / name, folder / name)
    shutil.copy(labelled_videos / "mead_W011_happy_level3_001.mp4", folder / "clip.mp4")
    shutil.copy(videos / "no_face_title_card.mp4", folder / "title.mp4")
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    rows = ["file,label", "AF01HAS.JPG,happy", "AF01SAS.JPG,sad", "AM01HAS.JPG,Happy", "AM01SAS.JPG,sad",
            "clip.mp4,happy", "title.mp4,neutral", "AF01HAS.JPG,joyful", "gone.jpg,sad", "broken.mp4,angry"]
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder / "labels.csv"


def test_each_bad_row_is_one_line_naming_its_file_and_the_others_still_give_faces(media_csv):
    lines = []
    faces = cut_labelled_faces(media_csv, log=lines.append)
    problems = [line for line in lines if "left out" in line and "faces from" not in line]
    assert len(problems) == 4
    for name, why in (("title.mp4", "no face seen long enough"), ("AF01HAS.JPG", "unknown label 'joyful'"),
                      ("gone.jpg", "no such file"), ("broken.mp4", "cannot open it")):
        assert any(name in line and why in line for line in problems), (name, problems)
    assert lines[-1].endswith("from 5 files (4 left out)")
    # A photo gives its one face; the clip (about 4 s) gives its main face in about 5 frames a second.
    counts = {name: faces.files.count(name) for name in set(faces.files)}
    assert counts["AF01HAS.JPG"] == counts["AM01SAS.JPG"] == 1 and 15 <= counts["clip.mp4"] <= 25
    assert faces.images.shape[1:] == (48, 48) and faces.images.dtype == np.uint8
    assert faces.class_counts()["happy"] == 2 + counts["clip.mp4"] and faces.class_counts()["sad"] == 2


def test_a_photo_gives_the_crop_analyze_gives(labelled_faces):
    """The same crop as the analysis cuts: the detector's FER2013 framing, levelled, grey levels as they are."""
    import cv2

    from fervid.pipeline.detect import FRAMING, find_faces, make_detector

    path = str(labelled_faces / "AF01HAS.JPG")
    expected = find_faces(cv2.imread(path), make_detector("blazeface-full"), FRAMING["blazeface-full"]).crops
    got = faces_of_file(path)
    assert got.shape == (1, 48, 48)
    assert np.abs(got[0].astype(int) - expected[0].astype(int)).mean() < 4  # PyAV's and OpenCV's colour differ


def test_no_usable_row_is_an_error_naming_the_csv(tmp_path, videos):
    shutil.copy(videos / "no_face_title_card.mp4", tmp_path / "title.mp4")
    (tmp_path / "labels.csv").write_text("file,label\ntitle.mp4,happy\n")
    with pytest.raises(FervidError, match=r"labels.csv: no file gave a labelled face \(1 left out\)"):
        cut_labelled_faces(tmp_path / "labels.csv", log=lambda _: None)


def test_a_media_csv_is_told_apart_from_face_sets(media_csv, tmp_path):
    (tmp_path / "votes.csv").write_text("file,angry,happy\na.png,1,9\n")
    assert is_labelled_media_csv(media_csv) and not is_labelled_media_csv(tmp_path / "votes.csv")
    with pytest.raises(FervidError, match="CSV of labelled photos and clips, not of faces"):
        load_dataset(media_csv)


@pytest.mark.slow
def test_fervid_train_learns_from_a_media_csv_end_to_end(media_csv, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--data", str(media_csv), "--out", str(out), "--epochs", "1",
                                       "--batch-size", "8"])
    assert result.exit_code == 0, result.output
    assert "cutting faces with fervid's detector and crop" in result.output
    assert sum("left out" in line for line in result.output.splitlines()) == 5  # 4 rows, then the count line
    assert "epoch 1/1:" in result.output
    config = json.loads((out / "config.json").read_text())
    # Named after the CSV's folder; --resume reads the cut faces, not the videos again.
    assert config["data"] == str(out / "faces" / f"{media_csv.parent.name}.npz")
    cut = load_dataset(config["data"])
    assert len(cut.files) == len(cut) > 20
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1]
    assert (out / "model.keras").exists()
