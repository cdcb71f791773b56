import json
from pathlib import Path

import numpy as np
import pytest

from fervid.model.artifact import load_artifact
from fervid.model.data import write_synthetic_faces
from fervid.model.distributed import OPTIMIZER_FILE, DistributedConfig, latest_checkpoint, train_distributed
from fervid.model.train import TrainConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_local():
    import ray

    yield
    ray.shutdown()


def test_two_cpu_workers_train_in_sync_and_lower_the_loss(ray_local, tmp_path):
    data = write_synthetic_faces(tmp_path / "data", per_class=24)
    config = TrainConfig(epochs=3, batch_size=16, learning_rate=3e-3, oversample_floor=0.0)
    path = train_distributed(data, tmp_path / "run", config, DistributedConfig(workers=2), log=lambda _: None)

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["loss"] < history[0]["loss"]
    # Relative spread of the two workers' weight digests: 0 up to float64 rounding of the multi-threaded sum
    # when every weight is the same; workers that did not all-reduce differ by ~1e-3.
    assert all(row["weights_spread"] < 1e-12 for row in history)
    model, info = load_artifact(path)  # the same artifact format as a one-process run
    assert info.training["workers"] == 2 and model.count_params() == 4_478_727
    assert (tmp_path / "run" / "history.png").exists()

    after_three = optimizer_steps(tmp_path / "run")
    assert after_three > 0 and after_three % 3 == 0

    # --resume: one more epoch on top of the last checkpoint, not a fresh start.
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    saved["train"]["epochs"] = 4
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    train_distributed("ignored", tmp_path / "run", dist=DistributedConfig(workers=2), resume=True, log=lambda _: None)
    resumed = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [row["epoch"] for row in resumed] == [1, 2, 3, 4] and resumed[:3] == history
    # The optimizer's step count (it drives the LR schedule) went on from epoch 3: restored, not restarted.
    assert optimizer_steps(tmp_path / "run") == after_three * 4 // 3


def optimizer_steps(run) -> int:
    """The step count in the run's latest Ray Train checkpoint (the first array ``save_optimizer`` writes)."""
    with latest_checkpoint(str(run / "ray")).as_directory() as folder, np.load(Path(folder, OPTIMIZER_FILE)) as saved:
        return int(saved["arr_0"])


def test_a_worker_killed_mid_run_resumes_from_the_last_checkpoint(ray_local, tmp_path):
    """SIGKILL one Ray Train worker once epoch 1's checkpoint exists: with max_failures=1 the worker group restarts
    from that checkpoint and the run ends with every epoch once in its history."""
    import threading
    import time

    import psutil

    data = write_synthetic_faces(tmp_path / "data", per_class=24)
    run = tmp_path / "run"
    killed = []

    def kill_a_worker_after_the_first_checkpoint():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not killed:
            if list((run / "ray" / "fervid-train").glob("checkpoint_*")):
                workers = [p for p in psutil.process_iter(["cmdline"])
                           if "RayTrainWorker" in " ".join(p.info["cmdline"] or [])]
                if workers:
                    time.sleep(1)  # into epoch 2
                    workers[-1].kill()
                    killed.append(workers[-1].pid)
            time.sleep(0.2)

    killer = threading.Thread(target=kill_a_worker_after_the_first_checkpoint)
    killer.start()
    config = TrainConfig(epochs=3, batch_size=16, learning_rate=3e-3, oversample_floor=0.0)
    train_distributed(data, run, config, DistributedConfig(workers=2, max_failures=1), log=lambda _: None)
    killer.join()
    assert killed, "no Ray Train worker was found to kill"
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert all(row["weights_spread"] < 1e-12 for row in history)
