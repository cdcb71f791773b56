"""Classifier throughput of the two engines (TensorFlow fp32, LiteRT int8), and of mirror test-time augmentation.

    .venv/bin/python benchmarks/classifier.py [--model PATH.keras] [--faces 4096] [--batch-size 256]

The same ``make_classifier`` the pipeline's actors use, on the same random 48x48 faces (speed does not depend on
content). Target: int8 at 3x TensorFlow or more (FINDINGS.md, "Inference engines on this CPU"). ``--mirror``
doubles the work; its accuracy gain is measured by ``fervid evaluate --mirror``.
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
    parser.add_argument("--batch-size", type=int, help="faces per engine call; default: each engine's own")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from fervid.model.predict import make_classifier
    from fervid.pipeline.smoke import model_or_untrained

    faces = np.random.default_rng(0).integers(0, 256, (args.faces, 48, 48), dtype=np.uint8)
    speeds, lines = {}, []
    with tempfile.TemporaryDirectory() as folder:
        model = model_or_untrained(args.model, Path(folder))
        for engine in ("tensorflow", "litert-int8"):
            classifier = make_classifier(model, engine, batch_size=args.batch_size)
            speeds[engine] = faces_per_second(classifier, faces)
            lines.append(f"  {engine:<12} batch {classifier.batch_size:<4} {speeds[engine]:8.1f} faces/s   "
                         f"ratio {speeds[engine] / speeds['tensorflow']:.2f}x")
        mirror = faces_per_second(make_classifier(model, "litert-int8", batch_size=args.batch_size, mirror=True),
                                  faces)
    print(f"{args.faces} faces, {os.cpu_count()} CPUs")
    print("\n".join(lines))
    print(f"  litert-int8 mirror TTA    {mirror:8.1f} faces/s   ratio {mirror / speeds['litert-int8']:.2f}x "
          "(to plain litert-int8)")


if __name__ == "__main__":
    main()
