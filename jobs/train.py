"""Ray Train job: the paper's CNN trained data-parallel on a Ray cluster (or a local Ray).

    ray job submit --working-dir . -- python jobs/train.py --data /data/fer2013 --out /runs/r1 \
        --workers 4 --gpus-per-worker 1
    python jobs/train.py --smoke-test     # the whole job on CPU, 2 workers, on a tiny set it builds itself

Every option of `fervid train` is accepted; `--workers` defaults to 2 here. The smoke test exits non-zero
unless the loss went down and the workers ended with identical weights.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def smoke_test() -> None:
    from fervid.model.data import write_synthetic_faces
    from fervid.model.distributed import DistributedConfig, train_distributed
    from fervid.model.train import TrainConfig

    with tempfile.TemporaryDirectory(prefix="fervid-smoke-") as folder:
        data = write_synthetic_faces(Path(folder) / "data", per_class=24)
        out = Path(folder) / "run"
        config = TrainConfig(epochs=3, batch_size=16, learning_rate=3e-3, oversample_floor=0.0)
        train_distributed(data, out, config, DistributedConfig(workers=2))
        history = json.loads((out / "history.json").read_text())
    losses = [row["loss"] for row in history]
    spread = history[-1]["weights_spread"]
    print(f"smoke test: loss {losses[0]:.4f} -> {losses[-1]:.4f}, weights spread across workers {spread:.3g}")
    if not (losses[-1] < losses[0] and spread < 1e-12):
        sys.exit("smoke test failed: the loss did not go down or the workers' weights differ")


def main(argv: list[str]) -> None:
    if "--smoke-test" in argv:
        smoke_test()
        return
    from fervid.cli import main as fervid_main

    if not any(arg.startswith("--workers") for arg in argv):
        argv = [*argv, "--workers", "2"]
    fervid_main(["train", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
