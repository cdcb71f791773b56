"""Faces in, probabilities out: the one inference path shared by evaluation, the pipeline and notebooks."""

from __future__ import annotations

import os

import numpy as np

from .labels import INPUT_SIZE


class EmotionClassifier:
    """Loads an artifact once; ``predict`` maps uint8 (N, 48, 48) faces to float32 (N, classes).

    ``mirror=True`` averages each face with its mirror image (test-time augmentation: twice the compute,
    a little more accuracy; the FINDINGS recipe gained 0.4 points).
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, mirror: bool = False,
                 batch_size: int = 256):
        from .artifact import load_artifact

        self.model, self.info = load_artifact(model_path)
        self.labels = self.info.labels
        self.mirror = mirror
        self.batch_size = batch_size

    def predict(self, faces: np.ndarray) -> np.ndarray:
        faces = np.asarray(faces)
        if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"Expected faces of shape (N, 48, 48). Received {faces.shape}")
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        probabilities = self._predict(faces)
        if self.mirror:
            probabilities = (probabilities + self._predict(faces[:, :, ::-1])) / 2
        return probabilities.astype(np.float32)

    def _predict(self, faces: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(faces, dtype=np.float32)[..., None]
        # Fixed-size batches: one compiled graph serves every call, whatever N is.
        out = []
        for start in range(0, len(x), self.batch_size):
            chunk = x[start:start + self.batch_size]
            padded = np.zeros((self.batch_size, *chunk.shape[1:]), np.float32)
            padded[: len(chunk)] = chunk
            out.append(np.asarray(self.model.predict_on_batch(padded))[: len(chunk)])
        return np.concatenate(out)
