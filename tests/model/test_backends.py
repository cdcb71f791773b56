"""The trainer must run under JAX with TensorFlow absent (the GPU machine has no TensorFlow), and what it
trains must load and predict the same under TensorFlow."""

import json
import subprocess
import sys

import numpy as np
import pytest

from fervid.model.predict import EmotionClassifier

pytest.importorskip("jax", reason="the JAX backend test needs `pip install jax` (part of the dev extra)")

JAX_RUN = """
import json, sys


class BlockTensorFlow:  # from here on, any `import tensorflow` raises ImportError, as on the GPU machine
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tf_keras"):
            raise ImportError(f"{name} is blocked: this process must run without TensorFlow")


sys.meta_path.insert(0, BlockTensorFlow())
import os
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np
from fervid.model.data import write_synthetic_faces
from fervid.model.predict import EmotionClassifier
from fervid.model.train import TrainConfig, train
import keras

folder = sys.argv[1]
data = write_synthetic_faces(folder + "/data", per_class=8)
path = train(data, folder + "/run", TrainConfig(epochs=1, batch_size=16), log=lambda _: None)
faces = np.random.default_rng(7).integers(0, 256, (6, 48, 48), dtype=np.uint8)
np.save(folder + "/faces.npy", faces)
np.save(folder + "/jax_probabilities.npy", EmotionClassifier(path).predict(faces))
print(json.dumps({"backend": keras.backend.backend(), "tensorflow_loaded": "tensorflow" in sys.modules}))
"""


def test_training_runs_under_jax_without_tensorflow_and_tensorflow_predicts_the_same(tmp_path):
    done = subprocess.run([sys.executable, "-c", JAX_RUN, str(tmp_path)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"backend": "jax", "tensorflow_loaded": False}
    faces = np.load(tmp_path / "faces.npy")
    under_tensorflow = EmotionClassifier(tmp_path / "run" / "model.keras").predict(faces)
    np.testing.assert_allclose(under_tensorflow, np.load(tmp_path / "jax_probabilities.npy"), atol=1e-4)
