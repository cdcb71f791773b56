"""The CPU stage: a video (or one time range of a long one) -> face crops, so full frames never leave the task.

``plan_video`` turns one video into range tasks; ``detect_range`` decodes one range, samples frames, detects
faces and yields rows of crops in chunks (bounded memory whatever the video's length), then one *range summary*
row (``face_index == -1``, counts in the JSON ``summary`` column) that tells the driver how many frames the range
decoded: frame numbers are offset by it, and a video is complete when all its summaries are in.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator

import numpy as np

from fervid.model.labels import INPUT_SIZE

from .sources import fingerprint, local_file
from .video import plan_ranges, probe, read_range

SUMMARY_FACE_INDEX = -1  # marks a range summary row among face rows
FLUSH_FACES = 512  # yield crops in chunks of this many faces (about 1.2 MB)


def describe(path: str, error: BaseException) -> str:
    """The message for the videos table: it names the file and what went wrong."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        # "[Errno 13] Permission denied: '/x/a.mp4'" reads better as "/x/a.mp4: cannot read it (Permission denied)".
        return f"{error.filename}: cannot read it ({error.strerror})"
    text = str(error).strip() or type(error).__name__
    return text if path in text else f"{path}: {type(error).__name__}: {text}"


def plan_videos(paths: list[str], frames_per_range: int) -> list[dict]:
    """``plan_video`` for several videos in one Ray task: thousands of short clips cost fewer round trips."""
    return [task for path in paths for task in plan_video(path, frames_per_range)]


def pack_tasks(tasks: list[dict], frames_per_pack: int) -> list[list[dict]]:
    """Range tasks grouped into the tasks the detect stage runs: each range of a split (long) video alone, as
    before; whole short videos, in order, packed together up to about ``frames_per_pack`` declared frames, so a
    folder of short clips does not pay a Ray Data task (and its blocks) per clip."""
    packs, pack, frames = [], [], 0
    for task in tasks:
        if task["ranges"] > 1:
            packs.append([task])
            continue
        pack.append(task)
        frames += max(1, task["frames_declared"])  # 0: unknown (or unreadable), still one video's cost
        if frames >= frames_per_pack:
            packs.append(pack)
            pack, frames = [], 0
    return packs + [pack] if pack else packs


def plan_video(path: str, frames_per_range: int) -> list[dict]:
    """Range tasks for one video; a video that cannot be read becomes one task that carries the error."""
    task = dict(video_path=path, video_id="", range_index=0, ranges=1, start_s=-np.inf, stop_s=np.inf,
                fps=0.0, width=0, height=0, frames_declared=0, error="")
    try:
        task["video_id"] = fingerprint(path)
        with local_file(path) as local:
            info = probe(local)
    # A bad input must not stop the other videos: whatever went wrong is reported in its row of the videos table.
    except Exception as error:  # noqa: BLE001
        return [dict(task, error=describe(path, error))]
    ranges = plan_ranges(info, frames_per_range)
    return [dict(task, range_index=i, ranges=len(ranges), start_s=start, stop_s=stop, fps=info.fps,
                 width=info.width, height=info.height, frames_declared=info.frame_count) for i, (start, stop) in enumerate(ranges)]


@functools.cache
def cached_detector(name: str):
    """One detector per worker process: Ray reuses workers, so later tasks skip the model load."""
    import cv2

    from .detect import make_detector

    cv2.setNumThreads(1)  # Ray runs one task per core; OpenCV's own threads would only contend
    return make_detector(name)


def _face_rows(task: dict, faces: list[tuple]) -> dict[str, np.ndarray]:
    """Columns for a list of (frame index, timestamp_s, Faces, detected), one row per face."""

    def stack(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
        return np.concatenate(parts) if parts else empty

    counts = [len(f.boxes) for _, _, f, _ in faces]
    boxes = stack([f.boxes for _, _, f, _ in faces], np.zeros((0, 4), np.int32))
    return dict(
        video_path=np.full(len(boxes), task["video_path"], object),
        video_id=np.full(len(boxes), task["video_id"], object),
        range_index=np.full(len(boxes), task["range_index"], np.int32),
        frame=np.repeat(np.array([i for i, *_ in faces], np.int64), counts),
        timestamp_s=np.repeat(np.array([t for _, t, _, _ in faces], np.float64), counts),
        face_index=stack([np.arange(n, dtype=np.int32) for n in counts], np.zeros(0, np.int32)),
        x=boxes[:, 0], y=boxes[:, 1], w=boxes[:, 2], h=boxes[:, 3],
        det_score=stack([f.scores for _, _, f, _ in faces], np.zeros(0, np.float32)),
        detected=np.repeat(np.array([seen for *_, seen in faces], bool), counts),
        crop=stack([f.crops for _, _, f, _ in faces], np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8)),
        summary=np.full(len(boxes), "", object),
    )


def _summary_row(task: dict, summary: dict) -> dict[str, np.ndarray]:
    """One row shaped like a face row, ``face_index == -1``, a blank crop, the counts in ``summary``."""
    row = {key: np.zeros((1, *value.shape[1:]), value.dtype) for key, value in _face_rows(task, []).items()}
    row.update(video_path=np.array([task["video_path"]], object), video_id=np.array([task["video_id"]], object),
               range_index=np.array([task["range_index"]], np.int32),
               face_index=np.array([SUMMARY_FACE_INDEX], np.int32),
               summary=np.array([json.dumps(summary)], object))
    return row


def detect_range(batch: dict[str, np.ndarray], *, detector: str, sample_fps: float | None,
                 margins: tuple[float, float, float, float],
                 detect_every: int | None = 1) -> Iterator[dict[str, np.ndarray]]:
    """``map_batches`` UDF over range tasks (a pack of them per batch): yields each range's face-crop rows, then its
    summary, range after range. ``detect_every``: K, or None for about one detection every ``DETECT_INTERVAL_S``
    (``fervid.pipeline.keyframes.keyframe_step``, from the video's frame rate)."""
    for row in range(len(batch["video_path"])):
        task = {key: (value[row].item() if hasattr(value[row], "item") else value[row]) for key, value in batch.items()}
        started = time.perf_counter()
        summary = dict(ranges=task["ranges"], fps=task["fps"], width=task["width"], height=task["height"],
                       frames_declared=task["frames_declared"], frames=0, analyzed=0, with_faces=0,
                       last_timestamp_s=None, error=task["error"] or None)
        if not summary["error"]:
            try:
                yield from _faces_in_range(task, summary, detector, sample_fps, margins, detect_every)
            # A bad input must not stop the other videos; the error is reported in its videos-table row (and
            # the driver drops any face rows the range yielded before failing).
            except Exception as error:  # noqa: BLE001
                summary["error"] = describe(task["video_path"], error)
        summary["seconds"] = time.perf_counter() - started
        yield _summary_row(task, summary)


def _faces_in_range(task: dict, summary: dict, detector_name: str, sample_fps: float | None,
                    margins: tuple[float, float, float, float],
                    detect_every: int | None) -> Iterator[dict[str, np.ndarray]]:
    """Face rows of one range in chunks of about ``FLUSH_FACES``; counts frames into ``summary`` as it goes."""
    from .detect import cut_faces
    from .keyframes import detections_per_frame, keyframe_step

    detector, pending, pending_faces = cached_detector(detector_name), [], 0
    every = keyframe_step(detect_every, task["fps"], sample_fps)
    with local_file(task["video_path"]) as local:
        # One decoding thread: the tasks already fill the cores, and FFmpeg's threads would cost them about 0.5
        # CPU-ms a 720p-1080p frame (3.4 against 4.0 ms; benchmarks/short_clips.py for the whole job).
        frames = read_range(local, task["start_s"], task["stop_s"], task["fps"], sample_fps, decode_threads=1)
        for frame, detections, detected in detections_per_frame(frames, detector.detect, every):
            summary["frames"] += 1
            summary["last_timestamp_s"] = frame.timestamp_s
            if detections is None:
                continue  # outside the --fps sample: counted, not analysed
            summary["analyzed"] += 1
            faces = cut_faces(frame.grey, detections, margins)  # crops are grey: no colour picture for carried frames
            if len(faces.boxes):
                summary["with_faces"] += 1
                pending.append((frame.index, frame.timestamp_s, faces, detected))
                pending_faces += len(faces.boxes)
            if pending_faces >= FLUSH_FACES:
                yield _face_rows(task, pending)
                pending, pending_faces = [], 0
    if pending:
        yield _face_rows(task, pending)
