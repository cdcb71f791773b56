"""The classifier stage: a stateful ``map_batches`` callable run by an actor pool (one GPU per actor when the
cluster has GPUs). The model is loaded once per actor; crops come in, probabilities go out, crops are dropped.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .schema import EMOTION_COLUMNS


class EmotionActor:
    def __init__(self, model_bytes: bytes, batch_size: int, model_name: str = "model.keras", mirror: bool = False):
        """``model_bytes``: the artifact file itself. It travels with the actor through Ray's object store, so a
        worker node needs no shared disk and no copy of the driver's ``--model`` path."""
        # Heavy imports here, in the actor process, never in the driver's module scope.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from fervid.model.predict import EmotionClassifier

        with tempfile.TemporaryDirectory(prefix="fervid-model-") as folder:
            path = Path(folder) / model_name
            path.write_bytes(model_bytes)
            self.classifier = EmotionClassifier(path, batch_size=batch_size, mirror=mirror)
        if tuple(self.classifier.labels) != EMOTION_COLUMNS:
            raise ValueError(f"{model_name}: expected the labels {list(EMOTION_COLUMNS)}. "
                             f"Received {list(self.classifier.labels)}")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Adds one column per emotion, ``emotion`` and ``confidence``; range summary rows get zeros and ""."""
        crops = batch.pop("crop")
        faces = batch["face_index"] >= 0
        probabilities = np.zeros((len(crops), len(EMOTION_COLUMNS)), np.float32)
        if faces.any():
            probabilities[faces] = self.classifier.predict(crops[faces])
        best = probabilities.argmax(axis=1)
        batch.update({name: probabilities[:, i] for i, name in enumerate(EMOTION_COLUMNS)})
        batch["emotion"] = np.where(faces, np.asarray(EMOTION_COLUMNS, object)[best], "").astype(object)
        batch["confidence"] = probabilities.max(axis=1)
        return batch
