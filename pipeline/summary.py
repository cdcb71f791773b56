"""From timelines to answers: per track and per video, how long a face was seen and what it showed, and when.

    prepared = prepare(read_timelines("t.parquet"), window_s=0.5)   # track ids + smoothed probabilities
    track_summary(prepared)    # one row per face track: seconds seen, dominant emotion, share of time per emotion
    video_summary(prepared)    # the same per video, over its faces with enough evidence
    emotion_segments(prepared) # runs of one (smoothed) emotion per track: start_s, end_s, emotion, confidence

Time: each row stands for one analysed-frame step of its video (``tables.frame_step_s``), so "seconds" is time a
face was actually seen (gaps inside a track do not count) and shares are shares of that time. All emotion
figures use the smoothed emotion (``emotion_smooth``); ``window_s=0`` makes it the raw argmax.

Answers need evidence (``Evidence``): a track seen too briefly gets no ``dominant`` but a ``no_answer`` reason,
and a video's answer and shares weigh only its tracks with enough evidence, so two false detections on a title
card do not make it "sad".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fervid.errors import FervidError

from .detect import SMALL_FACE_PX
from .schema import EMOTION_COLUMNS, SMOOTH_COLUMNS, STATUS_ERROR
from .smooth import CONFIDENCE_SMOOTH, EMOTION_SMOOTH, smooth
from .tables import frame_step_s, one_copy_per_video, require_columns
from .tracks import TRACK_COLUMN, TrackConfig, assign_tracks, ensure_tracks

SHARE_COLUMNS: tuple[str, ...] = tuple(f"share_{name}" for name in EMOTION_COLUMNS)
SUMMARY_FORMATS = (".csv", ".parquet")


def prepare(timelines: pd.DataFrame, window_s: float = 0.5, tracks: TrackConfig | None = None) -> pd.DataFrame:
    """Track ids and smoothed probabilities: the input every summary and plot expects.

    ``tracks=None`` keeps the ids ``fervid analyze`` wrote (computing default ones for a table without them); a
    ``TrackConfig`` links the faces again with those settings, so ``--max-gap`` means the same on any table.
    """
    timelines = one_copy_per_video(timelines)
    tracked = ensure_tracks(timelines) if tracks is None else assign_tracks(timelines, tracks)
    return smooth(tracked, window_s)


@dataclass(frozen=True)
class Evidence:
    """How much of a face a track needs behind it before fervid answers for it (and a video, through its tracks).

    Measured on the sample and dev clips (docs/accuracy.md, "Answers need evidence"): every track of a face in view
    was seen for 0.67 s or more, while the title card's two false detections lasted 0.08 s and the stage clip's fragments
    (faces half turned or passing) 0.03-0.40 s. A detector-score floor does not separate them: the false
    detections scored 0.52-0.54, within the range of real faces' lowest scores (0.50-0.55 in half the dev clips).
    """

    min_seconds: float = 0.5  # a track seen this long answers (the default smoothing window and track gap)
    # ... or one seen in at least this share of its video's duration: a photo, or a clip shorter than min_seconds
    min_share: float = 0.5

    def __post_init__(self):
        if not self.min_seconds >= 0 or not 0 <= self.min_share <= 1:
            raise FervidError(f"an answer's evidence is a time seen of 0 s or more (--min-seen) and a share of the "
                              f"video in 0..1; received {self.min_seconds} s, {self.min_share}")

    def reason(self, seconds: float, share: float) -> str | None:
        """Why a face seen ``seconds`` (``share`` of its video) gets no answer, or None when it gets one."""
        if seconds >= self.min_seconds or share >= self.min_share:
            return None
        return (f"seen {seconds:.2f} s ({share:.1%} of the video); an answer needs {self.min_seconds:g} s or "
                f"{self.min_share:.0%}")


def _with_seconds(prepared: pd.DataFrame, videos: pd.DataFrame | None) -> pd.DataFrame:
    """The rows with ``row_s`` (seconds each stands for) and ``video_s`` (its video's duration: from the videos
    table, else up to the last row's end)."""
    require_columns(prepared, ("video_id", "video_path", TRACK_COLUMN, "timestamp_s", EMOTION_SMOOTH,
                               CONFIDENCE_SMOOTH), "the prepared timelines (call prepare() first)")
    steps = frame_step_s(prepared, videos)
    rows = prepared.assign(row_s=prepared["video_id"].map(steps).fillna(0.0).astype(np.float64))
    seen_until = (rows["timestamp_s"] + rows["row_s"]).groupby(rows["video_id"]).max()
    if videos is not None and "duration_s" in videos:
        # Copies of a file share one video_id and one duration (``one_copy_per_video``).
        durations = videos.dropna(subset=["video_id"]).drop_duplicates("video_id").set_index("video_id")["duration_s"]
        durations = durations.dropna()
        seen_until = durations.reindex(seen_until.index).fillna(seen_until)
    return rows.assign(video_s=rows["video_id"].map(seen_until).astype(np.float64))


def _track_evidence(rows: pd.DataFrame, evidence: Evidence) -> pd.Series:
    """``no_answer`` per (video_id, track_id): the reason a track gets no answer, or None."""
    seen = rows.groupby(["video_id", TRACK_COLUMN]).agg(seconds=("row_s", "sum"), video_s=("video_s", "first"))
    shares = seen["seconds"] / seen["video_s"].where(seen["video_s"] > 0)
    return pd.Series([evidence.reason(s, share) for s, share in zip(seen["seconds"], shares.fillna(1.0))],
                     index=seen.index, name="no_answer", dtype=object)


def _answering_rows(rows: pd.DataFrame, evidence: Evidence) -> pd.DataFrame:
    """The rows of tracks with enough evidence: what a video's answer and shares weigh."""
    reasons = _track_evidence(rows, evidence)
    keep = pd.MultiIndex.from_frame(rows[["video_id", TRACK_COLUMN]]).isin(reasons.index[reasons.isna()])
    return rows[keep]


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
    if scores.empty:  # idxmax of no rows would lose the index, and joins on it would fail
        return pd.Series(index=scores.index, dtype=object, name="dominant")
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


def video_verdicts(prepared: pd.DataFrame, videos: pd.DataFrame | None = None, method: str = DEFAULT_ANSWER,
                   faces: str = DEFAULT_ANSWER_FACES, evidence: Evidence = Evidence()) -> pd.DataFrame:
    """Per video_id with faces: ``dominant`` (None without enough evidence) and ``no_answer`` (why, else None).

    The one place summaries, ``fervid evaluate --videos`` and notebooks get a video's answer from. Only tracks with
    enough evidence vote. Evidence grows with the time a track was seen, so a video has an answer exactly when its
    longest-seen track has one, and otherwise that track's reason is the video's.
    """
    if faces not in ANSWER_FACES:
        raise FervidError(f"unknown answer faces {faces!r}; expected one of {', '.join(ANSWER_FACES)}")
    rows = _with_seconds(prepared, videos)
    answering = _answering_rows(rows, evidence)
    if faces == "main":
        answering = main_faces(answering)
    seen = rows.groupby(["video_id", TRACK_COLUMN])["row_s"].sum().sort_values(ascending=False, kind="stable")
    longest = seen.reset_index().drop_duplicates("video_id").set_index(["video_id", TRACK_COLUMN]).index
    no_answer = _track_evidence(rows, evidence).loc[longest].droplevel(TRACK_COLUMN)
    dominant = _dominant(answer_scores(answering, ["video_id"], method)).reindex(no_answer.index)
    return pd.DataFrame({"dominant": dominant, "no_answer": no_answer}).astype(object).where(
        lambda table: table.notna(), None)


def video_answers(prepared: pd.DataFrame, videos: pd.DataFrame | None = None, method: str = DEFAULT_ANSWER,
                  faces: str = DEFAULT_ANSWER_FACES, evidence: Evidence = Evidence()) -> pd.Series:
    """Each video's answer (``dominant``; None without enough evidence), indexed by video_id (``video_verdicts``)."""
    return video_verdicts(prepared, videos, method, faces, evidence)["dominant"]


def track_summary(prepared: pd.DataFrame, videos: pd.DataFrame | None = None, method: str = DEFAULT_ANSWER,
                  evidence: Evidence = Evidence()) -> pd.DataFrame:
    """One row per (video_id, track_id): first_s, last_s, frames, seconds, dominant (None without enough
    evidence), no_answer (why, else None), mean_confidence, shares."""
    rows = _with_seconds(prepared, videos)
    keys = ["video_id", TRACK_COLUMN]
    basics = rows.groupby(keys).agg(video_path=("video_path", "first"), first_s=("timestamp_s", "min"),
                                    last_s=("timestamp_s", "max"), frames=("timestamp_s", "size"),
                                    seconds=("row_s", "sum"), mean_confidence=(CONFIDENCE_SMOOTH, "mean"))
    reasons = _track_evidence(rows, evidence)
    dominant = _dominant(answer_scores(rows, keys, method)).astype(object).where(reasons.isna(), None)
    table = basics.join(dominant).join(reasons)
    return table[[*basics.columns, "dominant", "no_answer"]].join(_shares(rows, keys)).reset_index()


def video_summary(prepared: pd.DataFrame, videos: pd.DataFrame | None = None, method: str = DEFAULT_ANSWER,
                  faces: str = DEFAULT_ANSWER_FACES, evidence: Evidence = Evidence()) -> pd.DataFrame:
    """One row per video with faces: tracks, face_seconds (summed over tracks), small_faces (the share of its face
    rows whose box is under ``SMALL_FACE_PX`` high: above 0.5, its answers rest mostly on small crops; NaN for rows
    without boxes), dominant and no_answer (``video_verdicts``), and shares over the tracks with enough evidence
    (NaN when none has)."""
    rows = _with_seconds(prepared, videos)
    rows = rows.assign(small=rows["h"] < SMALL_FACE_PX if "h" in rows else np.nan)
    basics = rows.groupby("video_id").agg(video_path=("video_path", "first"), tracks=(TRACK_COLUMN, "nunique"),
                                          face_seconds=("row_s", "sum"), small_faces=("small", "mean"))
    verdicts = video_verdicts(prepared, videos, method, faces, evidence)
    return basics.join(verdicts).join(_shares(_answering_rows(rows, evidence), ["video_id"])).reset_index()


def every_video_summary(prepared: pd.DataFrame, videos: pd.DataFrame | None = None,
                        evidence: Evidence = Evidence()) -> pd.DataFrame:
    """``video_summary``, plus with the videos table one row per video it lists without faces in the timelines (no
    face found, or not analysed): no answer, ``no_answer`` says why; so the rows count the videos of the run (copies
    of a file count once). What ``summary.videos.csv`` holds."""
    table = video_summary(prepared, videos, evidence=evidence)
    if videos is None or "video_path" not in videos:  # no videos table (a filtered copy), or a partial one
        return table
    faceless = _faceless(videos, set(table["video_id"]))
    return pd.concat([table, faceless.reindex(columns=table.columns)], ignore_index=True) if len(faceless) else table


def _faceless(videos: pd.DataFrame, with_faces: set) -> pd.DataFrame:
    """Rows (video_id, video_path, tracks 0, face_seconds 0, no_answer) for the videos of the videos table that have
    no face rows: one per video_id (the first path, as ``one_copy_per_video``), and each failed file by its path."""
    missing = videos[~videos["video_id"].isin(with_faces)].sort_values("video_path", kind="stable")
    missing = missing[missing["video_id"].isna() | ~missing.duplicated("video_id")]
    failed = missing.get("status", pd.Series("ok", index=missing.index)) == STATUS_ERROR
    errors = missing.get("error", pd.Series("", index=missing.index)).fillna("").astype(str)
    analysed = missing.get("frames_analyzed", pd.Series(0, index=missing.index)).fillna(0).astype(int).astype(str)
    reasons = np.where(failed, "not analysed: " + errors, "no face found in its " + analysed + " analysed frames")
    return pd.DataFrame({"video_id": missing["video_id"], "video_path": missing["video_path"], "tracks": 0,
                         "face_seconds": 0.0, "dominant": None, "no_answer": reasons}).reset_index(drop=True)


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


def write_summary(prepared: pd.DataFrame, out: str | os.PathLike, videos: pd.DataFrame | None = None,
                  evidence: Evidence = Evidence()) -> dict[str, pd.DataFrame]:
    """Write the three tables to ``summary_paths(out)`` (CSV or Parquet by extension); return them."""
    paths = summary_paths(out)
    if not paths["tracks"].parent.is_dir():
        raise FervidError(f"{paths['tracks'].parent}: the output folder does not exist")
    tables = {"tracks": track_summary(prepared, videos, evidence=evidence),
              "segments": emotion_segments(prepared, videos),
              "videos": every_video_summary(prepared, videos, evidence=evidence)}
    for name, table in tables.items():
        if paths[name].suffix == ".csv":
            table.to_csv(paths[name], index=False, float_format="%.4f")
        else:
            table.to_parquet(paths[name], index=False)
    return tables
