"""Record each shipped model's probabilities on a few FER2013 val faces, under the JAX backend.

    KERAS_BACKEND=jax .venv/bin/python tests/model/make_shipped_expectations.py

Run it whenever a file in fervid/models/ changes; tests/model/test_shipped_model.py then checks, under TensorFlow,
that the same files predict the same numbers (the cross-backend parity the GPU training needs).
"""

import hashlib
import json
from pathlib import Path

import keras

from fervid.model.artifact import SHIPPED_MODELS, find_model
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
    recorded = {}
    for name in SHIPPED_MODELS:
        model = find_model(name)
        recorded[name] = {"model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
                          "backend": keras.backend.backend(),
                          "faces": [f"{path.parent.name}/{path.name}" for path in files],
                          "probabilities": EmotionClassifier(model).predict(faces).round(7).tolist()}
    (HERE / "shipped_model_expected.json").write_text(json.dumps(recorded, indent=1))
    print(f"recorded {len(files)} faces for {', '.join(SHIPPED_MODELS)} under {keras.backend.backend()}")
