"""Cutting a face to the 48x48 frame the model learnt: by its detector box, turned level, or aligned by keypoints.

FER2013 faces are registered: eyes level, at about the same height and distance apart in every image. A box crop
(``fervid.pipeline.detect.crop_faces``) copies FER2013's framing around the box but keeps the face's roll (a
tilted head stays tilted). ``level_crops``, what fervid uses with BlazeFace, keeps that framing and turns the
crop about the box centre until the two eyes BlazeFace found are level. ``aligned_crops`` goes further and maps
the keypoints (eyes, nose tip, mouth) onto where they sit in FER2013's own faces (``FER2013_KEYPOINTS``) with the
least-squares similarity (rotation, one scale, shift); it was measured and not chosen
(docs/accuracy.md, "Accuracy on real video"): it helped the photos and cost FER2013 crops up to 2.4 points.

Downscaling a 300-pixel face to 48 with a plain affine warp aliases (it samples, it does not average), so the
face is first shrunk by block means to 4-8 times the crop's size, turned there and then shrunk with ``INTER_AREA``,
like a box crop (``warp_crop``).

The crop's grey levels are the classifier's business: the model equalizes every face it is given (its artifact's
``input_normalization``, ``fervid.model.normalize``), which is what FER2013's faces went through. Until crop version
3, every crop was first finished by ``match_fer2013`` (contrast and detail raised to FER2013's median), which was
compensating for that missing equalization without knowing it; with the model equalizing, the finishing made the
dev photos worse (190 of 280 against 199 without it, clips alike: docs/accuracy.md, "Accuracy on real video"), so
it is kept only as a measured alternative for ``benchmarks/video_accuracy.py``.
"""

from __future__ import annotations

import numpy as np

from fervid.model.labels import INPUT_SIZE

# Where each BlazeFace model puts the right eye, left eye, nose tip and mouth centre of a 48x48 FER2013 face (x, y
# pixels; the subject's right eye is on the image's left): medians over the FER2013 val faces it finds, averaged
# with their mirror image since training flips faces (``benchmarks/video_accuracy.py --template``). The two
# models place the points a little differently, so each gets its own.
FER2013_KEYPOINTS = {
    "blazeface-full": np.array([[15.10, 19.36], [32.90, 19.36], [24.00, 28.43], [24.00, 36.32]], np.float32),
    "blazeface-short": np.array([[15.46, 18.78], [32.54, 18.78], [24.00, 27.42], [24.00, 35.94]], np.float32),
}
# Recorded with every output (``--resume`` refuses to mix crops cut another way): 4 = as 3, and the default
# detector's short-range look finds the faces its full-range looks miss (boxes reframed); 3 = level where the
# detector finds eyes, grey levels left to the model's input normalization; 2 also finished them by match_fer2013;
# 1 was the plain box crop.
CROP_VERSION = 4


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + uniform scale + shift that maps ``source`` (N, 2) points closest to ``target`` in the
    least-squares sense (points as complex numbers: one complex factor and one complex shift)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_mean, target - target_mean
    norm = float((s ** 2).sum())
    if norm == 0:
        raise ValueError(f"Expected keypoints that are not all one point. Received {source.tolist()}")
    a = float((s * t).sum()) / norm
    b = float((s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum()) / norm
    rotation = np.array([[a, -b], [b, a]])
    return np.hstack([rotation, (target_mean - rotation @ source_mean)[:, None]])


def warp_crop(frame: np.ndarray, matrix: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """``size`` x ``size`` grey crop of ``frame`` (BGR or grey) through the 2x3 frame-to-crop ``matrix``; edges
    beyond the frame repeat its border (as the training augmentation does).

    A direct warp would sample a large face instead of averaging it. So only the part of the frame under the crop
    is made grey, shrunk by a whole factor with ``INTER_AREA`` (its fast path: block means) until the face is 4-8
    times the crop's size, turned and shifted there, and shrunk with ``INTER_AREA`` to ``size``: as sharp as a
    box crop. Turning a close 1080p face at its own resolution made finding the faces of a frame cost 8.5 ms, not
    6.3 (BlazeFace itself: 3.6 ms).
    """
    import cv2

    matrix = np.asarray(matrix, np.float64)
    scale = min(np.hypot(matrix[0, 0], matrix[1, 0]), np.hypot(matrix[0, 1], matrix[1, 1]))  # crop px per frame px
    step = max(1, int(1 / (4 * scale)))  # frame pixels per pixel of the shrunk face
    # The frame pixels the crop reads: its corners mapped back, two shrunk pixels more for the bilinear warp.
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
    reached = corners @ cv2.invertAffineTransform(matrix).T
    height, width = frame.shape[:2]
    x0, y0 = (np.clip(np.floor(reached.min(axis=0)) - 2 * step, 0, [width - 1, height - 1])).astype(int)
    x1, y1 = (np.clip(np.ceil(reached.max(axis=0)) + 2 * step, [x0 + 1, y0 + 1], [width, height])).astype(int)
    part = frame[y0:y1, x0:x1]
    if part.ndim == 3:
        part = cv2.cvtColor(part, cv2.COLOR_BGR2GRAY)
    if step > 1:
        # Padded to whole blocks; a padded block lies beyond what the crop reads, or at the frame's own border.
        rows, cols = -len(part) % step, -part.shape[1] % step
        part = cv2.copyMakeBorder(part, 0, rows, 0, cols, cv2.BORDER_REPLICATE)
        part = cv2.resize(part, (part.shape[1] // step, len(part) // step), interpolation=cv2.INTER_AREA)
    # The matrices place pixels by their corners, as a box does: shrunk pixel (u, v) is the block from frame pixel
    # (x0 + step * u, y0 + step * v).
    matrix = matrix @ np.array([[step, 0, x0], [0, step, y0], [0, 0, 1]])
    scale_x, scale_y = np.hypot(matrix[0, 0], matrix[1, 0]), np.hypot(matrix[0, 1], matrix[1, 1])
    # The output at (up to) the shrunk face's resolution: a canvas of size / scale pixels a side, then INTER_AREA.
    canvas_w, canvas_h = (max(size, int(np.ceil(size / s))) for s in (scale_x, scale_y))
    canvas = np.diag([canvas_w / size, canvas_h / size]) @ matrix
    # warpAffine places pixels by their centres: half a pixel in, through the map, half a pixel out. (A turned
    # face lands that much off otherwise: up to 0.7 shrunk pixels, several frame pixels for a large face.)
    canvas[:, 2] += canvas[:, :2] @ [0.5, 0.5] - 0.5
    turned = cv2.warpAffine(part, canvas, (canvas_w, canvas_h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(turned, (size, size), interpolation=cv2.INTER_AREA)


def level_crops(frame: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, margins) -> np.ndarray:
    """uint8 (N, 48, 48) grayscale crops of each box grown by ``margins`` (left, top, right, bottom shares, the
    detector's FER2013 framing), turned about the box centre so the eyes (keypoints 0 and 1) are level.
    ``frame``: BGR, or grey (``Frame.grey``)."""
    import cv2

    left, top, right, bottom = margins
    crops = np.empty((len(boxes), INPUT_SIZE, INPUT_SIZE), np.uint8)
    for i, ((x, y, w, h), points) in enumerate(zip(np.asarray(boxes, np.float64), keypoints)):
        (right_x, right_y), (left_x, left_y) = points[0], points[1]
        angle = np.degrees(np.arctan2(left_y - right_y, left_x - right_x))
        turn = np.vstack([cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, 1.0), [0, 0, 1]])
        to_crop = np.array([[INPUT_SIZE / (w * (1 + left + right)), 0, 0],
                            [0, INPUT_SIZE / (h * (1 + top + bottom)), 0], [0, 0, 1]])
        from_corner = np.array([[1, 0, -(x - left * w)], [0, 1, -(y - top * h)], [0, 0, 1]])
        crops[i] = warp_crop(frame, (to_crop @ from_corner @ turn)[:2])
    return crops


def aligned_crops(frame_bgr: np.ndarray, keypoints: np.ndarray, template: np.ndarray) -> np.ndarray:
    """uint8 (N, 48, 48) grayscale faces with their keypoints (N, >=4, 2) moved onto FER2013's (``template``,
    one of ``FER2013_KEYPOINTS``)."""
    crops = np.empty((len(keypoints), INPUT_SIZE, INPUT_SIZE), np.uint8)
    for i, points in enumerate(keypoints):
        crops[i] = warp_crop(frame_bgr, similarity(points[:len(template)], template))
    return crops


# FER2013's own faces, measured on the 3,589 val faces (benchmarks/video_accuracy.py prints both): the median
# standard deviation of a face's grey levels, and the median variance of its Laplacian (fine detail).
FER2013_CONTRAST = 74.6
FER2013_DETAIL = 5306.0
MAX_SHARPEN = 3.0  # unsharp-mask amount at most: beyond it, noise and compression blocks are what gets sharper


def match_fer2013(crops: np.ndarray) -> np.ndarray:
    """uint8 (N, 48, 48) crops brought up to FER2013's contrast and detail where they fall short of its median.
    Not used by the product since crop version 3 (the module docstring says why); ``benchmarks/video_accuracy.py``
    still measures it.

    A crop flatter than FER2013's median face is stretched about its mean to that contrast; a crop softer than its
    median face is unsharp-masked (Gaussian sigma 1) with the amount that brings its Laplacian variance to the
    median, about (1 + amount)^2 times the crop's own. Crops already like FER2013's are left as they are, so the
    model's FER2013 accuracy stays (63.53% against 63.67% on val with every face finished).
    """
    import cv2

    out = np.empty_like(crops)
    for i, crop in enumerate(crops):
        face = crop.astype(np.float32)
        spread = float(face.std())
        if 1.0 <= spread < FER2013_CONTRAST:
            face = (face - face.mean()) * (FER2013_CONTRAST / spread) + face.mean()
            face = np.clip(face, 0, 255)
        detail = float(cv2.Laplacian(face, cv2.CV_32F).var())
        amount = min(MAX_SHARPEN, np.sqrt(FER2013_DETAIL / detail) - 1) if detail > 0 else 0.0
        if amount > 0:
            face = face * (1 + amount) - amount * cv2.GaussianBlur(face, (0, 0), 1.0)
        out[i] = np.clip(np.rint(face), 0, 255).astype(np.uint8)
    return out
