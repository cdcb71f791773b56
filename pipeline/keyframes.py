"""Detection on every k-th analysed frame (``--detect-every K``), faces carried to the frames between.

A face moves a few pixels from one frame to the next, while the detector is the largest per-frame cost in HD video.
By default the detector runs about every ``DETECT_INTERVAL_S`` of analysed video (``keyframe_step``); with ``every =
K > 1`` it runs on analysed frames 0, K, 2K, ... of a range (and on its last one); each
frame between two such *keyframes* gets its faces from theirs, so every frame still gets its crops, probabilities
and track ids:

- a face found at both keyframes (boxes matched by overlap, ``MIN_IOU``) is placed on the straight line between its
  two detections: box, keypoints and score, in proportion to the frame's place between them;
- a face found at only one of them (it came or went) is kept as that keyframe found it, on the frames nearer to that
  keyframe.

A shot change (a cut in an edited film, a camera switch) ends the carrying: when an analysed frame's grey levels
differ from the previous analysed frame's by more than ``SHOT_CHANGE``, the detector runs on both, so no face is
carried across the cut and the new shot's faces are found on its first frame.

The frames between wait for the next keyframe (at most K - 1 decoded frames in memory). Every frame keeps its order,
and says whether the detector saw it (the timeline's ``detected`` column).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from .video import Frame

Detections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (N, 4) x, y, w, h; scores (N,); keypoints (N, 6, 2)
MIN_IOU = 0.3  # a face moves far less than this between keyframes a few frames apart; two faces rarely overlap so
# Mean absolute grey-level change (0-255) between two consecutive analysed frames, seen through every 16th pixel,
# above which they are taken for a cut. Measured on the 19 sample and dev clips (3,367 frame pairs, the decoder's luma
# plane): within a shot the change is 1.2 at the median and 9.8 at the 99th percentile (fast pans, stage lights); the
# 342 cuts made by joining the last frame of one clip to the first of another change 11.9 at the least and 50.9 at
# the median. At 12, 13 pairs within a shot count as cuts (two extra detections each) and 1 cut passes, between two
# clips of one person in one framing, where carrying the box is harmless.
SHOT_CHANGE = 12.0
SHOT_CHANGE_STRIDE = 16
# The default gap between detections, in seconds of analysed video: 6 frames at 30 fps, 5 at 24-25 fps. Measured
# against a detection in every frame on the sample and dev clips (24-30 fps, so K = 5 or 6; benchmarks/keyframes.py):
# the same faces to 99%, boxes at median IoU 0.98, the dev clips' answers and the tracks unchanged, a fifth of the
# detector's time (docs/benchmarks.md). In time, not frames, so that ``--fps`` sampling (a frame every 0.2 s or more)
# or a 60-fps camera carries faces no further than the measured clips did.
DETECT_INTERVAL_S = 0.2


def keyframe_step(detect_every: int | None, fps: float, sample_fps: float | None = None) -> int:
    """K for one video: ``detect_every`` when given; else the analysed frames in ``DETECT_INTERVAL_S`` (rounded, at
    least 1; 1 when the frame rate is unknown)."""
    if detect_every is not None:
        return detect_every
    rate = min(fps, sample_fps) if sample_fps else fps
    return max(1, round(rate * DETECT_INTERVAL_S)) if rate > 0 else 1


def box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of x, y, w, h boxes."""
    a, b = first[:, None, :].astype(np.float64), second[None, :, :].astype(np.float64)
    low, high = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., :2] + a[..., 2:], b[..., :2] + b[..., 2:])
    overlap = np.prod(np.clip(high - low, 0, None), axis=-1)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - overlap
    return np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)


def match_faces(first: np.ndarray, second: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i, j) of the same face in two keyframes' boxes: the most overlapping first (greedy), IoU >= MIN_IOU."""
    iou = box_iou(first, second)
    pairs, used_first, used_second = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < MIN_IOU:
            break
        if i not in used_first and j not in used_second:
            pairs.append((int(i), int(j)))
            used_first.add(i)
            used_second.add(j)
    return pairs


def between(first: Detections, second: Detections, share: float) -> Detections:
    """The faces of a frame ``share`` (0 < share < 1) of the way from the keyframe that found ``first`` to the one
    that found ``second``."""
    pairs = match_faces(first[0], second[0])
    parts = [[(1 - share) * a[i] + share * b[j] for a, b in zip(first, second)] for i, j in pairs]
    near, index = (first, 0) if share < 0.5 else (second, 1)
    paired = {pair[index] for pair in pairs}
    parts += [[array[k] for array in near] for k in range(len(near[0])) if k not in paired]
    if not parts:
        return tuple(array[:0] for array in first)
    return tuple(np.stack(column).astype(np.float32) for column in zip(*parts))


def detections_per_frame(frames: Iterable[Frame], detect: Callable[[np.ndarray], Detections],
                         every: int = 1) -> Iterator[tuple[Frame, Detections | None, bool]]:
    """Each frame, in order, with its faces and whether the detector saw it: ``detect``'s on keyframes (True),
    carried (``between``) on the analysed frames between (False), None on frames outside the ``--fps`` sample (no
    image; False)."""
    last: Detections | None = None  # the last keyframe's faces
    waiting: list[Frame] = []  # frames after it, not given yet
    since_keyframe: int | None = None  # analysed frames since the last keyframe; None before the first
    previous: np.ndarray | None = None  # the previous analysed frame, as shot_changed sees it (every > 1 only)
    for frame in frames:
        if frame.grey is None:
            waiting.append(frame)
            continue
        seen = _grey_levels(frame.grey) if every > 1 else None
        cut = previous is not None and shot_changed(previous, seen)
        previous = seen
        if cut:  # the old shot ends on a keyframe too, so no face is carried across the cut
            last, waiting = yield from _last_analysed_as_keyframe(waiting, last, detect)
        if since_keyframe is None or since_keyframe + 1 >= every or cut:
            found = detect(frame.image)
            yield from _carried(waiting, last, found)
            yield frame, found, True
            last, waiting, since_keyframe = found, [], 0
        else:
            waiting.append(frame)
            since_keyframe += 1
    _, waiting = yield from _last_analysed_as_keyframe(waiting, last, detect)  # a range ends on a keyframe
    yield from ((frame, None, False) for frame in waiting)


def _grey_levels(grey: np.ndarray) -> np.ndarray:
    return grey[::SHOT_CHANGE_STRIDE, ::SHOT_CHANGE_STRIDE].astype(np.float32)


def shot_changed(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether two consecutive analysed frames (as ``_grey_levels`` sees them) look like a cut."""
    return before.shape != after.shape or float(np.abs(after - before).mean()) > SHOT_CHANGE


def _last_analysed_as_keyframe(waiting: list[Frame], last: Detections | None, detect: Callable):
    """Detect on the last analysed frame among ``waiting`` and give it and the frames before it (carried); returns
    the new last keyframe's faces and the frames still waiting (those outside the sample after it)."""
    analysed = [i for i, frame in enumerate(waiting) if frame.grey is not None]
    if not analysed:
        return last, waiting
    end = analysed[-1]
    found = detect(waiting[end].image)
    yield from _carried(waiting[:end], last, found)
    yield waiting[end], found, True
    return found, waiting[end + 1:]


def _carried(waiting: list[Frame], first: Detections | None,
             second: Detections) -> Iterator[tuple[Frame, Detections | None, bool]]:
    """The frames between two keyframes with their carried faces (before a range's first keyframe there are only
    frames outside the sample)."""
    analysed = sum(frame.grey is not None for frame in waiting)
    position = 0
    for frame in waiting:
        if frame.grey is None:
            yield frame, None, False
            continue
        position += 1
        yield frame, between(first, second, position / (analysed + 1)), False
