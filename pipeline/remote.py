"""Output to a cloud URI (``--out s3://bucket/timelines.parquet``): stage locally, upload at the end.

The run itself writes to a local staging folder keyed by the URI, with everything ``fervid.pipeline.output``
promises there (partial folder, ``--resume``). Then the timeline is uploaded, and the videos table LAST, so on
the bucket too a present ``.videos.parquet`` means the timeline beside it is complete.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath

from fervid.errors import FervidError

from .output import first_line, partial_folder
from .schema import videos_path
from .sources import uri_filesystem


def staging_path(uri: str) -> Path:
    """The same local place for the same URI, so an interrupted upload or run can be resumed on this machine."""
    folder = Path(tempfile.gettempdir()) / "fervid-staging" / hashlib.sha256(uri.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    return folder / PurePosixPath(uri).name


def analyze_to_uri(uri: str, run: Callable, config) -> object:
    """``run(local_out, config)`` into the staging path, then upload both tables to ``uri``."""
    import pyarrow.fs as pafs

    filesystem, remote = uri_filesystem(uri)
    remote_videos = str(videos_path(PurePosixPath(remote)))
    try:
        found = [info.type != pafs.FileType.NotFound for info in filesystem.get_file_info([remote, remote_videos])]
    except OSError as error:
        raise FervidError(f"{uri}: cannot look there ({first_line(error)})") from None
    if any(found) and not (config.resume or config.overwrite):
        raise FervidError(f"{uri} exists; pass --overwrite to replace it, or --resume to keep its finished videos")
    _check_writable(filesystem, remote, uri)
    local = staging_path(uri)
    local_videos = videos_path(local)
    partial_here = partial_folder(local).exists()
    if config.resume and found[1] and not partial_here:  # resume from the complete output on the bucket
        for source, target in ((remote, local), (remote_videos, local_videos)):
            pafs.copy_files(source, str(target), source_filesystem=filesystem)
    elif not config.resume:
        for stale in (local, local_videos):  # an earlier upload's leftovers, never the user's files
            stale.unlink(missing_ok=True)
        shutil.rmtree(partial_folder(local), ignore_errors=True)
    summary = run(local, replace(config, overwrite=False))
    try:
        if found[1]:
            filesystem.delete_file(remote_videos)  # from here on the old output no longer looks complete
        pafs.copy_files(str(local), remote, destination_filesystem=filesystem)
        pafs.copy_files(str(local_videos), remote_videos, destination_filesystem=filesystem)
    except OSError as error:  # the videos table goes last, so what did reach the bucket does not look complete
        raise FervidError(f"{uri}: the upload failed ({first_line(error)}); the finished output waits in {local} "
                          "and its videos table: run again with --resume to upload it") from None
    local.unlink()
    local_videos.unlink()
    return replace(summary, out=uri, videos_out=uri[: -len(".parquet")] + ".videos.parquet")


def _check_writable(filesystem, remote: str, uri: str) -> None:
    """Write and delete a marker beside the output before any work: a bucket that refuses writes (a policy, a
    read-only key, no such bucket) is one line now, not after hours of analysis."""
    marker = str(PurePosixPath(remote).with_name(f".{PurePosixPath(remote).name}.fervid-write-check"))
    try:
        with filesystem.open_output_stream(marker) as stream:
            stream.write(b"fervid checks it may write here; delete me if a run left me behind\n")
        filesystem.delete_file(marker)
    except OSError as error:
        raise FervidError(f"{uri}: cannot write there ({first_line(error)}); check the bucket, its policy and the "
                          "credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE...)") from None
