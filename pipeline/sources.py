"""Finding videos: local files and folders (recursive), or URIs that pyarrow's filesystems reach (s3://, gs://,
hdfs://, file://...), plus a content fingerprint (``video_id``) and a local copy for decoders that need a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from fervid.errors import FervidError

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".gif"})
FINGERPRINT_BYTES = 64 * 1024  # read from each end of the file: cheap even for hours of video on S3


def is_uri(path: str) -> bool:
    return "://" in path


def uri_filesystem(uri: str):
    """``(pyarrow filesystem, path inside it)`` for a URI, or a one-line error naming it."""
    import pyarrow.fs

    try:
        return pyarrow.fs.FileSystem.from_uri(uri)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowNotImplementedError, OSError) as error:
        raise FervidError(f"{uri}: cannot reach this location ({error})") from None


def _is_video(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def _list_uri(uri: str) -> list[str]:
    import pyarrow.fs

    filesystem, root = uri_filesystem(uri)
    scheme = uri.split("://", 1)[0]
    info = filesystem.get_file_info(root)
    if info.type == pyarrow.fs.FileType.NotFound:
        raise FervidError(f"{uri}: no such file or folder")
    if info.type == pyarrow.fs.FileType.File:
        return [uri]
    found = filesystem.get_file_info(pyarrow.fs.FileSelector(root, recursive=True))
    # A local path from from_uri() starts with "/", so file:// + "/a/b" gives back the usual file:///a/b.
    return [f"{scheme}://{f.path}" for f in found if f.type == pyarrow.fs.FileType.File and _is_video(f.path)]


def _walk_files(folder: Path) -> Iterator[Path]:
    """Every non-folder entry under ``folder``. Symlinked folders are followed (a link to a video library must
    not be skipped silently, as ``Path.rglob`` does), but each real folder is entered once, so a link to itself
    or a parent cannot loop; a folder that cannot be listed is an error, not a silent gap in the output."""

    def refuse(error: OSError) -> None:
        raise FervidError(f"{error.filename}: cannot list this folder ({error.strerror})")

    seen: set[str] = set()
    for root, folders, files in os.walk(folder, followlinks=True, onerror=refuse):
        real = os.path.realpath(root)
        if real in seen:
            folders[:] = []  # already listed under another path: do not descend again
            continue
        seen.add(real)
        folders.sort()  # a folder reached twice is listed under the path that sorts first
        yield from (Path(root, name) for name in files)


def _list_local(path: str) -> list[str]:
    # Absolute and normalized once, here: the same file named from two working folders, or through "x/../", gets
    # one video_path (a "..": the folder above, as written, as Python's os.path.abspath reads it).
    local = Path(os.path.abspath(Path(path).expanduser()))
    if local.is_dir():
        # Dangling symlinks and FIFOs are listed too: their rows in the videos table say what is wrong.
        return [str(p) for p in _walk_files(local) if _is_video(p.name)]
    if local.exists() or local.is_symlink():
        # A file named explicitly is taken whatever its extension: the user asked for it, and if it is no
        # video its row in the videos table says so.
        return [str(local)]
    raise FervidError(f"{path}: no such file or folder")


def list_videos(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Every video under ``paths`` (files, folders searched recursively, URIs), sorted, each once."""
    if not paths:
        raise FervidError("no input given; pass one or more video files or folders")
    found: set[str] = set()
    for path in map(str, paths):
        videos = _list_uri(path) if is_uri(path) else _list_local(path)
        if not videos:
            raise FervidError(f"{path}: no videos found (looked for {', '.join(sorted(VIDEO_EXTENSIONS))})")
        found.update(videos)
    return sorted(found)


@contextlib.contextmanager
def open_binary(path: str) -> Iterator:
    """A seekable binary file for a local path or a URI."""
    if is_uri(path):
        filesystem, inner = uri_filesystem(path)
        with filesystem.open_input_file(inner) as handle:
            yield handle
    else:
        check_regular_file(path)
        with open(path, "rb") as handle:
            yield handle


def check_regular_file(path: str) -> None:
    """Raise ``OSError`` naming ``path`` unless it is a regular file (or a symlink to one): ``open()`` on a FIFO
    blocks until someone writes to it, and a device such as /dev/zero never ends, so either would hang a task."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileNotFoundError(f"{path}: No such file: a broken symlink to {os.readlink(path)}") from None
        raise FileNotFoundError(f"{path}: No such file (deleted after it was listed?)") from None
    if not stat.S_ISREG(mode):
        raise OSError(f"{path}: not a regular file (a folder, FIFO, socket or device), so not a video file")


def fingerprint(path: str) -> str:
    """16 hex digits from the size and the first and last 64 KiB: stable across renames, copies and machines.

    Raises OSError when the file cannot be read.
    """
    with open_binary(path) as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(0)
        head = handle.read(FINGERPRINT_BYTES)
        handle.seek(max(0, size - FINGERPRINT_BYTES))
        tail = handle.read(FINGERPRINT_BYTES)
    digest = hashlib.sha256(str(size).encode() + b"\0" + head + tail)
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def local_file(path: str) -> Iterator[str]:
    """A local path to decode: the file itself, or for a URI a temporary copy deleted afterwards."""
    if not is_uri(path):
        yield path
        return
    suffix = Path(path.split("?", 1)[0]).suffix  # OpenCV picks the demuxer partly by extension
    with tempfile.TemporaryDirectory(prefix="fervid-") as folder:
        copy = os.path.join(folder, f"video{suffix}")
        filesystem, inner = uri_filesystem(path)
        with filesystem.open_input_stream(inner) as source, open(copy, "wb") as target:
            shutil.copyfileobj(source, target, length=8 * 1024 * 1024)
        yield copy
