"""Reading the timelines and videos tables back for analysis, with errors a user can act on.

Every "timelines -> answers" function (tracks, smoothing, summaries, plots, annotation) takes a pandas DataFrame
with the ``TIMELINE_SCHEMA`` columns; this module is the one place that loads it from disk and checks it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from fervid.errors import FervidError

from .schema import DETECTED_COLUMN, TIMELINE_SCHEMA, TRACK_COLUMN, videos_path

# Required of any timelines table; track ids are computed (fervid.pipeline.tracks) when a table lacks them, and
# nothing downstream needs ``detected``, which timelines written before it existed lack.
TIMELINE_COLUMNS: tuple[str, ...] = tuple(name for name in TIMELINE_SCHEMA.names
                                          if name not in (TRACK_COLUMN, DETECTED_COLUMN))


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str = "the timelines table") -> None:
    """Raise a FervidError naming every missing column, so a wrong file fails at once and not deep in a groupby."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise FervidError(f"{what} lacks the column(s) {', '.join(missing)}; received columns "
                          f"{', '.join(map(str, frame.columns)) or '(none)'}")


def read_timelines(path: str | os.PathLike) -> pd.DataFrame:
    """A timelines Parquet file (written by ``fervid analyze``) as a DataFrame, checked for the schema's columns."""
    path = Path(path)
    if not path.is_file():
        raise FervidError(f"{path}: no such timelines file (make one with `fervid analyze ... --out {path.name}`)")
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a file that is not Parquet
        raise FervidError(f"{path}: not a readable Parquet file ({error})") from error
    require_columns(frame, TIMELINE_COLUMNS, f"{path}")
    return frame


def read_videos(timelines_path: str | os.PathLike) -> pd.DataFrame | None:
    """The videos table beside a timelines file, or None when there is none (e.g. a filtered copy)."""
    path = videos_path(timelines_path)
    return pd.read_parquet(path) if path.is_file() else None


def one_copy_per_video(timelines: pd.DataFrame) -> pd.DataFrame:
    """The rows of one path per ``video_id``. Copies of a file share its id (a content hash) and get the same rows, so
    the summaries, keyed by ``video_id``, count the video once (the first path in sort order stands for it)."""
    first_path = timelines.groupby("video_id")["video_path"].transform("min")
    return timelines[timelines["video_path"] == first_path]


def frame_step_s(timelines: pd.DataFrame, videos: pd.DataFrame | None = None) -> pd.Series:
    """Seconds each timeline row stands for, per video_id: the spacing of analysed frames.

    From the videos table when given (duration / frames analysed: right for every frame and for ``--fps``
    sampling alike); otherwise the median spacing of the frames that have faces, which equals the analysed
    spacing wherever faces are mostly present. A video with a single analysed frame gets 0.
    """
    steps: dict[str, float] = {}
    for video_id, times in timelines.groupby("video_id", sort=False)["timestamp_s"]:
        gaps = np.diff(np.unique(times.to_numpy()))
        steps[video_id] = float(np.median(gaps)) if len(gaps) else 0.0
    if videos is not None:
        known = videos.dropna(subset=["video_id"])
        known = known[known["frames_analyzed"] > 0]
        for video_id, duration, analysed in zip(known["video_id"], known["duration_s"], known["frames_analyzed"]):
            if video_id in steps:
                steps[video_id] = float(duration) / int(analysed)
    return pd.Series(steps, name="frame_step_s", dtype="float64")


def select_video(timelines: pd.DataFrame, video: str | None) -> pd.DataFrame:
    """The rows of one video, chosen by video_id, full video_path or file name; ``None`` when there is one video.

    Raises a FervidError listing the videos present when the choice is missing or ambiguous.
    """
    require_columns(timelines, ("video_id", "video_path"))
    if video is None:
        matches, wanted = timelines, "pass one of them"
    else:
        names = timelines["video_path"].map(lambda path: Path(str(path)).name)
        matches = timelines[(timelines["video_id"] == video) | (timelines["video_path"] == video) | (names == video)]
        wanted = f"{video!r} matches {matches['video_id'].nunique() or 'none'} of them"
    if matches["video_id"].nunique() == 1 or (video is None and len(matches) == 0):
        return matches
    present = timelines.drop_duplicates("video_id")
    listing = "; ".join(f"{row.video_id} ({row.video_path})" for row in present.itertuples())
    raise FervidError(f"the timelines hold {len(present)} video(s), {wanted}: {listing}")
