"""From timelines to answers: per track and per video, how long a face was seen and what it showed, and when.

    prepared = prepare(read_timelines("t.parquet"), window_s=0.5)   # track ids + smoothed probabilities
    track_summary(prepared)    # one row per face track: seconds seen, dominant emotion, share of time per emotion
    video_summary(prepared)    # the same per video, over all its faces
    emotion_segments(prepared) # runs of one (smoothed) emotion per track: start_s, end_s, emotion, confidence

Time: each row stands for one analysed-frame step of its video (``tables.frame_step_s``), so "seconds" is time a
face was actually seen (gaps inside a track do not count) and shares are shares of that time. All emotion
figures use the smoothed emotion (``emotion_smooth``); ``window_s=0`` makes it the raw argmax.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from fervid.errors import FervidError

from .schema import EMOTION_COLUMNS, SMOOTH_COLUMNS
from .smooth import CONFIDENCE_SMOOTH, EMOTION_SMOOTH, smooth
from .tables import frame_step_s, require_columns
from .tracks import TRACK_COLUMN, TrackConfig, assign_tracks, ensure_tracks

SHARE_COLUMNS: tuple[str, ...] = tuple(f"share_{name}" for name in EMOTION_COLUMNS)
SUMMARY_FORMATS = (".csv", ".parquet")


def prepare(timelines: pd.DataFrame, window_s: float = 0.5, tracks: TrackConfig | None = None) -> pd.DataFrame:
    """Track ids and smoothed probabilities: the input every summary and plot expects.

    ``tracks=None`` keeps the ids ``fervid analyze`` wrote (computing default ones for a table without them); a
    ``TrackConfig`` links the faces again with those settings, so ``--max-gap`` means the same on any table.
    """
    tracked = ensure_tracks(timelines) if tracks is None else assign_tracks(timelines, tracks)
    return smooth(tracked, window_s)


def _with_seconds(prepared: pd.DataFrame, videos: pd.DataFrame | None) -> pd.DataFrame:
    require_columns(prepared, ("video_id", "video_path", TRACK_COLUMN, "timestamp_s", EMOTION_SMOOTH,
                               CONFIDENCE_SMOOTH), "the prepared timelines (call prepare() first)")
    steps = frame_step_s(prepared, videos)
    return prepared.assign(row_s=prepared["video_id"].map(steps).fillna(0.0).astype(np.float64))


def _shares(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Share of seen time per smoothed emotion (columns ``share_<emotion>``), per ``keys``."""
    counts = pd.crosstab([rows[key] for key in keys], rows[EMOTION_SMOOTH])
    counts = counts.reindex(columns=list(EMOTION_COLUMNS), fill_value=0)
    return counts.div(counts.sum(axis=1), axis=0).set_axis(list(SHARE_COLUMNS), axis=1)


# How the frames of a track (or of a video) become one answer, the ``dominant`` emotion; see answer_scores.
ANSWER_METHODS = ("share", "mean", "log-mean")
DEFAULT_ANSWER = "share"
# Which faces of a video its answer weighs: every face, or only its main face (the track seen longest).
ANSWER_FACES = ("all", "main")
DEFAULT_ANSWER_FACES = "all"
_FLOOR = 1e-6  # keeps log(0) out of log-mean: a model never rules an emotion out completely


def answer_scores(rows: pd.DataFrame, keys: list[str], method: str = DEFAULT_ANSWER) -> pd.DataFrame:
    """One score per emotion (columns in label order) per ``keys``; the answer is the highest.

    - ``share``: the share of frames whose smoothed emotion it is (a vote per frame);
    - ``mean``: the mean smoothed probability (a frame that is nearly a tie counts as nearly a tie);
    - ``log-mean``: the mean log smoothed probability (a geometric mean: frames that rule an emotion out weigh
      against it).
    """
    if method not in ANSWER_METHODS:
        raise FervidError(f"unknown answer method {method!r}; expected one of {', '.join(ANSWER_METHODS)}")
    if method == "share":
        return _shares(rows, keys).set_axis(list(EMOTION_COLUMNS), axis=1)
    values = rows[list(SMOOTH_COLUMNS)].to_numpy(np.float64)
    if method == "log-mean":
        values = np.log(np.maximum(values, _FLOOR))
    table = pd.DataFrame(values, columns=list(EMOTION_COLUMNS), index=rows.index)
    return table.groupby([rows[key] for key in keys]).mean()


def _dominant(scores: pd.DataFrame) -> pd.Series:
    # idxmax takes the first of equal scores, i.e. the earlier label in the model's order: deterministic.
    return scores.idxmax(axis=1).rename("dominant")


def main_faces(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of each video's main face: its track seen longest (then the larger face, then the lower id)."""
    seen = rows.assign(area=rows["w"].astype(np.float64) * rows["h"]).groupby(["video_id", TRACK_COLUMN]).agg(
        seconds=("row_s", "sum"), area=("area", "mean")).reset_index()
    seen = seen.sort_values(["video_id", "seconds", "area", TRACK_COLUMN], ascending=[True, False, False, True])
    main = seen.drop_duplicates("video_id")
    keep = pd.MultiIndex.from_frame(main[["video_id", TRACK_COLUMN]])
    return rows[pd.MultiIndex.from_frame(rows[["video_id", TRACK_COLUMN]]).isin(keep)]


def video_answers(prepared: pd.DataFrame, videos: pd.DataFrame | None = None, method: str = DEFAULT_ANSWER,
                  faces: str = DEFAULT_ANSWER_FACES) -> pd.Series:
    """Each video's answer (``dominant``), indexed by video_id: the one place summaries, ``fervid evaluate
    --videos`` and notebooks get it from."""
    if faces not in ANSWER_FACES:
        raise FervidError(f"unknown answer faces {faces!r}; expected one of {', '.join(ANSWER_FACES)}")
    rows = _with_seconds(prepared, videos)
    if faces == "main":
        rows = main_faces(rows)
    return _dominant(answer_scores(rows, ["video_id"], method))


def track_summary(prepared: pd.DataFrame, videos: pd.DataFrame | None = None,
                  method: str = DEFAULT_ANSWER) -> pd.DataFrame:
    """One row per (video_id, track_id): first_s, last_s, frames, seconds, dominant, mean_confidence, shares."""
    rows = _with_seconds(prepared, videos)
    keys = ["video_id", TRACK_COLUMN]
    basics = rows.groupby(keys).agg(video_path=("video_path", "first"), first_s=("timestamp_s", "min"),
                                    last_s=("timestamp_s", "max"), frames=("timestamp_s", "size"),
                                    seconds=("row_s", "sum"), mean_confidence=(CONFIDENCE_SMOOTH, "mean"))
    return basics.join(_dominant(answer_scores(rows, keys, method))).join(_shares(rows, keys)).reset_index()


def video_summary(prepared: pd.DataFrame, videos: pd.DataFrame | None = None, method: str = DEFAULT_ANSWER,
                  faces: str = DEFAULT_ANSWER_FACES) -> pd.DataFrame:
    """One row per video with faces: tracks, face_seconds (summed over tracks), dominant (``video_answers``),
    shares over all faces."""
    rows = _with_seconds(prepared, videos)
    basics = rows.groupby("video_id").agg(video_path=("video_path", "first"), tracks=(TRACK_COLUMN, "nunique"),
                                          face_seconds=("row_s", "sum"))
    answers = video_answers(prepared, videos, method, faces)
    return basics.join(answers).join(_shares(rows, ["video_id"])).reset_index()


def emotion_segments(prepared: pd.DataFrame, videos: pd.DataFrame | None = None) -> pd.DataFrame:
    """Runs of one smoothed emotion per track: video_id, track_id, start_s, end_s, emotion, mean_confidence, frames.

    ``end_s`` is the last row's time plus one frame step, so a segment's length is the time it covers.
    """
    rows = _with_seconds(prepared, videos).sort_values(["video_id", TRACK_COLUMN, "timestamp_s"], kind="stable")
    track_key = rows["video_id"].astype(str) + "\0" + rows[TRACK_COLUMN].astype(str)
    changed = (rows[EMOTION_SMOOTH] != rows[EMOTION_SMOOTH].shift()) | (track_key != track_key.shift())
    segments = rows.groupby(changed.cumsum().to_numpy()).agg(
        video_id=("video_id", "first"), track_id=(TRACK_COLUMN, "first"), start_s=("timestamp_s", "first"),
        end_s=("timestamp_s", "last"), row_s=("row_s", "first"), emotion=(EMOTION_SMOOTH, "first"),
        mean_confidence=(CONFIDENCE_SMOOTH, "mean"), frames=("timestamp_s", "size"))
    segments["end_s"] += segments.pop("row_s")
    return segments.astype({TRACK_COLUMN: np.int32}).reset_index(drop=True)


def summary_paths(out: str | os.PathLike) -> dict[str, Path]:
    """``summary.csv`` -> tracks: summary.csv, segments: summary.segments.csv, videos: summary.videos.csv."""
    out = Path(out)
    if out.suffix not in SUMMARY_FORMATS:
        raise FervidError(f"{out}: the summary name must end in {' or '.join(SUMMARY_FORMATS)}")
    stem = out.name[: -len(out.suffix)]
    return {"tracks": out, "segments": out.with_name(f"{stem}.segments{out.suffix}"),
            "videos": out.with_name(f"{stem}.videos{out.suffix}")}


def write_summary(prepared: pd.DataFrame, out: str | os.PathLike,
                  videos: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Write the three tables to ``summary_paths(out)`` (CSV or Parquet by extension); return them."""
    paths = summary_paths(out)
    if not paths["tracks"].parent.is_dir():
        raise FervidError(f"{paths['tracks'].parent}: the output folder does not exist")
    tables = {"tracks": track_summary(prepared, videos), "segments": emotion_segments(prepared, videos),
              "videos": video_summary(prepared, videos)}
    for name, table in tables.items():
        if paths[name].suffix == ".csv":
            table.to_csv(paths[name], index=False, float_format="%.4f")
        else:
            table.to_parquet(paths[name], index=False)
    return tables
