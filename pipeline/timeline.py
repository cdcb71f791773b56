"""Driver side: classified rows of many ranges, in any order -> one finished timeline table and videos row per
video, as soon as every range of that video is in.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .crops import SUMMARY_FACE_INDEX
from .schema import STATUS_ERROR, STATUS_OK, TIMELINE_SCHEMA, VIDEOS_SCHEMA

@dataclass
class _Pending:
    """What has arrived for one video so far."""

    summaries: dict[int, dict] = field(default_factory=dict)  # range index -> summary
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)  # face rows (with range_index, frame)


@dataclass(frozen=True)
class FinishedVideo:
    path: str
    timeline: pa.Table  # TIMELINE_SCHEMA rows, by frame_index then face_index; empty for a failed video
    row: dict  # VIDEOS_SCHEMA fields


class Collector:
    """Feed it batches from the classifier stage; it hands back each video once all its ranges are in."""

    def __init__(self):
        self.pending: dict[str, _Pending] = defaultdict(_Pending)

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
                finished.append(finish(path, self.pending.pop(path)))
        return finished


def finish(path: str, video: _Pending) -> FinishedVideo:
    """Offset frame numbers by the frames of earlier ranges; count; one timeline table and one videos row."""
    summaries = [video.summaries[i] for i in sorted(video.summaries)]
    first = summaries[0]
    frames = [s["frames"] for s in summaries]
    offsets = np.cumsum([0, *frames[:-1]])
    error = next((s["error"] for s in summaries if s["error"]), None)
    if error is None and sum(frames) == 0:
        error = f"{path}: opened, but no frame could be decoded"
    last = [s["last_timestamp_s"] for s in summaries if s["last_timestamp_s"] is not None]
    timeline = TIMELINE_SCHEMA.empty_table() if error else _timeline(video.parts, offsets)
    row = dict(video_id=first["video_id"] or None, video_path=path, status=STATUS_ERROR if error else STATUS_OK,
               error=error, fps=first["fps"] or None, width=first["width"] or None, height=first["height"] or None,
               duration_s=max(last) + 1 / first["fps"] if last and first["fps"] else None,
               frames_total=sum(frames), frames_analyzed=sum(s["analyzed"] for s in summaries),
               frames_with_faces=sum(s["with_faces"] for s in summaries), faces=timeline.num_rows,
               seconds=sum(s["seconds"] for s in summaries))
    return FinishedVideo(path, timeline, row)


def _timeline(parts: list[dict[str, np.ndarray]], offsets: np.ndarray) -> pa.Table:
    if not parts:
        return TIMELINE_SCHEMA.empty_table()
    columns = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    columns["frame_index"] = offsets[columns["range_index"]] + columns["frame"]
    order = np.lexsort((columns["face_index"], columns["frame_index"]))
    table = pa.table({name: columns[name][order] for name in TIMELINE_SCHEMA.names})
    return table.cast(TIMELINE_SCHEMA)


def videos_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=VIDEOS_SCHEMA)

