"""The classifier stage: a stateful ``map_batches`` callable run by an actor pool (one GPU per actor when the
cluster has GPUs). The model is loaded once per actor; crops come in, probabilities go out, crops are dropped.

On CPUs the actor runs the int8 twin of the model with LiteRT (``fervid.model.predict``): the driver makes the twin
once (``fervid.model.tflite.ensure_tflite``) and hands over its bytes, so the actor never imports TensorFlow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .schema import EMOTION_COLUMNS


def _content(value):
    """Bytes given as they are, or by a Ray object reference (what the job passes)."""
    if value is None or isinstance(value, bytes):
        return value
    import ray

    return ray.get(value)


class EmotionActor:
    def __init__(self, model_bytes, batch_size: int | None, model_name: str = "model.keras", mirror: bool = False,
                 engine: str = "auto", gpu: bool = False, tflite_bytes=None, num_threads: int | None = None):
        """``model_bytes``: the artifact file itself, as bytes or as a reference to them in Ray's object store, so
        a worker node needs no shared disk and no copy of the driver's ``--model`` path. (The job passes references,
        put once, so the actor pool's own pickled arguments stay small.)

        ``batch_size``: faces per engine call (None: the engine's own). ``engine`` and ``gpu`` choose the engine
        (``fervid.model.predict.make_classifier``: ``auto`` is LiteRT int8 unless the actor holds a GPU).
        ``tflite_bytes``: the artifact's int8 twin, for ``litert-int8``; without it the actor looks for one
        (``fervid.model.tflite``) and, finding none, converts the artifact itself with TensorFlow. ``num_threads``:
        LiteRT's threads (default: every CPU the actor may use).
        """
        # Heavy imports here, in the actor process, never in the driver's module scope.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from fervid.model.predict import make_classifier

        with tempfile.TemporaryDirectory(prefix="fervid-model-") as folder:
            path = Path(folder) / model_name
            path.write_bytes(_content(model_bytes))
            self.classifier = make_classifier(path, engine, mirror=mirror, batch_size=batch_size, gpu=gpu,
                                              tflite=_content(tflite_bytes), num_threads=num_threads)
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
