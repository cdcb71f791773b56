"""Decoding with OpenCV's FFmpeg backend: container facts, time ranges of a long video, and frames with their
presentation timestamps.

Timestamps: ``CAP_PROP_POS_MSEC`` read after each ``grab`` is the presentation time of the frame just grabbed
(measured on the sample clips: 0 for the first frame, then k/fps on constant-rate clips and the real
irregular times on the variable-rate ``face_then_no_face.mov`` and on GIFs).

Ranges are cut by time, not frame number: seeking by time lands on or before the target (OpenCV decodes on from
the previous keyframe), and every frame belongs to exactly one range whatever the frame rate does. Frame numbers
are then counted per range and offset afterwards (``fervid.pipeline.timeline``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SEEK_MARGIN_S = 1.0  # seek this far before a range so the frame before it is known (and a late seek is seen)


class VideoError(Exception):
    """A video that cannot be decoded; the message names the file and says why."""


@dataclass(frozen=True)
class VideoInfo:
    fps: float  # the container's average frame rate
    width: int
    height: int
    frame_count: int  # the container's estimate (can be off by a few, or 0 when unknown)


@dataclass(frozen=True)
class Frame:
    index: int  # counted from the start of its range
    timestamp_s: float
    image: np.ndarray | None  # BGR; None when the frame is not in the --fps sample (grabbed, not converted)


def open_capture(path: str, threads: int | None = None):
    """An OpenCV capture of ``path``; ``threads``: FFmpeg's decoding threads (None: OpenCV's default, one per CPU)."""
    import cv2

    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG, [] if threads is None else [cv2.CAP_PROP_N_THREADS, threads])
    if not capture.isOpened():
        raise VideoError(f"{path}: OpenCV/FFmpeg cannot open it as a video "
                         "(not a video, truncated or corrupt, or a codec this build lacks)")
    return capture


def probe(path: str) -> VideoInfo:
    import cv2

    capture = open_capture(path)
    try:
        return VideoInfo(fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
                         width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                         height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                         frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))))
    finally:
        capture.release()


def plan_ranges(info: VideoInfo, frames_per_range: int) -> list[tuple[float, float]]:
    """``[start_s, stop_s)`` ranges of about ``frames_per_range`` frames; the first and last are open-ended so
    frames outside the container's estimate still belong somewhere."""
    if info.fps <= 0 or info.frame_count <= frames_per_range:
        return [(-math.inf, math.inf)]
    count = math.ceil(info.frame_count / frames_per_range)
    cuts = [k * frames_per_range / info.fps for k in range(1, count)]
    return list(zip([-math.inf, *cuts], [*cuts, math.inf]))


def is_sampled(timestamp_s: float, previous_s: float | None, sample_fps: float | None) -> bool:
    """Keep the first frame at or after each tick of a ``sample_fps`` clock that starts at 0.

    Depends only on this frame's and the previous frame's times, so ranges agree with one sequential pass.
    """
    if sample_fps is None or previous_s is None:
        return True
    tick = lambda t: math.floor(t * sample_fps + 1e-6)  # noqa: E731 - tolerance for 1/3-style float times
    return tick(timestamp_s) > tick(previous_s)


def _timestamps(capture, fps: float) -> Iterator[float]:
    """Grab frames, yielding each one's presentation time in seconds, kept strictly increasing (a broken
    container that repeats a time gets one frame period added, so rows still sort in decode order)."""
    import cv2

    previous = None
    step = 1 / fps if fps > 0 else 1e-3
    while capture.grab():
        timestamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
        if previous is not None and timestamp <= previous:
            timestamp = previous + step
        previous = timestamp
        yield timestamp


def _capture_before(path: str, start_s: float, threads: int | None):
    """A capture positioned about ``SEEK_MARGIN_S`` before ``start_s`` (at the start for early ranges)."""
    import cv2

    capture = open_capture(path, threads)
    if start_s - SEEK_MARGIN_S <= 0:
        return capture
    capture.set(cv2.CAP_PROP_POS_MSEC, (start_s - SEEK_MARGIN_S) * 1000)
    return capture


def read_range(path: str, start_s: float, stop_s: float, fps: float, sample_fps: float | None = None,
               decode_threads: int | None = None) -> Iterator[Frame]:
    """The frames with ``start_s <= timestamp < stop_s``; images only for frames in the ``sample_fps`` sample.
    ``decode_threads``: as ``open_capture``'s ``threads``."""
    capture = _capture_before(path, start_s, decode_threads)
    try:
        timestamps = _timestamps(capture, fps)
        previous, first = None, next(timestamps, None)
        if first is not None and first >= start_s > 0:
            # The seek landed inside the range, so frames before it may be skipped: decode from the start.
            capture.release()
            capture = open_capture(path, decode_threads)
            timestamps = _timestamps(capture, fps)
            first = next(timestamps, None)
        index = 0
        timestamp = first
        while timestamp is not None and timestamp < stop_s:
            if timestamp >= start_s:
                image = None
                if is_sampled(timestamp, previous, sample_fps):
                    ok, image = capture.retrieve()
                    if not ok:
                        raise VideoError(f"{path}: frame at {timestamp:.3f} s could not be decoded")
                yield Frame(index, timestamp, image)
                index += 1
            previous = timestamp
            timestamp = next(timestamps, None)
    finally:
        capture.release()
