"""Record the shipped model's probabilities on a few FER2013 val faces, under the JAX backend.

    KERAS_BACKEND=jax .venv/bin/python tests/model/make_shipped_expectations.py

Run it whenever fervid/models/fer2013.keras changes; tests/model/test_shipped_model.py then checks, under
TensorFlow, that the same file predicts the same numbers (the cross-backend parity the GPU training needs).
"""

import hashlib
import json
from pathlib import Path

import keras

from fervid.model.artifact import default_model_path
from fervid.model.predict import EmotionClassifier

HERE = Path(__file__).resolve().parent
VAL = HERE.parents[1] / ".." / "shared" / "data" / "fer2013" / "val"


def parity_faces(val: Path) -> list[Path]:
    """The first two images (by name) of each class: fixed, and from every class."""
    return [path for folder in sorted(val.iterdir()) for path in sorted(folder.iterdir())[:2]]


if __name__ == "__main__":
    import cv2
    import numpy as np

    files = parity_faces(VAL)
    faces = np.stack([cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in files])
    model = default_model_path()
    probabilities = EmotionClassifier().predict(faces)
    (HERE / "shipped_model_expected.json").write_text(json.dumps({
        "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "backend": keras.backend.backend(),
        "faces": [f"{path.parent.name}/{path.name}" for path in files],
        "probabilities": probabilities.round(7).tolist()}, indent=1))
    print(f"recorded {len(files)} faces under {keras.backend.backend()}")
