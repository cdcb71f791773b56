"""Decoding with PyAV (FFmpeg's libraries): container facts, time ranges of a long video, and frames with their
presentation timestamps.

PyAV, not OpenCV's capture, because it hands over a decoded frame's planes. Crops and the shot-change check read
grey, which for the usual 8-bit 4:2:0 video is the luma plane as decoded (mapped from video to full range), so a
frame the detector does not see costs no colour conversion; the detector's colour picture is made on first use, on
keyframes only. OpenCV converted every frame to BGR: 3.9 CPU-ms a 1080p frame, against 1.8 for the planes
(docs/benchmarks.md).

Timestamps are each frame's presentation time from the stream's start (0 for the first frame, then k/fps on
constant-rate clips, the real irregular times on the variable-rate ``face_then_no_face.mov`` and on GIFs), as
OpenCV's ``CAP_PROP_POS_MSEC`` gave them.

Ranges are cut by time, not frame number: seeking by time lands on or before the target (decoding goes on from the
previous keyframe), and every frame belongs to exactly one range whatever the frame rate does. Frame numbers are
then counted per range and offset afterwards (``fervid.pipeline.timeline``).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

SEEK_MARGIN_S = 1.0  # seek this far before a range so the frame before it is known (and a late seek is seen)
FULL_RANGE = 2  # AVCOL_RANGE_JPEG: grey levels 0-255; otherwise 8-bit video keeps luma in 16-235
# Luma 16-235 to grey 0-255, as a BGR-to-grey conversion of the decoded colour picture gives it (within 2 levels).
VIDEO_TO_FULL_RANGE = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
CANNOT_OPEN = "FFmpeg cannot open it as a video (not a video, truncated or corrupt, or a codec this build lacks)"


class VideoError(Exception):
    """A video that cannot be decoded; the message names the file and says why."""


@dataclass(frozen=True)
class VideoInfo:
    fps: float  # the container's average frame rate
    width: int  # upright, as a player shows it (after any rotation the container asks for)
    height: int
    frame_count: int  # the container's estimate (can be off by a few, or 0 when unknown)


@dataclass(eq=False)
class Frame:
    index: int  # counted from the start of its range
    timestamp_s: float
    grey: np.ndarray | None  # None when the frame is not in the --fps sample (decoded, not converted)
    make_image: Callable[[], np.ndarray] | None = field(default=None, repr=False)

    @functools.cached_property
    def image(self) -> np.ndarray | None:
        """The BGR picture, made on first use (the detector's input: keyframes only); None outside the sample."""
        return None if self.make_image is None else self.make_image()

    @classmethod
    def from_bgr(cls, index: int, timestamp_s: float, image: np.ndarray | None) -> Frame:
        """A frame of a picture already in BGR (tests, benchmarks)."""
        import cv2

        if image is None:
            return cls(index, timestamp_s, None)
        return cls(index, timestamp_s, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), lambda: image)


def open_video(path: str, threads: int | None = None):
    """``(container, video stream)`` of ``path``; ``threads``: FFmpeg's decoding threads (None: its default)."""
    import av

    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    try:
        container = av.open(path)
    except av.error.FFmpegError:
        raise VideoError(f"{path}: {CANNOT_OPEN}") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: {CANNOT_OPEN}; it holds no video stream")
    stream = container.streams.video[0]
    if threads is None:
        stream.thread_type = "AUTO"
    else:
        stream.codec_context.thread_count = threads
    return container, stream


def _frame_rate(stream) -> float:
    """The average frame rate, or (unknown) one frame per tick of the stream's clock, as OpenCV gave it."""
    rate = float(stream.average_rate or 0)
    return rate if rate > 0 else (1 / float(stream.time_base) if stream.time_base else 0.0)


def probe(path: str) -> VideoInfo:
    """Container facts, and the first frame decoded: a file with no frame is not a video, and the frame says how
    the picture is turned."""
    container, stream = open_video(path)
    try:
        first = next(_decoded(container, stream), None)
        if first is None:
            raise VideoError(f"{path}: {CANNOT_OPEN}; no frame could be decoded")
        fps = _frame_rate(stream)
        count = stream.frames
        if not count:
            duration_s = (container.duration / 1e6 if container.duration
                          else float((stream.duration or 0) * stream.time_base))
            count = math.floor(duration_s * fps + 0.5)
        width, height = stream.codec_context.width, stream.codec_context.height
        if _quarter_turns(first) % 2:
            width, height = height, width
        return VideoInfo(fps=fps, width=width, height=height, frame_count=max(0, count))
    finally:
        container.close()


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


def _decoded(container, stream) -> Iterator:
    """The stream's frames. A damaged packet is skipped and decoding goes on (as FFmpeg's own tools do); a container
    that breaks off (a cut file) ends the stream there: the frames before the cut are kept."""
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError:
            packet = None  # the rest cannot be read: flush the frames the decoder still holds
        try:
            yield from (packet.decode() if packet is not None else stream.codec_context.decode(None))
        except av.error.FFmpegError:
            pass
        if packet is None:
            return


def _quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns that set the frame upright (a phone's display matrix)."""
    return round(getattr(frame, "rotation", 0) / 90) % 4


def _pictures(frame) -> tuple[np.ndarray, Callable[[], np.ndarray]]:
    """The frame's grey picture, and a maker of its BGR picture."""
    import cv2

    if (frame.format.name == "yuv420p" and frame.color_range != FULL_RANGE
            and frame.width % 2 == 0 and frame.height % 2 == 0):
        planes = frame.to_ndarray()  # Y, then U and V: (height * 3 / 2, width), copied, not converted
        grey = cv2.LUT(planes[:frame.height], VIDEO_TO_FULL_RANGE)
        make_image = functools.partial(cv2.cvtColor, planes, cv2.COLOR_YUV2BGR_I420)
    else:  # other layouts, bit depths and full-range video: FFmpeg's own conversion
        image = frame.to_ndarray(format="bgr24")
        grey, make_image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (lambda: image)
    turns = _quarter_turns(frame)
    if not turns:
        return grey, make_image
    upright = lambda picture: np.ascontiguousarray(np.rot90(picture, turns))  # noqa: E731
    return upright(grey), lambda: upright(make_image())


def _timed_frames(container, stream, fps: float) -> Iterator[tuple[float, object]]:
    """``(presentation time in seconds from the stream's start, frame)``, the times kept strictly increasing (a
    broken container that repeats or omits a time gets one frame period added, so rows still sort in decode
    order)."""
    previous = None
    step = 1 / fps if fps > 0 else 1e-3
    start, time_base = stream.start_time or 0, float(stream.time_base or 0)
    for frame in _decoded(container, stream):
        pts = frame.pts if frame.pts is not None else frame.dts
        timestamp = (pts - start) * time_base if pts is not None else None
        if previous is not None and (timestamp is None or timestamp <= previous):
            timestamp = previous + step
        previous = timestamp = 0.0 if timestamp is None else timestamp
        yield timestamp, frame


def _seek_before(container, stream, start_s: float) -> None:
    """Position the stream about ``SEEK_MARGIN_S`` before ``start_s`` (at the start for early ranges)."""
    if start_s - SEEK_MARGIN_S <= 0 or not stream.time_base:
        return
    target = (stream.start_time or 0) + int((start_s - SEEK_MARGIN_S) / float(stream.time_base))
    container.seek(target, stream=stream, backward=True)


def read_range(path: str, start_s: float, stop_s: float, fps: float, sample_fps: float | None = None,
               decode_threads: int | None = None) -> Iterator[Frame]:
    """The frames with ``start_s <= timestamp < stop_s``; pictures only for frames in the ``sample_fps`` sample.
    ``decode_threads``: as ``open_video``'s ``threads``."""
    container, stream = open_video(path, decode_threads)
    try:
        _seek_before(container, stream, start_s)
        frames = _timed_frames(container, stream, fps)
        previous, first = None, next(frames, None)
        if first is not None and first[0] >= start_s > 0:
            # The seek landed inside the range, so frames before it may be skipped: decode from the start.
            container.close()
            container, stream = open_video(path, decode_threads)
            frames = _timed_frames(container, stream, fps)
            first = next(frames, None)
        index, current = 0, first
        while current is not None and current[0] < stop_s:
            timestamp, decoded = current
            if timestamp >= start_s:
                if is_sampled(timestamp, previous, sample_fps):
                    grey, make_image = _pictures(decoded)
                    yield Frame(index, timestamp, grey, make_image)
                else:
                    yield Frame(index, timestamp, None)
                index += 1
            previous = timestamp
            current = next(frames, None)
    finally:
        container.close()
