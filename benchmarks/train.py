"""Training throughput: one process against 2 Ray Train workers, same data, same recipe, side by side.

    .venv/bin/python benchmarks/train.py [--per-class 300] [--epochs 3]

Both runs go through the library calls users run (`train` and `train_distributed`), on a FER2013 sample
(or generated faces when ../shared is absent). The first epoch pays for graph compilation and Ray start-up,
so images/s is taken over the later epochs (each includes a small validation pass, the same in both).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def images_per_second(run: Path, images_per_epoch: int) -> float:
    seconds = [row["seconds"] for row in json.loads((run / "history.json").read_text())[1:]]
    return images_per_epoch / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=300, help="training images per class")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    from fervid.model.data import write_synthetic_faces
    from fervid.model.distributed import DistributedConfig, train_distributed
    from fervid.model.train import TrainConfig, load_splits, train

    with tempfile.TemporaryDirectory(prefix="fervid-bench-") as folder:
        data = REPO / ".." / "shared" / "data" / "fer2013"
        if not data.exists():
            data = write_synthetic_faces(Path(folder) / "faces", per_class=args.per_class)
        config = TrainConfig(epochs=args.epochs, batch_size=128, limit_per_class=args.per_class,
                             oversample_floor=0.0)
        images = len(load_splits(data, None, config).train) // config.batch_size * config.batch_size
        quiet = lambda _: None  # noqa: E731
        train(data, Path(folder) / "one", config, log=quiet)
        one = images_per_second(Path(folder) / "one", images)
        train_distributed(data, Path(folder) / "ray", config, DistributedConfig(workers=2), log=quiet)
        two = images_per_second(Path(folder) / "ray", images)
    print(f"training on {images} images/epoch, batch 128, epochs 2..{args.epochs} timed")
    print(f"  one process          {one:8.1f} images/s")
    print(f"  Ray Train, 2 workers {two:8.1f} images/s   ratio {two / one:.2f}x")


if __name__ == "__main__":
    main()
