"""Data-parallel training on Ray Train: ``fervid train --workers N`` and ``jobs/train.py``.

``TensorflowTrainer`` starts N workers and sets ``TF_CONFIG`` so they form one
``MultiWorkerMirroredStrategy``. Each worker reads its own shard of the training set through
``ray.train.get_dataset_shard`` (Ray Data), augments it with the same numpy code as single-process training,
and runs a custom training step: Keras 3's ``model.fit`` fails under that strategy (FINDINGS.md; keras#20585),
while ``strategy.run`` + ``optimizer.apply_gradients`` all-reduces the gradients correctly. Rank 0 reports
metrics and checkpoints through ``ray.train.report``; the driver turns the best checkpoint into the same
artifact a one-process run writes, plus the same history files.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fervid.cluster import ray_address
from fervid.errors import FervidError

from .network import NetworkConfig
from .train import TrainConfig, class_prior, load_splits, write_history

WEIGHTS_FILE = "model.weights.h5"
OPTIMIZER_FILE = "optimizer.npz"  # the optimizer's step count and moments, in ``optimizer.variables`` order
RUN_NAME = "fervid-train"  # Ray Train's run folder under the storage path


@dataclass(frozen=True)
class DistributedConfig:
    workers: int = 2  # data-parallel replicas; the global batch is split evenly between them
    gpus_per_worker: float = 0  # 1 on a GPU cluster; 0 trains on CPU
    cpus_per_worker: float = 1
    address: str | None = None  # a running cluster; None: RAY_ADDRESS, else a local Ray
    storage_path: str | None = None  # where Ray keeps checkpoints: folder or URI; None: OUT/ray
    max_failures: int = 0  # restarts of the worker group from the last checkpoint when a worker dies


def train_loop_per_worker(loop_config: dict) -> None:
    """Runs on every worker. Imports TensorFlow here, never on the driver's import path."""
    import keras
    import ray.train
    import tensorflow as tf

    from .augment import AugmentConfig, augment
    from .network import build_model
    from .train import make_loss, make_optimizer

    config = TrainConfig.from_dict(loop_config["train"])
    network = NetworkConfig(**loop_config["network"])
    context = ray.train.get_context()
    workers, rank = context.get_world_size(), context.get_world_rank()
    local_batch = config.batch_size // workers
    steps = loop_config["steps_per_epoch"]
    val_x, val_targets = loop_config["val_images"][..., None].astype(np.float32), loop_config["val_targets"]
    val_y = val_targets.argmax(axis=1)  # the majority label where the targets are vote shares
    loss_function = make_loss(config, np.asarray(loop_config["prior"]))

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = build_model(network)
        optimizer = make_optimizer(config, steps)
        optimizer.build(model.trainable_variables)

    history: list[dict] = []  # travels inside every checkpoint, so a restored run keeps its earlier epochs
    # A worker group restarted after a failure gets this run's latest checkpoint; a resumed run, its last one.
    checkpoint = ray.train.get_checkpoint() or loop_config["resume_from"]
    if checkpoint:  # continue after the last reported epoch
        with checkpoint.as_directory() as folder:
            model.load_weights(os.path.join(folder, WEIGHTS_FILE))
            restore_optimizer(optimizer, Path(folder, OPTIMIZER_FILE))
            state = json.loads(Path(folder, "state.json").read_text())
        history = state["history"]
    elif loop_config.get("init_weights"):
        model.set_weights(loop_config["init_weights"])

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            probabilities = model(x, training=True)
            per_face = loss_function.call(y, probabilities)  # per face; scaled below by the global batch
            # Scaled by the global batch, so the all-reduced (summed) gradient is the mean over all workers.
            loss = tf.nn.compute_average_loss(per_face, global_batch_size=config.batch_size)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        correct = tf.reduce_sum(tf.cast(tf.argmax(probabilities, 1) == tf.argmax(y, 1), tf.float32))
        return loss, correct

    @tf.function
    def train_step(x, y):
        loss, correct = strategy.run(replica_step, args=(x, y))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None))

    def local_digest():
        return tf.add_n([tf.reduce_sum(tf.abs(tf.cast(v.value, tf.float64))) for v in model.weights])

    @tf.function
    def sync_statistics():
        # BatchNorm's moving mean and variance follow each worker's own batches; averaging them after each
        # epoch keeps the replicas identical (the trainable weights already are, through the all-reduce).
        for variable in model.non_trainable_variables:
            local = strategy.run(lambda v=variable: tf.identity(v.value))
            variable.assign(strategy.reduce(tf.distribute.ReduceOp.MEAN, local, axis=None))

    @tf.function
    def weights_spread():
        # Relative deviation of the workers' weight digests from their mean: 0 when all replicas agree.
        mean = strategy.reduce(tf.distribute.ReduceOp.MEAN, strategy.run(local_digest), axis=None)
        deviation = strategy.run(lambda: tf.abs(local_digest() - mean))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, deviation, axis=None) / mean

    @tf.function
    def predict(x):
        return model(x, training=False)

    shard = ray.train.get_dataset_shard("train")
    augment_config = AugmentConfig(**loop_config["train"]["augment"])
    for epoch in range(len(history), config.epochs):
        started = time.monotonic()
        rng = np.random.default_rng([config.seed, epoch, rank])
        loss_sum, correct_sum, seen = 0.0, 0.0, 0
        # Every worker's shard has the same row count (equal split), so all take the same number of steps
        # and no worker waits forever in an all-reduce.
        batches = shard.iter_batches(batch_size=local_batch, drop_last=True, batch_format="numpy",
                                     local_shuffle_buffer_size=4 * local_batch, local_shuffle_seed=epoch)
        for step, batch in enumerate(batches):
            if step == steps:
                break
            x = augment(batch["image"], rng, augment_config)[..., None].astype(np.float32)
            y = batch["target"]
            loss, correct = train_step(tf.constant(x), tf.constant(y))
            loss_sum, correct_sum, seen = loss_sum + float(loss), correct_sum + float(correct), seen + 1
        sync_statistics()
        spread = float(weights_spread())
        val_probabilities = np.concatenate([predict(tf.constant(val_x[i:i + 256])).numpy()
                                            for i in range(0, len(val_x), 256)])
        val_loss = float(np.mean(keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(
            val_targets, val_probabilities))))
        val_accuracy = float(np.mean(val_probabilities.argmax(1) == val_y))
        metrics = {"epoch": epoch + 1, "loss": loss_sum / max(1, seen),
                   "accuracy": correct_sum / max(1, seen * config.batch_size), "val_loss": val_loss,
                   "val_accuracy": val_accuracy, "learning_rate": float(optimizer.learning_rate.numpy()),
                   "weights_spread": spread, "seconds": round(time.monotonic() - started, 2)}
        history.append(metrics)
        with tempfile.TemporaryDirectory() as folder:
            if rank == 0:
                model.save_weights(os.path.join(folder, WEIGHTS_FILE))
                save_optimizer(optimizer, Path(folder, OPTIMIZER_FILE))
                Path(folder, "state.json").write_text(json.dumps({"history": history}))
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
            else:
                ray.train.report(metrics)


def save_optimizer(optimizer, path: Path) -> None:
    """The step count (which drives the LR schedule) and Adam's moments, so a resumed or restarted run continues
    the same optimisation instead of restarting the moments from zero."""
    import keras

    np.savez(path, *[keras.ops.convert_to_numpy(variable) for variable in optimizer.variables])


def restore_optimizer(optimizer, path: Path) -> None:
    """Load what ``save_optimizer`` wrote into a built optimizer of the same configuration."""
    with np.load(path) as saved:
        values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    if [value.shape for value in values] != [tuple(variable.shape) for variable in optimizer.variables]:
        raise FervidError(f"{path}: the optimizer state does not fit this model and optimizer")
    for variable, value in zip(optimizer.variables, values):
        variable.assign(value)  # in the strategy's cross-replica context: every replica gets it


def latest_checkpoint(storage_path: str):
    """The newest checkpoint an earlier run left (Ray names them checkpoint_<time>, so names sort by age)."""
    import pyarrow.fs as pafs
    import ray.train

    if "://" in storage_path:
        filesystem, root = pafs.FileSystem.from_uri(storage_path)
    else:
        filesystem, root = pafs.LocalFileSystem(), storage_path
    found = filesystem.get_file_info(pafs.FileSelector(f"{root}/{RUN_NAME}", allow_not_found=True))
    folders = sorted(info.path for info in found
                     if info.type == pafs.FileType.Directory and info.base_name.startswith("checkpoint_"))
    return ray.train.Checkpoint(folders[-1], filesystem=filesystem) if folders else None


def _ray_dataset(images: np.ndarray, targets: np.ndarray):
    import pyarrow as pa
    import ray.data
    from ray.data.extensions import ArrowTensorArray

    return ray.data.from_arrow(pa.table({"image": ArrowTensorArray.from_numpy(images),
                                         "target": ArrowTensorArray.from_numpy(targets)}))


def train_distributed(data, out, config: TrainConfig = TrainConfig(), dist: DistributedConfig = DistributedConfig(),
                      *, val=None, resume: bool = False, init_from: str | None = None, images=None,
                      log=print) -> Path:
    """Train with ``dist.workers`` data-parallel Ray Train workers; writes OUT/model.keras and OUT/history.*."""
    import ray
    import ray.train
    from ray.train.tensorflow import TensorflowTrainer

    from fervid import __version__

    from .artifact import ArtifactInfo, save_artifact
    from .augment import balanced_order
    from .network import build_model

    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not resume:
        raise FervidError(f"{out}: run folder exists and is not empty; pass --resume or choose another --out")
    if resume:  # the run's own settings, as a one-process --resume does
        if not (out / "config.json").exists():
            raise FervidError(f"{out}: nothing to resume (no config.json)")
        saved = json.loads((out / "config.json").read_text())
        config, data, val = TrainConfig.from_dict(saved["train"]), saved["data"], saved["val"]
        images = saved.get("images")
    storage_path = dist.storage_path or str(out / "ray")
    if config.batch_size % dist.workers:
        raise FervidError(f"batch size {config.batch_size} must divide evenly between {dist.workers} workers")
    splits = load_splits(data, val, config, images=images)
    log(f"train: {splits.train.summary()}")
    log(f"val:   {splits.val.summary()}")
    network = NetworkConfig(num_classes=len(splits.train.classes))
    # Minority classes are oversampled once up front; augmentation still differs every epoch.
    order = balanced_order(splits.train_targets.argmax(axis=1), np.random.default_rng(config.seed),
                           config.oversample_floor)
    # Each worker sees len/workers rows per epoch and takes local-batch steps.
    steps = max(1, len(order) // config.batch_size)
    init_weights = None
    if init_from:
        from .train import init_weights_from

        seed_model = build_model(network)
        log(f"initialised {init_weights_from(seed_model, init_from)} layers from {init_from}")
        init_weights = seed_model.get_weights()

    if not ray.is_initialized():
        ray.init(address=ray_address(dist.address), include_dashboard=False, log_to_driver=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"train": asdict(config), "network": network.to_dict(),
                                                 "distributed": asdict(dist), "data": str(data),
                                                 "val": str(val) if val else None,
                                                 "images": str(images) if images else None}, indent=2))
    trainer = TensorflowTrainer(
        train_loop_per_worker,
        train_loop_config={"train": asdict(config), "network": network.to_dict(), "steps_per_epoch": steps,
                           "val_images": splits.val.images, "val_targets": splits.val_targets,
                           "prior": class_prior(splits.train_targets, config).tolist(),
                           "init_weights": init_weights,
                           # Ray 2.60 deprecates resume_from_checkpoint: the loop loads it itself.
                           "resume_from": latest_checkpoint(storage_path) if resume else None},
        scaling_config=ray.train.ScalingConfig(num_workers=dist.workers, use_gpu=dist.gpus_per_worker > 0,
                                               resources_per_worker={"CPU": dist.cpus_per_worker,
                                                                     "GPU": dist.gpus_per_worker}),
        datasets={"train": _ray_dataset(splits.train.images[order], splits.train_targets[order])},
        run_config=ray.train.RunConfig(
            name=RUN_NAME, storage_path=storage_path,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="val_accuracy",
                                                         checkpoint_score_order="max"),
            failure_config=ray.train.FailureConfig(max_failures=dist.max_failures)),
    )
    result = trainer.fit()
    if result.error:
        raise FervidError(f"Ray Train failed: {result.error}")
    # The latest checkpoint is always kept, and it carries the whole history.
    with result.checkpoint.as_directory() as folder:
        history = json.loads(Path(folder, "state.json").read_text())["history"]
    write_history(out, history)
    best_checkpoint, best_metrics = max(result.best_checkpoints, key=lambda pair: pair[1]["val_accuracy"])
    model = build_model(network)
    with best_checkpoint.as_directory() as folder:
        model.load_weights(os.path.join(folder, WEIGHTS_FILE))
    training = {"data": str(data), "val": str(val) if val else None, "train_images": len(splits.train),
                "val_images": len(splits.val), "epochs": len(history),
                "best_epoch": int(best_metrics["epoch"]), "val_accuracy": round(best_metrics["val_accuracy"], 4),
                "config": asdict(config), "workers": dist.workers, "backend": "tensorflow",
                "fervid": __version__, "init_from": init_from}
    path = save_artifact(model, out / "model.keras",
                         ArtifactInfo(labels=splits.train.classes, network=network, training=training,
                                      input_normalization=config.input_normalization))
    log(f"best epoch {best_metrics['epoch']}: val accuracy {best_metrics['val_accuracy']:.4f}; "
        f"weights spread across workers {history[-1]['weights_spread']:.3g}; artifact {path}")
    return path

