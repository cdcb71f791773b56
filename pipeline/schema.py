"""The two output tables, declared once: the writer, the tests, notebooks and the docs all import them.

``OUT.parquet`` (the timeline): one row per face per analysed frame, columns ``TIMELINE_SCHEMA``.
``OUT.videos.parquet`` (the videos table): one row per input video, columns ``VIDEOS_SCHEMA``. It is written
last: when it exists, the timeline beside it is complete (see ``fervid.pipeline.output``).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from fervid.model.labels import FER2013_LABELS

EMOTION_COLUMNS: tuple[str, ...] = FER2013_LABELS  # probabilities, in the model's label order

TIMELINE_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),  # content hash: the same file keeps its id when renamed or moved
        ("video_path", pa.string()),  # as given or found (absolute local path, or a URI)
        ("frame_index", pa.int64()),  # decoded frames counted from 0
        ("timestamp_s", pa.float64()),  # presentation time from the container (right for variable frame rate)
        ("face_index", pa.int32()),  # 0-based, left to right within the frame
        ("track_id", pa.int32()),  # the same person keeps one id while in view (fervid.pipeline.tracks)
        ("x", pa.int32()),  # box in original-frame pixels, clipped to the frame, without the crop margin
        ("y", pa.int32()),
        ("w", pa.int32()),
        ("h", pa.int32()),
        ("det_score", pa.float32()),  # detector confidence; 1.0 for Haar, which has none
        # True: the detector found this box in this frame; False: the box was placed between the detections around
        # the frame (fervid.pipeline.keyframes, --detect-every), and the crop cut from this frame's own pixels.
        ("detected", pa.bool_()),
        *[(name, pa.float32()) for name in EMOTION_COLUMNS],  # softmax, sums to 1
        ("emotion", pa.string()),  # the most probable label
        ("confidence", pa.float32()),  # its probability
    ]
)

TRACK_COLUMN = "track_id"
DETECTED_COLUMN = "detected"  # since 2026-12-01 (detection about every 0.2 s by default); older files lack it

# Written only when `fervid analyze --smooth SECONDS` asks for them: the seven probabilities averaged per track
# over a centred window (fervid.pipeline.smooth), and their argmax and its probability. The raw columns stay.
SMOOTH_SUFFIX = "_smooth"
SMOOTH_COLUMNS: tuple[str, ...] = tuple(f"{name}{SMOOTH_SUFFIX}" for name in EMOTION_COLUMNS)
EMOTION_SMOOTH, CONFIDENCE_SMOOTH = f"emotion{SMOOTH_SUFFIX}", f"confidence{SMOOTH_SUFFIX}"
SMOOTHED_TIMELINE_SCHEMA = pa.schema([*TIMELINE_SCHEMA, *[(name, pa.float32()) for name in SMOOTH_COLUMNS],
                                      (EMOTION_SMOOTH, pa.string()), (CONFIDENCE_SMOOTH, pa.float32())])


def timeline_schema(smooth_s: float) -> pa.Schema:
    """The timeline's columns: with the smoothed ones when a smoothing window was asked for."""
    return SMOOTHED_TIMELINE_SCHEMA if smooth_s > 0 else TIMELINE_SCHEMA


VIDEOS_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),  # null when the file could not even be read
        ("video_path", pa.string()),
        ("status", pa.string()),  # "ok", "partial" (damaged: rows up to where decoding stopped) or "error"
        ("error", pa.string()),  # what went wrong, naming the file; null when ok
        ("duration_s", pa.float64()),  # end of the last decoded frame (last timestamp + 1/fps)
        ("fps", pa.float64()),  # the container's average frame rate
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("frames_total", pa.int64()),  # frames decoded
        ("frames_analyzed", pa.int64()),  # frames run through the detector (all, or the --fps sample)
        ("frames_with_faces", pa.int64()),
        ("faces", pa.int64()),  # rows of this video in the timeline
        ("seconds", pa.float64()),  # processing time summed over the video's tasks (CPU-side work)
    ]
)

STATUS_OK, STATUS_PARTIAL, STATUS_ERROR = "ok", "partial", "error"
# Videos whose rows are in the timeline: a damaged file keeps the frames that decoded, as FFmpeg would.
STATUSES_WITH_ROWS = (STATUS_OK, STATUS_PARTIAL)


def videos_path(out: str | Path) -> Path:
    """``timelines.parquet`` -> ``timelines.videos.parquet``, beside it."""
    out = Path(out)
    stem = out.name[: -len(".parquet")] if out.name.endswith(".parquet") else out.name
    return out.with_name(f"{stem}.videos.parquet")
