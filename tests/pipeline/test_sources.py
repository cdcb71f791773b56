import shutil

import pytest

from fervid.errors import FervidError
from fervid.pipeline.sources import fingerprint, list_videos, local_file


def test_lists_folders_recursively_with_every_container(tmp_path):
    names = ["a.mp4", "b.MOV", "c.avi", "d.mkv", "e.webm", "f.m4v", "g.mpg", "h.gif"]
    (tmp_path / "deep" / "er").mkdir(parents=True)
    for i, name in enumerate(names):
        (tmp_path / ("deep/er" if i % 2 else "") / name).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a video")
    found = list_videos([tmp_path])
    assert sorted(p.rsplit("/", 1)[1] for p in found) == sorted(names)


def test_an_explicit_file_is_taken_whatever_its_name_and_listed_once(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("hi")
    found = list_videos([tmp_path, tmp_path / "clip.mp4", tmp_path / "notes.txt"])
    assert found == sorted([str(tmp_path / "clip.mp4"), str(tmp_path / "notes.txt")])


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.mp4", "no such file or folder"),
    (lambda p: p, "no videos found"),
    (lambda p: f"file://{p}/missing", "no such file or folder"),
])
def test_usage_errors_name_the_path(tmp_path, make, message):
    with pytest.raises(FervidError, match=message):
        list_videos([make(tmp_path)])


def test_file_uris_are_listed_and_copied_locally(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "v.mp4").write_bytes(b"video bytes")
    [uri] = list_videos([f"file://{tmp_path}"])
    assert uri == f"file://{tmp_path}/sub/v.mp4"
    with local_file(uri) as local:
        assert local != str(tmp_path / "sub" / "v.mp4") and open(local, "rb").read() == b"video bytes"
    with local_file(str(tmp_path / "sub" / "v.mp4")) as local:
        assert local == str(tmp_path / "sub" / "v.mp4")  # local files decode in place


def test_fingerprint_survives_renames_and_tells_content_apart(videos, tmp_path):
    copy = tmp_path / "renamed.bin"
    shutil.copy(videos / "woman_phone.mp4", copy)
    original = fingerprint(str(videos / "woman_phone.mp4"))
    assert fingerprint(str(copy)) == original == fingerprint(f"file://{copy}")
    assert fingerprint(str(videos / "woman_talking.mp4")) != original
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert len(fingerprint(str(tmp_path / "empty.mp4"))) == 16
