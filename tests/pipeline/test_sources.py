import os
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


def test_paths_are_absolute_and_normalized_once(tmp_path, monkeypatch):
    """Issue 34: `/x/proj/../shared/data/videos/a.mp4` was kept as typed, so one file analysed from two working
    folders got two paths."""
    (tmp_path / "shared" / "videos").mkdir(parents=True)
    (tmp_path / "proj").mkdir()
    (tmp_path / "shared" / "videos" / "a.mp4").write_bytes(b"x")
    wanted = [str(tmp_path / "shared" / "videos" / "a.mp4")]
    assert list_videos([tmp_path / "proj" / ".." / "shared" / "videos"]) == wanted
    assert list_videos([f"{tmp_path}/proj/../shared/./videos/a.mp4"]) == wanted
    monkeypatch.chdir(tmp_path / "proj")
    assert list_videos(["../shared/videos"]) == list_videos(["../shared//videos/a.mp4"]) == wanted
    monkeypatch.chdir(tmp_path / "shared")
    assert list_videos(["videos"]) == wanted


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


def test_symlinked_folders_are_followed_once_and_loops_end(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "v.mp4").write_bytes(b"x")
    (tmp_path / "a" / "self").symlink_to(tmp_path / "a")  # a loop onto itself
    (tmp_path / "a" / "up").symlink_to(tmp_path)  # a loop onto its parent
    (tmp_path / "b").symlink_to(tmp_path / "a")  # the same real folder under a second name
    library = tmp_path.parent / f"{tmp_path.name}-library"  # reached only through a link
    library.mkdir()
    (library / "w.mp4").write_bytes(b"x")
    (tmp_path / "linked").symlink_to(library)
    assert list_videos([tmp_path]) == [str(tmp_path / "a" / "v.mp4"), str(tmp_path / "linked" / "w.mp4")]


def test_only_regular_files_are_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.mp4")  # open() would block until a writer came
    (tmp_path / "gone.mp4").symlink_to(tmp_path / "deleted.mp4")
    assert list_videos([tmp_path]) == [str(tmp_path / "gone.mp4"), str(tmp_path / "pipe.mp4")]  # reported, not hidden
    with pytest.raises(OSError, match="pipe.mp4: not a regular file"):
        fingerprint(str(tmp_path / "pipe.mp4"))
    with pytest.raises(OSError, match="gone.mp4: No such file: a broken symlink to .*deleted.mp4"):
        fingerprint(str(tmp_path / "gone.mp4"))
    with pytest.raises(OSError, match="/dev/zero: not a regular file"):
        fingerprint("/dev/zero")  # would read forever
