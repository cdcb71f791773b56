"""Driver side: classified rows of many ranges, in any order -> one finished timeline table and videos row per
video, as soon as every range of that video is in.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from .crops import SUMMARY_FACE_INDEX
from .schema import STATUS_ERROR, STATUS_OK, STATUS_PARTIAL, VIDEOS_SCHEMA, timeline_schema
from .smooth import smooth
from .tracks import TrackConfig, assign_tracks


# A video whose frames stop more than this short of its declared length is reported as damaged (status partial).
TRUNCATION_TOLERANCE_S = 0.5
TRUNCATION_TOLERANCE_SHARE = 0.1


@dataclass
class _Pending:
    """What has arrived for one video so far."""

    summaries: dict[int, dict] = field(default_factory=dict)  # range index -> summary
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)  # face rows (with range_index, frame)


@dataclass(frozen=True)
class FinishedVideo:
    path: str
    timeline: pa.Table  # timeline_schema() rows, by frame_index then face_index; empty for a failed video
    row: dict  # VIDEOS_SCHEMA fields


class Collector:
    """Feed it batches from the classifier stage; it hands back each video once all its ranges are in."""

    def __init__(self, smooth_s: float = 0.0, tracks: TrackConfig = TrackConfig()):
        self.pending: dict[str, _Pending] = defaultdict(_Pending)
        self.smooth_s, self.tracks = smooth_s, tracks

    def add(self, batch: dict[str, np.ndarray]) -> list[FinishedVideo]:
        summary_rows = batch["face_index"] == SUMMARY_FACE_INDEX
        for path in np.unique(batch["video_path"][~summary_rows]):
            mine = (batch["video_path"] == path) & ~summary_rows
            self.pending[path].parts.append({key: value[mine] for key, value in batch.items()})
        finished = []
        for i in np.flatnonzero(summary_rows):
            path, summary = batch["video_path"][i], json.loads(batch["summary"][i])
            summary["video_id"] = batch["video_id"][i]
            video = self.pending[path]
            video.summaries[int(batch["range_index"][i])] = summary
            if len(video.summaries) == summary["ranges"]:
                finished.append(finish(path, self.pending.pop(path), self.smooth_s, self.tracks))
        return finished


def finish(path: str, video: _Pending, smooth_s: float = 0.0, tracks: TrackConfig = TrackConfig()) -> FinishedVideo:
    """Offset frame numbers by the frames of earlier ranges; link faces into tracks (and smooth them when asked);
    count; one timeline table and one videos row."""
    summaries = [video.summaries[i] for i in sorted(video.summaries)]
    first = summaries[0]
    frames = [s["frames"] for s in summaries]
    offsets = np.cumsum([0, *frames[:-1]])
    error = next((s["error"] for s in summaries if s["error"]), None)
    if error is None and sum(frames) == 0:
        error = f"{path}: opened, but no frame could be decoded"
    last = [s["last_timestamp_s"] for s in summaries if s["last_timestamp_s"] is not None]
    end_s = max(last) + 1 / first["fps"] if last and first["fps"] else None
    # A file cut short keeps the rows of the frames that decoded (what FFmpeg does), flagged partial.
    damage = None if error else ends_early(path, end_s, sum(frames), first["frames_declared"], first["fps"])
    status = STATUS_ERROR if error else STATUS_PARTIAL if damage else STATUS_OK
    schema = timeline_schema(smooth_s)
    timeline = schema.empty_table() if error else _timeline(video.parts, offsets, schema, smooth_s, tracks)
    # A failed video counts nothing: none of its frames are in the timeline (the error says how far it got).
    counted = 0 if error else 1
    row = dict(video_id=first["video_id"] or None, video_path=path, status=status,
               error=error or damage, fps=first["fps"] or None, width=first["width"] or None,
               height=first["height"] or None, duration_s=None if error else end_s,
               frames_total=counted * sum(frames),
               frames_analyzed=counted * sum(s["analyzed"] for s in summaries),
               frames_with_faces=counted * sum(s["with_faces"] for s in summaries), faces=timeline.num_rows,
               seconds=sum(s["seconds"] for s in summaries))
    return FinishedVideo(path, timeline, row)


def ends_early(path: str, end_s: float | None, frames: int, frames_declared: int, fps: float) -> str | None:
    """The message for a file cut short, else None.

    A file truncated after its header (an .avi, a streamed .mkv, an .mp4 with its index first) still decodes up
    to the cut, so it would pass as ok with part of its frames. Its header still declares the whole length:
    compare where decoding stopped with that. In time, not frames: where a container gives no frame count,
    OpenCV derives one from its duration and nominal rate, which overcounts variable-rate video; the duration
    itself stays right. The tolerance absorbs estimates that are off by a few frames (the sample title card
    declares 98 and decodes 95).
    """
    if end_s is None or fps <= 0 or frames_declared <= 0:
        return None
    declared_s = frames_declared / fps
    if declared_s - end_s <= max(TRUNCATION_TOLERANCE_S, TRUNCATION_TOLERANCE_SHARE * declared_s):
        return None
    return (f"{path}: truncated or damaged: frames stop at {end_s:.1f} s of the {declared_s:.1f} s its header "
            f"declares ({frames} of {frames_declared} frames); rows cover the frames that decoded, repair or "
            "re-encode it for the rest")


def _timeline(parts: list[dict[str, np.ndarray]], offsets: np.ndarray, schema: pa.Schema, smooth_s: float,
              tracks: TrackConfig) -> pa.Table:
    if not parts:
        return schema.empty_table()
    columns = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    columns["frame_index"] = offsets[columns["range_index"]] + columns["frame"]
    order = np.lexsort((columns["face_index"], columns["frame_index"]))
    # Tracks need the whole video in time order, which only exists here, once every range is in.
    rows = assign_tracks(pd.DataFrame({name: columns[name][order] for name in schema.names
                                       if name in columns}), tracks)
    if smooth_s > 0:
        rows = smooth(rows, smooth_s)
    return pa.Table.from_pandas(rows[schema.names], preserve_index=False).cast(schema)


def videos_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=VIDEOS_SCHEMA)

