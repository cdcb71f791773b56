"""Classifier throughput, with and without mirror test-time augmentation, side by side.

    .venv/bin/python benchmarks/classifier.py [--model PATH.keras] [--faces 4096] [--batch-size 256]

The same ``EmotionClassifier`` the pipeline's actors use; faces are random 48x48 crops (speed does not depend on
content). ``--mirror`` doubles the work; its accuracy gain is measured by ``fervid evaluate --mirror``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def faces_per_second(classifier, faces: np.ndarray) -> float:
    classifier.predict(faces[: classifier.batch_size])  # the first call builds the graph: not timed
    started = time.perf_counter()
    classifier.predict(faces)
    return len(faces) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="artifact; default: the shipped model, else an untrained one")
    parser.add_argument("--faces", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras

    from fervid.model.predict import EmotionClassifier
    from fervid.pipeline.smoke import model_or_untrained

    with tempfile.TemporaryDirectory() as folder:
        model = model_or_untrained(args.model, Path(folder))
        faces = np.random.default_rng(0).integers(0, 256, (args.faces, 48, 48), dtype=np.uint8)
        plain = faces_per_second(EmotionClassifier(model, batch_size=args.batch_size), faces)
        mirror = faces_per_second(EmotionClassifier(model, batch_size=args.batch_size, mirror=True), faces)
    print(f"{args.faces} faces, batch {args.batch_size}, Keras backend {keras.backend.backend()}, "
          f"{os.cpu_count()} CPUs")
    print(f"  plain              {plain:8.1f} faces/s")
    print(f"  mirror TTA         {mirror:8.1f} faces/s   ratio {mirror / plain:.2f}x")


if __name__ == "__main__":
    main()
