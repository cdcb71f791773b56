"""Annotated video: every face's box, track id, emotion and confidence drawn on the source frames, for checking
the timelines (and the tracker) by eye. Run through ``fervid annotate``.

The output keeps the source's frame rate, size and frame count (every decoded frame is written, with or without
faces). Frames are counted the way ``fervid analyze`` counts them (OpenCV, from 0), so ``frame_index`` lines up.
After ``--fps`` sampling, a frame's boxes stay up until the next analysed frame, not just for one frame.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fervid.errors import FervidError

from .plot import emotion_bgr
from .smooth import CONFIDENCE_SMOOTH, EMOTION_SMOOTH
from .tables import frame_step_s, require_columns
from .tracks import TRACK_COLUMN, ensure_tracks


@dataclass(frozen=True)
class AnnotateResult:
    out: Path
    frames: int  # written, = frames decoded from the source
    frames_with_boxes: int


def rows_for_video(timelines: pd.DataFrame, video_path: str | os.PathLike) -> pd.DataFrame:
    """The rows of the file ``video_path``: by path when it was analysed under this name, else by content id."""
    from .sources import fingerprint

    require_columns(timelines, ("video_id", "video_path"))
    by_path = timelines[timelines["video_path"] == str(Path(video_path).absolute())]
    if not by_path.empty:
        return by_path
    video_id = fingerprint(str(video_path))  # renamed or moved since the analysis: the content id still matches
    by_id = timelines[timelines["video_id"] == video_id]
    if by_id.empty:
        raise FervidError(f"{video_path}: not in the timelines (no row has its path or its video_id {video_id})")
    return by_id


def _label_columns(rows: pd.DataFrame) -> tuple[str, str]:
    """Smoothed emotion when the rows have it (steadier to watch), else the raw argmax."""
    return (EMOTION_SMOOTH, CONFIDENCE_SMOOTH) if EMOTION_SMOOTH in rows.columns else ("emotion", "confidence")


def _draw(image: np.ndarray, rows: pd.DataFrame, emotion_column: str, confidence_column: str) -> None:
    import cv2

    for row in rows.itertuples(index=False):
        emotion, confidence = getattr(row, emotion_column), getattr(row, confidence_column)
        colour = emotion_bgr(emotion)
        cv2.rectangle(image, (row.x, row.y), (row.x + row.w, row.y + row.h), colour, 2)
        text = f"#{getattr(row, TRACK_COLUMN)} {emotion} {confidence:.2f}"
        (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        top = max(row.y - height - 6, 0)  # above the box, or inside it at the top edge of the frame
        cv2.rectangle(image, (row.x, top), (row.x + width + 4, top + height + 6), colour, -1)
        cv2.putText(image, text, (row.x + 2, top + height + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)


def annotate_video(video_path: str | os.PathLike, timelines: pd.DataFrame, out: str | os.PathLike) -> AnnotateResult:
    """Write ``out`` (mp4v): ``video_path`` with its timeline rows drawn. Tracks are assigned when missing."""
    import cv2

    from .video import VideoError, probe, read_range

    out = Path(out)
    if not out.parent.is_dir():
        raise FervidError(f"{out.parent}: the output folder does not exist")
    if not Path(video_path).is_file():
        raise FervidError(f"{video_path}: no such video file")
    rows = ensure_tracks(rows_for_video(timelines, video_path))
    emotion_column, confidence_column = _label_columns(rows)
    try:
        info = probe(str(video_path))
    except VideoError as error:
        raise FervidError(str(error)) from error
    fps = info.fps or 30.0
    size = info.width, info.height
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise FervidError(f"{out}: OpenCV cannot write an mp4v video there (use a .mp4 or .mov name)")
    by_frame = dict(tuple(rows.groupby("frame_index")))
    hold = max(1, round(float(frame_step_s(rows).max() if len(rows) else 0) * fps))  # frames an analysed frame covers
    frames = frames_with_boxes = 0
    current, until = rows.iloc[:0], 0
    try:
        for frame in read_range(str(video_path), -math.inf, math.inf, info.fps):
            image = frame.image
            if frames in by_frame:
                current, until = by_frame[frames], frames + hold
            if frames < until and len(current):
                _draw(image, current, emotion_column, confidence_column)
                frames_with_boxes += 1
            writer.write(image)
            frames += 1
    except VideoError as error:
        raise FervidError(str(error)) from error
    finally:
        writer.release()
    return AnnotateResult(out=out, frames=frames, frames_with_boxes=frames_with_boxes)
