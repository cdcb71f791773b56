"""CPU-side augmentation and class balancing, in numpy + OpenCV.

Done outside the model on purpose: Keras' random preprocessing layers made one epoch take 190 s instead of
under 1 s on the H200 under JAX (FINDINGS.md), and they would need TensorFlow's image ops on CPU anyway.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True  # mirror half of the faces, as the paper's ImageDataGenerator did
    rotation_deg: float = 10.0  # uniform in +-rotation_deg
    zoom: float = 0.1  # scale uniform in 1 +- zoom
    shift: float = 0.1  # translation uniform in +-shift * 48 px


def augment(images: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """Random flip + affine (rotation, zoom, shift) of uint8 (N, 48, 48) faces; returns a new array."""
    import cv2

    n, height, width = images.shape
    flips = rng.random(n) < 0.5 if config.flip else np.zeros(n, bool)
    angles = rng.uniform(-config.rotation_deg, config.rotation_deg, n)
    scales = rng.uniform(1 - config.zoom, 1 + config.zoom, n)
    shifts = rng.uniform(-config.shift, config.shift, (n, 2)) * (width, height)
    out = np.empty_like(images)

    def warp(index: range) -> None:
        for i in index:
            face = images[i, :, ::-1] if flips[i] else images[i]
            matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angles[i], scales[i])
            matrix[:, 2] += shifts[i]
            out[i] = cv2.warpAffine(np.ascontiguousarray(face), matrix, (width, height),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    # OpenCV releases the GIL, so threads use every core for this part of the epoch.
    chunks = [range(start, min(start + 2048, n)) for start in range(0, n, 2048)]
    with ThreadPoolExecutor() as pool:
        list(pool.map(warp, chunks))
    return out


def balanced_order(labels: np.ndarray, rng: np.random.Generator, floor: float) -> np.ndarray:
    """A shuffled epoch of indices where every class appears at least ``floor`` x the largest class's count.

    Minority classes are drawn again with replacement (each copy augmented differently); ``floor=0`` keeps the
    natural distribution. FER2013 has 436 disgust faces against 7,215 happy ones.
    """
    counts = np.bincount(labels)
    target = int(floor * counts.max())
    order = []
    for label, count in enumerate(counts):
        members = np.flatnonzero(labels == label)
        if count == 0:
            continue
        extra = rng.choice(members, size=max(0, target - count), replace=True)
        order.append(np.concatenate([members, extra]))
    return rng.permutation(np.concatenate(order))
