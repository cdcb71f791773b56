"""Writing the two tables so that nothing incomplete ever looks complete, and so a run can be resumed.

While a run works, each finished video goes to the hidden folder ``.OUT.partial/`` beside ``OUT``: its timeline
rows as ``<key>.parquet``, then its videos row as ``<key>.json`` (renamed into place, so a ``.json`` means that
video is done). At the end the timeline is streamed into ``OUT`` and the videos table into ``OUT.videos``, each
written to the partial folder and renamed into place, the videos table LAST; then the folder is removed.

So: ``OUT.videos.parquet`` present = ``OUT.parquet`` is complete and belongs to it. An overwrite deletes the old
videos table first. ``--resume`` keeps the ok videos of the partial folder (or of a complete output, which it
unpacks into a partial folder first) when they were made with the same settings, and analyses the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fervid.errors import FervidError

from .schema import STATUSES_WITH_ROWS, VIDEOS_SCHEMA, timeline_schema, videos_path
from .timeline import FinishedVideo, videos_table

ROW_GROUP_ROWS = 65_536  # timeline rows per Parquet row group (about 6 MB): whole videos, so a group may hold more
SETTINGS_KEY = b"fervid.settings"  # Parquet metadata key: the settings that made the rows (for --resume)
ENGINE_KEY = b"fervid.engine"  # the classifier engine that ran (what "auto" became), when this run classified


def _key(video_path: str) -> str:
    return hashlib.sha256(video_path.encode()).hexdigest()[:20]


def _replace_atomically(write, target: Path) -> None:
    """``write(temporary_path)`` then rename over ``target``: readers see the old file or the new, never half. A
    write that fails (a full disk, a file-size limit) leaves no temporary behind."""
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        write(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def partial_folder(out: Path) -> Path:
    """The hidden folder beside ``OUT`` where a run keeps its finished videos until the output is complete."""
    return out.with_name(f".{out.name}.partial")


def first_line(error: BaseException) -> str:
    """The first non-empty line of an error's message (pyarrow's run to several), else its type's name."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def _reason(error: OSError) -> str:
    """"No space left on device" from an OSError, also from pyarrow's ("Error writing bytes to file. Detail: [errno
    28] No space left on device"), else the error's first line."""
    number = error.errno or next(map(int, re.findall(r"\[errno (\d+)\]", str(error))), None)
    return os.strerror(number) if number else first_line(error)


class PartialOutput:
    def __init__(self, out: str | os.PathLike, settings: dict, *, resume: bool, overwrite: bool):
        self.out = Path(out).absolute()
        self.videos_out = videos_path(self.out)
        self.folder = partial_folder(self.out)
        self.settings = settings
        self.engine: str | None = None  # set by the job once it knows which engine its actors run
        self.schema = timeline_schema(settings.get("smooth_s", 0.0))
        if not self.out.name.endswith(".parquet"):
            raise FervidError(f"{out}: the output name must end in .parquet")
        if not self.out.parent.is_dir():
            raise FervidError(f"{self.out.parent}: the output folder does not exist")
        existing = [p for p in (self.out, self.videos_out, self.folder) if p.exists()]
        if existing and not (resume or overwrite):
            raise FervidError(f"{existing[0]} exists; pass --overwrite to replace it, or --resume to keep its "
                              "finished videos and analyse the rest")
        if overwrite:
            shutil.rmtree(self.folder, ignore_errors=True)
        elif resume and self.folder.exists():
            saved = self.folder / "settings.json"  # absent only if a run died in its first instant
            self._check_settings(json.loads(saved.read_text()) if saved.exists() else {}, self.folder)
        elif resume and self.videos_out.exists():
            self._unpack_complete_output()
        self.created = not self.folder.exists()  # by this run: abandon() may remove it
        self.folder.mkdir(exist_ok=True)
        (self.folder / "settings.json").write_text(json.dumps(settings, indent=2))

    def abandon(self) -> None:
        """For a run that ends before it saved any video (a cluster that refused it, Ctrl-C during start-up): remove
        the partial folder it made, so the next run starts without --overwrite; a folder with videos stays."""
        if self.created and all(p.name == "settings.json" for p in self.folder.iterdir()):
            shutil.rmtree(self.folder, ignore_errors=True)

    def _check_settings(self, found: dict, where: Path) -> None:
        # A setting that an older output lacks counts as null: settings are added with null meaning "as before"
        # (detect_interval_s is null with --detect-every K, and absent from outputs made when every frame was).
        changed = [key for key in sorted(set(found) | set(self.settings)) if found.get(key) != self.settings.get(key)]
        if changed:
            # Both values, so that a user can repeat the options that made the rows.
            differences = "; ".join(f"{key}: {json.dumps(found.get(key))} there, "
                                    f"{json.dumps(self.settings.get(key))} now" for key in changed)
            raise FervidError(f"{where} was made with other settings ({differences}); run with the options that "
                              "made it, or pass --overwrite to start again")

    def _unpack_complete_output(self) -> None:
        """A complete output becomes a partial folder, so one code path serves both kinds of resume."""
        metadata = pq.read_schema(self.videos_out).metadata or {}
        self._check_settings(json.loads(metadata.get(SETTINGS_KEY, b"{}")), self.videos_out)
        self.folder.mkdir()
        timeline = pq.read_table(self.out, schema=self.schema)
        # Sorted by path once (stable: each video's rows keep their order), then sliced: one pass, where a filter per
        # video read the whole timeline once per video (10,000 clips: 10,000 passes).
        timeline = timeline.take(pc.sort_indices(timeline, [("video_path", "ascending")]))
        paths = timeline["video_path"].to_numpy(zero_copy_only=False)
        for row in pq.read_table(self.videos_out, schema=VIDEOS_SCHEMA).to_pylist():
            first, last = np.searchsorted(paths, row["video_path"], "left"), np.searchsorted(paths, row["video_path"],
                                                                                              "right")
            self.save(FinishedVideo(row["video_path"], timeline.slice(first, last - first), row))

    def done(self) -> set[str]:
        """Paths of videos finished with these settings, ok or partial (failed ones are tried again; a damaged
        file would only be damaged again)."""
        rows = [json.loads(p.read_text()) for p in self.folder.glob("*.json") if p.name != "settings.json"]
        return {row["video_path"] for row in rows if row["status"] in STATUSES_WITH_ROWS}

    def save(self, video: FinishedVideo) -> None:
        key = _key(video.path)
        try:
            _replace_atomically(lambda p: pq.write_table(video.timeline, p), self.folder / f"{key}.parquet")
            _replace_atomically(lambda p: p.write_text(json.dumps(video.row)), self.folder / f"{key}.json")
        except OSError as error:  # the videos saved before stay: a .json is written only after its rows
            raise FervidError(f"{self.out}: cannot save a finished video in {self.folder} ({_reason(error)}); "
                              "make room and run again with --resume to keep the videos saved so far") from None

    def finish(self, video_paths: Sequence[str]) -> pa.Table:
        """Move the rows of ``video_paths`` (every one must be saved) into place; returns the videos table."""
        rows = [json.loads((self.folder / f"{_key(path)}.json").read_text()) for path in sorted(video_paths)]
        metadata = {SETTINGS_KEY: json.dumps(self.settings).encode()}
        if self.engine:
            metadata[ENGINE_KEY] = self.engine.encode()

        def write_timeline(target: Path) -> None:
            # Videos gathered into row groups of about ROW_GROUP_ROWS rows: memory stays at one group however many
            # videos there are, and 10,000 short clips make a few dozen row groups, not 10,000 (each with its own
            # footer entry per column, read by every reader).
            with pq.ParquetWriter(target, self.schema.with_metadata(metadata)) as writer:
                group, size = [], 0
                for row in rows:
                    group.append(pq.read_table(self.folder / f"{_key(row['video_path'])}.parquet", schema=self.schema))
                    size += group[-1].num_rows
                    if size >= ROW_GROUP_ROWS:
                        writer.write_table(pa.concat_tables(group), row_group_size=size)
                        group, size = [], 0
                if group:
                    writer.write_table(pa.concat_tables(group), row_group_size=max(1, size))

        videos = videos_table(rows).replace_schema_metadata(metadata)
        self.videos_out.unlink(missing_ok=True)  # from here on the old output no longer looks complete
        try:
            _replace_atomically(write_timeline, self.out)
            _replace_atomically(lambda p: pq.write_table(videos, p), self.videos_out)
        except OSError as error:  # no videos table, so nothing looks complete; the partial folder keeps every video
            self.videos_out.unlink(missing_ok=True)
            raise FervidError(f"{self.out}: cannot write it ({_reason(error)}); every finished video is kept in "
                              f"{self.folder}: make room and run again with --resume to write the output") from None
        shutil.rmtree(self.folder)
        return videos
