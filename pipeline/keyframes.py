"""Detection on every k-th analysed frame (``--detect-every K``), faces carried to the frames between.

A face moves a few pixels from one frame to the next, while the detector is the largest per-frame cost in HD video.
With ``every = K > 1`` the detector runs on analysed frames 0, K, 2K, ... of a range (and on its last one); each
frame between two such *keyframes* gets its faces from theirs, so every frame still gets its crops, probabilities
and track ids:

- a face found at both keyframes (boxes matched by overlap, ``MIN_IOU``) is placed on the straight line between its
  two detections: box, keypoints and score, in proportion to the frame's place between them;
- a face found at only one of them (it came, went, or the shot changed) is kept as that keyframe found it, on the
  frames nearer to that keyframe.

The frames between wait for the next keyframe (at most K - 1 decoded frames in memory). Every frame keeps its order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from .video import Frame

Detections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (N, 4) x, y, w, h; scores (N,); keypoints (N, 6, 2)
MIN_IOU = 0.3  # a face moves far less than this between keyframes a few frames apart; two faces rarely overlap so


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
                         every: int = 1) -> Iterator[tuple[Frame, Detections | None]]:
    """Each frame, in order, with its faces: ``detect``'s on keyframes, carried (``between``) on the analysed frames
    between, None on frames outside the ``--fps`` sample (no image)."""
    last: Detections | None = None  # the last keyframe's faces
    waiting: list[Frame] = []  # frames after it, not given yet
    analysed = 0
    for frame in frames:
        if frame.image is not None and analysed % every == 0:
            found = detect(frame.image)
            yield from _carried(waiting, last, found)
            yield frame, found
            last, waiting = found, []
        else:
            waiting.append(frame)
        analysed += frame.image is not None
    images = [i for i, frame in enumerate(waiting) if frame.image is not None]
    if images:  # the range ends between keyframes: its last analysed frame is one too
        end = images[-1]
        found = detect(waiting[end].image)
        yield from _carried(waiting[:end], last, found)
        yield waiting[end], found
        waiting = waiting[end + 1:]
    yield from ((frame, None) for frame in waiting)


def _carried(waiting: list[Frame], first: Detections | None,
             second: Detections) -> Iterator[tuple[Frame, Detections | None]]:
    """The frames between two keyframes with their carried faces (before a range's first keyframe there are only
    frames outside the sample)."""
    analysed = sum(frame.image is not None for frame in waiting)
    position = 0
    for frame in waiting:
        if frame.image is None:
            yield frame, None
            continue
        position += 1
        yield frame, between(first, second, position / (analysed + 1))
