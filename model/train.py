"""Single-process training of the paper's CNN: ``fervid train --data DIR --out RUN_DIR``.

A run folder holds everything, so ``--resume`` can pick a run up where it stopped:

    RUN_DIR/config.json          the TrainConfig and the data it was given
    RUN_DIR/history.{csv,json,png}  loss and accuracy per epoch, train and val (the paper's "epoch history")
    RUN_DIR/checkpoints/last.keras  model + optimizer after the latest epoch (what --resume loads)
    RUN_DIR/checkpoints/best.weights.h5  weights of the best epoch on validation accuracy (or ``best_by``)
    RUN_DIR/state.json           epochs done, best epoch and its val accuracy, and each resume (after which epoch,
                                 when): the history plot marks them, so a card can show one cycle, not restarts
    RUN_DIR/model.keras          the final artifact (best epoch), written when the run completes
    RUN_DIR/faces/NAME.npz       faces cut from a CSV of labelled photos and clips (``fervid train --data labels.csv``)

Runs under any Keras 3 backend: TensorFlow here, JAX on the GPU machine (which has no TensorFlow).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from fervid.errors import FervidError

from .augment import AugmentConfig, augment, balanced_order
from .data import FaceDataset, csv_has_usage, load_dataset
from .network import NetworkConfig
from .normalize import check_normalization, normalize_faces


BEST_BY = ("val_accuracy", "val_mean_recall", "last")


@dataclass(frozen=True)
class TrainConfig:
    """Defaults are the recipe that beat the paper on an H200 (FINDINGS.md): 67.2% vs its 66.7%."""

    epochs: int = 60
    batch_size: int = 128
    optimizer: str = "adamw"  # "adam" is the paper's; "sgd" is SGD with Nesterov momentum 0.9
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4  # adamw and sgd only
    schedule: str = "cosine"  # cosine decay to 0 over the run, or "plateau": LR / 10 when val loss stalls
    label_smoothing: float = 0.1
    oversample_floor: float = 0.25  # minority classes drawn up to this share of the largest (0 = off)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    val_fraction: float = 0.1  # held out from the training data when no validation set is given
    limit_per_class: int | None = None  # a sample for quick runs; None = all images
    seed: int = 0
    # How every face is brought in before training (fervid.model.normalize), recorded in the artifact so inference
    # does the same. "equalized" matches the FER2013 image-folder copies most people train on, and makes a model
    # trained from fer2013.csv or FER2013's original pixels see faces the same way; "raw" keeps them as loaded.
    input_normalization: str = "equalized"
    # With a votes CSV (FER+): the target is (1 - w) x the face's vote shares + w x its single FER2013 label.
    fer2013_label_weight: float = 0.0
    # Keeps the class prior out of what the network learns: the loss scores softmax(logits + c * log prior), the
    # prior being the share of each label in the training targets as drawn (after oversampling). The network's own
    # output then leans to no class for being frequent (logit adjustment, Menon et al. 2021). 1 = the full
    # correction, 0 = off. FER+ votes are 36% neutral: a fine-tune on them without this answered neutral for half
    # the real photos (FINDINGS.md). oversample_floor (sampling by each face's majority label) is the other lever.
    prior_correction: float = 0.0
    # The history column whose best epoch the artifact keeps: "val_mean_recall" counts every class alike (the
    # judge FINDINGS.md asks for with FER+ votes, where accuracy rewards answering the frequent neutral); "last"
    # keeps the last epoch, for a fine-tune on several sources whose first one's val alone should not choose (a
    # fine-tune on film faces scores best on FER2013 val at its first epoch: FINDINGS.md).
    best_by: str = "val_accuracy"
    # With several training sources (``train(data=[...])``): each one's share of every batch, in their order.
    # Empty: each source in proportion to its size, as if they were one set.
    shares: tuple[float, ...] = ()

    def __post_init__(self):
        if self.best_by not in BEST_BY:
            raise FervidError(f"best_by must be one of {', '.join(BEST_BY)}. Received {self.best_by!r}")
        if any(not share > 0 for share in self.shares):
            raise FervidError(f"every source's share of a batch must be positive. Received {list(self.shares)}")
        check_normalization(self.input_normalization)
        if not 0.0 <= self.fer2013_label_weight <= 1.0:
            raise FervidError(f"fer2013_label_weight must be in [0, 1]. Received {self.fer2013_label_weight}")
        if self.prior_correction < 0:
            raise FervidError(f"prior_correction must not be negative. Received {self.prior_correction}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise FervidError(f"optimizer must be adam, adamw or sgd. Received {self.optimizer!r}")
        if self.schedule not in ("cosine", "plateau"):
            raise FervidError(f"schedule must be cosine or plateau. Received {self.schedule!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise FervidError(f"epochs and batch size must be positive. Received {self.epochs}, {self.batch_size}")

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        data["augment"] = AugmentConfig(**data.get("augment", {}))
        data["shares"] = tuple(data.get("shares", ()))
        return cls(**data)


# The paper's own recipe, for comparison: Adam, batch 64, 15 epochs, flips only, LR / 10 on plateau.
PAPER_RECIPE = TrainConfig(epochs=15, batch_size=64, optimizer="adam", learning_rate=5e-4, weight_decay=0.0,
                           schedule="plateau", label_smoothing=0.0, oversample_floor=0.0,
                           augment=AugmentConfig(flip=True, rotation_deg=0.0, zoom=0.0, shift=0.0))
RECIPES = {"default": TrainConfig(), "paper": PAPER_RECIPE}


@dataclass(frozen=True)
class Splits:
    train: FaceDataset
    val: FaceDataset
    train_targets: np.ndarray  # float32 (N, classes): what the network learns for each face (training_targets)
    val_targets: np.ndarray  # the vote shares of each val face, or its one-hot label: val accuracy is the majority's
    name: str = ""  # the source's short name, in history columns and logs (source_name)


def source_name(data: str | os.PathLike) -> str:
    """A short name for a training source: its file's stem, or its folder's name for ``labels.csv``/``train``-like
    files and for folders (``../shared/data/sfew-train/labels.csv`` -> ``sfew-train``)."""
    path = Path(data)
    if path.suffix and path.stem not in ("labels", "train", "faces"):
        return path.stem
    return path.parent.name if path.suffix else path.name


def load_sources(data, val, config: TrainConfig, images=None) -> list[Splits]:
    """``load_splits`` of every training source (one path, or a list of them): ``val`` is the first source's
    validation set; every other source brings its own (its ``val/`` or ``val_fraction`` held out), so the history
    shows how each is learnt."""
    sources = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if not sources:
        raise FervidError("no training data given")
    if config.shares and len(config.shares) != len(sources):
        raise FervidError(f"{len(sources)} training sources but {len(config.shares)} shares; give one share per "
                          "source, in the same order")
    splits = [load_splits(source, val if i == 0 else None, config, images=images)
              for i, source in enumerate(sources)]
    classes = splits[0].train.classes
    for source, part in zip(sources[1:], splits[1:]):
        if part.train.classes != classes:
            raise FervidError(f"{source}: classes {list(part.train.classes)} differ from the first source's "
                              f"{list(classes)}")
    names = [source_name(source) for source in sources]
    names = [name if names.count(name) == 1 else f"{name}{i + 1}" for i, name in enumerate(names)]
    return [replace(part, name=name) for part, name in zip(splits, names)]


def batch_parts(config: TrainConfig, sizes: list[int]) -> list[int]:
    """Faces each source gives every batch: its share of ``batch_size`` (by size without shares), at least one."""
    shares = np.asarray(config.shares or sizes, np.float64)
    parts = np.maximum(1, np.floor(shares / shares.sum() * config.batch_size)).astype(int)
    parts[np.argmax(shares)] += config.batch_size - parts.sum()  # rounding left over goes to the largest share
    if (parts < 1).any():
        raise FervidError(f"a batch of {config.batch_size} is too small for {len(sizes)} sources")
    return [int(n) for n in parts]


def load_splits(data: str | os.PathLike, val: str | os.PathLike | None, config: TrainConfig,
                classes: tuple[str, ...] | None = None, images: str | os.PathLike | None = None) -> Splits:
    """Training and validation faces from what the user pointed at, normalized as ``config`` says.

    ``data`` may hold ``train/`` and ``val/`` class-folder trees (the FER2013 layout) or ``train.npz`` and
    ``val.npz`` (packed), or be one class-folder tree, a ``fer2013.csv`` (Training / PublicTest rows), a packed
    ``.npz`` or a votes CSV (FER+; ``images``: where its files are). Without a validation set, ``val_fraction`` of
    each class is held out. Faces of a votes CSV without usable votes are left out.
    """
    data = Path(data)
    for train_name, val_name in (("train", "val"), ("train.npz", "val.npz")):  # folders, or packed files
        if val is None and data.is_dir() and (data / train_name).exists() and (data / val_name).exists():
            data, val = data / train_name, data / val_name
    if data.suffix.lower() == ".csv" and data.is_file() and csv_has_usage(data):
        train_set = load_dataset(data, classes, usage="Training")
        val_set = load_dataset(val or data, classes, usage=None if val else "PublicTest", images=images)
    else:
        train_set = load_dataset(data, classes, images=images)
        val_set = load_dataset(val, train_set.classes, images=images) if val else None
    if val_set is None:
        rng = np.random.default_rng(config.seed)
        held = np.concatenate([rng.permutation(np.flatnonzero(train_set.labels == c))
                               [: max(1, int(config.val_fraction * np.sum(train_set.labels == c)))]
                               for c in range(len(train_set.classes)) if np.any(train_set.labels == c)])
        mask = np.zeros(len(train_set), bool)
        mask[held] = True
        train_set, val_set = train_set.subset(np.flatnonzero(~mask)), train_set.subset(held)
    if val_set.classes != train_set.classes:
        raise FervidError(f"validation classes {list(val_set.classes)} differ from training classes "
                          f"{list(train_set.classes)}")
    if config.limit_per_class:
        train_set = train_set.limit_per_class(config.limit_per_class, config.seed)
        val_set = val_set.limit_per_class(max(1, config.limit_per_class // 4), config.seed)
    train_set, val_set = (_as_the_network_sees_them(part, config) for part in (train_set, val_set))
    return Splits(train_set, val_set, training_targets(train_set, config), val_set.vote_shares())


def _as_the_network_sees_them(dataset: FaceDataset, config: TrainConfig) -> FaceDataset:
    """The faces with usable votes (all, without votes), brought to the model's input normalization."""
    kept = dataset.subset(np.flatnonzero(dataset.has_votes()))
    return replace(kept, images=normalize_faces(kept.images, config.input_normalization),
                   converted=dataset.converted, skipped=dataset.skipped)


def training_targets(dataset: FaceDataset, config: TrainConfig) -> np.ndarray:
    """float32 (N, classes): each face's vote shares mixed with its single label by ``fer2013_label_weight``, or
    its one-hot label when the data has no votes."""
    labels = one_hot(dataset.labels, len(dataset.classes))
    if dataset.votes is None:
        return labels
    weight = config.fer2013_label_weight
    return ((1 - weight) * dataset.vote_shares() + weight * labels).astype(np.float32)


def class_prior(targets: np.ndarray | list[np.ndarray], config: TrainConfig) -> np.ndarray:
    """Each label's share of the training targets as one epoch draws them (oversampling and sources' shares
    included); ``targets``: one source's, or every source's in order."""
    sources = [targets] if isinstance(targets, np.ndarray) else targets
    weights = np.asarray(batch_parts(config, [len(t) for t in sources]), np.float64)
    drawn = [t[balanced_order(t.argmax(axis=1), np.random.default_rng(0), config.oversample_floor)].mean(axis=0)
             for t in sources]
    return np.maximum(np.average(drawn, axis=0, weights=weights), 1e-6)


def make_optimizer(config: TrainConfig, steps_per_epoch: int):
    import keras

    learning_rate = config.learning_rate
    if config.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(config.learning_rate,
                                                               decay_steps=config.epochs * steps_per_epoch)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay)
    return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, weight_decay=config.weight_decay)


@functools.cache
def prior_corrected_crossentropy():
    """The loss class of ``TrainConfig.prior_correction``, made (and registered with Keras, so a checkpoint that
    names it reloads in safe mode) on first use: Keras is imported only when training."""
    import keras

    @keras.saving.register_keras_serializable(package="fervid")
    class PriorCorrectedCrossentropy(keras.losses.Loss):
        """Cross-entropy of the targets against softmax(log p + log_prior_shift): the network's probabilities
        times prior^c, renormalised. The network learns to leave the prior to this shift, and inference, which
        uses the network's own output, gets scores that no longer favour frequent classes."""

        def __init__(self, log_prior_shift=(), label_smoothing: float = 0.0, name="prior_corrected_crossentropy",
                     **kwargs):
            super().__init__(name=name, **kwargs)
            self.log_prior_shift = [float(x) for x in log_prior_shift]
            self.label_smoothing = float(label_smoothing)

        def call(self, y_true, y_pred):
            ops = keras.ops
            adjusted = ops.log(ops.clip(y_pred, 1e-7, 1.0)) + ops.convert_to_tensor(self.log_prior_shift)
            log_q = adjusted - ops.logsumexp(adjusted, axis=-1, keepdims=True)
            classes = len(self.log_prior_shift)
            y_true = y_true * (1 - self.label_smoothing) + self.label_smoothing / classes
            return -ops.sum(y_true * log_q, axis=-1)

        def get_config(self):
            return {**super().get_config(), "log_prior_shift": self.log_prior_shift,
                    "label_smoothing": self.label_smoothing}

    return PriorCorrectedCrossentropy


def make_loss(config: TrainConfig, prior: np.ndarray):
    """The training loss: plain cross-entropy (with label smoothing), or its prior-corrected form."""
    import keras

    if not config.prior_correction:
        return keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    return prior_corrected_crossentropy()(config.prior_correction * np.log(prior), config.label_smoothing)


def compile_model(model, config: TrainConfig, steps_per_epoch: int, prior: np.ndarray) -> None:
    model.compile(optimizer=make_optimizer(config, steps_per_epoch), loss=make_loss(config, prior),
                  metrics=["accuracy"])


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels]


def epoch_batches(train: FaceDataset, targets: np.ndarray, config: TrainConfig, epoch: int, source: int = 0,
                  count: int | None = None):
    """The images and targets one source gives a training epoch: balanced by each face's majority label,
    augmented, shuffled; ``count`` faces (as many balanced passes as that takes), or one pass.

    Seeded by epoch (and source), so a resumed run sees exactly the epochs an uninterrupted one would have. The
    first source keeps the seed a one-source run always had.
    """
    rng = np.random.default_rng([config.seed, epoch] if source == 0 else [config.seed, epoch, source])
    order = balanced_order(targets.argmax(axis=1), rng, config.oversample_floor)
    while count is not None and len(order) < count:
        order = np.concatenate([order, balanced_order(targets.argmax(axis=1), rng, config.oversample_floor)])
    order = order[:count]
    return augment(train.images[order], rng, config.augment), targets[order]


def steps_per_epoch(splits: list[Splits], config: TrainConfig) -> int:
    """An epoch is one balanced pass over the first source, in its part of every batch."""
    first = len(balanced_order(splits[0].train_targets.argmax(axis=1), np.random.default_rng(0),
                               config.oversample_floor))
    return max(1, first // batch_parts(config, [len(s.train) for s in splits])[0])


def batch_stream(splits: list[Splits], config: TrainConfig, first_epoch: int, steps: int):
    """Endless generator of (x, y) batches for ``model.fit``, each source giving its part of every batch; a new
    augmented epoch each time round."""
    parts = batch_parts(config, [len(s.train) for s in splits])
    epoch = first_epoch
    while True:
        drawn = [epoch_batches(s.train, s.train_targets, config, epoch, i, steps * part)
                 for i, (s, part) in enumerate(zip(splits, parts))]
        for step in range(steps):
            x = np.concatenate([images[step * part:(step + 1) * part] for (images, _), part in zip(drawn, parts)])
            y = np.concatenate([targets[step * part:(step + 1) * part] for (_, targets), part in zip(drawn, parts)])
            yield x[..., None], y
        epoch += 1


def init_weights_from(model, artifact: str | os.PathLike) -> int:
    """Copy every layer's weights from a trained artifact; the classifier head too when its shape fits.

    Returns the number of layers copied. This is how the FER2013 model starts a new label set (Navras).
    """
    from .artifact import load_artifact

    source, _ = load_artifact(artifact)
    copied = 0
    for layer in model.layers:
        weights = source.get_layer(layer.name).get_weights() if layer.weights else []
        if weights and all(a.shape == b.shape for a, b in zip(weights, layer.get_weights())):
            layer.set_weights(weights)
            copied += 1
    return copied


def _write_history_png(history: list[dict], path: Path, resumes: list[dict] = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, [row[metric] for row in history], marker="o", label="train")
        ax.plot(epochs, [row[f"val_{metric}"] for row in history], marker="o", label="val")
        for number, resume in enumerate(resumes):
            ax.axvline(resume["after_epoch"] + 0.5, color="grey", linestyle=":",
                       label="resumed (--resume)" if number == 0 else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.suptitle("training epoch history")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _write_json(path: Path, data) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2))
    os.replace(partial, path)


def write_history(root: Path, history: list[dict], resumes: list[dict] = ()) -> None:
    """history.json, history.csv and history.png (loss and accuracy per epoch, train and val; resumes marked)."""
    _write_json(root / "history.json", history)
    columns = list(history[0])
    lines = [",".join(columns)] + [",".join(str(row[c]) for c in columns) for row in history]
    (root / "history.csv").write_text("\n".join(lines) + "\n")
    _write_history_png(history, root / "history.png", resumes)


class RunFolder:
    """The files of one training run (see the module docstring) and the rules for reusing them."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.config = self.root / "config.json"
        self.state = self.root / "state.json"
        self.history = self.root / "history.json"
        self.last = self.checkpoints / "last.keras"
        self.best = self.checkpoints / "best.weights.h5"
        self.artifact = self.root / "model.keras"
        # Faces cut from labelled photos and clips (``fervid train --data labels.csv``) before training starts.
        self.faces = self.root / "faces"

    def is_started(self) -> bool:
        """Whether anything but the cut faces is in the folder (a run to resume, or someone else's files)."""
        return self.root.exists() and any(path != self.faces for path in self.root.iterdir())

    def read_state(self) -> dict:
        return json.loads(self.state.read_text()) if self.state.exists() else {}

    def record_epoch(self, model, row: dict, state: dict, history: list[dict], best_by: str = "val_accuracy") -> None:
        """Write everything about a finished epoch; state.json last, so it never points past the files."""
        history.append(row)
        write_history(self.root, history, state.get("resumes", []))
        score = row["epoch"] if best_by == "last" else row[best_by]
        if score > state.get("best_score", state.get("best_val_accuracy", -1.0)):  # runs before best_by
            model.save_weights(self.best)
            state.update(best_epoch=row["epoch"], best_score=score, best_val_accuracy=row["val_accuracy"])
        partial = self.last.with_name(".last.partial.keras")
        model.save(partial)
        os.replace(partial, self.last)
        state["epochs_done"] = row["epoch"]
        _write_json(self.state, state)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


PROGRESS_EVERY_S = 30.0  # a progress line at least this often when the output is a log, not a terminal


def progress_callback(epochs: int, steps: int, log, live: bool | None = None):
    """A Keras callback that says where an epoch is and how long it has left: one updating line on a terminal
    (about every second), a line every ``PROGRESS_EVERY_S`` in a log, as ``fervid analyze`` does; an epoch on two
    cores takes minutes, and Keras' own log says nothing until it ends."""
    import keras

    live = sys.stdout.isatty() if live is None else live
    every = 1.0 if live else PROGRESS_EVERY_S

    class EpochProgress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.started, self.shown = epoch + 1, time.monotonic(), time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            if now - self.shown < every:
                return
            self.shown, done = now, batch + 1
            left = (now - self.started) / done * (steps - done)
            line = (f"epoch {self.epoch}/{epochs}: step {done}/{steps}, loss {float(logs.get('loss', 0)):.4f}, "
                    f"{_duration(left)} left in this epoch")
            if live:
                print(f"\r{line}", end="", flush=True)
            else:
                log(line)

        def on_epoch_end(self, epoch, logs=None):
            if live:
                print("\r", end="")

    return EpochProgress()


# Faces of each further source's val scored after every epoch: FER2013's 3,589 would cost a third of an epoch
# that mixes it into a fine-tune on a few hundred faces; the artifact records the whole val set's figure.
SOURCE_VAL_SAMPLE = 1000


def source_accuracy(model, part: Splits, sample: int | None = None) -> float:
    """Accuracy of ``model`` on a source's val faces (a fixed random ``sample`` of them, or all)."""
    keep = np.random.default_rng(0).permutation(len(part.val))[:sample]
    guessed = model.predict(part.val.images[keep][..., None].astype(np.float32), batch_size=256, verbose=0)
    return float(np.mean(guessed.argmax(axis=1) == part.val_targets[keep].argmax(axis=1)))


def _epoch_line(row: dict, epochs: int, names: list[str]) -> str:
    others = ", ".join(f"{name} {row[f'val_accuracy_{name}']:.4f}" for name in names[1:])
    return (f"epoch {row['epoch']}/{epochs}: loss {row['loss']:.4f}, accuracy {row['accuracy']:.4f}, "
            f"val accuracy {row['val_accuracy']:.4f}" + (f" ({others})" if others else "") +
            f", {_duration(row['seconds'])}")


def train(data, out: str | os.PathLike, config: TrainConfig = TrainConfig(), *,
          val: str | os.PathLike | None = None, resume: bool = False, init_from: str | None = None,
          network: NetworkConfig | None = None, images: str | os.PathLike | None = None, log=print) -> Path:
    """Train the paper's CNN and write the run folder; returns the path of the final artifact.

    ``data``: one training source, or a list of them mixed in every batch by ``config.shares`` (FER2013 and faces
    cut from labelled photos and videos, say); ``val`` is the first source's validation set, and every source's
    val accuracy is in the history. ``images``: where the files of a votes CSV given as data or ``val`` are
    (``fervid.model.data``).
    """
    import keras

    from .artifact import ArtifactInfo, save_artifact
    from .evaluate import classification_report
    from .network import build_model

    run = RunFolder(out)
    if run.is_started() and not resume:
        raise FervidError(f"{run.root}: run folder exists and is not empty; pass --resume to continue it "
                          "or choose another --out")
    if resume:
        if not run.config.exists():
            raise FervidError(f"{run.root}: nothing to resume (no config.json)")
        saved = json.loads(run.config.read_text())
        config, data, val = TrainConfig.from_dict(saved["train"]), saved["data"], saved["val"]
        images = saved.get("images")
    sources = load_sources(data, val, config, images=images)
    data = str(data) if isinstance(data, (str, os.PathLike)) else [str(source) for source in data]
    for part in sources:
        prefix = f"{part.name} " if len(sources) > 1 else ""
        log(f"{prefix}train: {part.train.summary()}")
        log(f"{prefix}val:   {part.val.summary()}")
    if len(sources) > 1:
        parts = batch_parts(config, [len(part.train) for part in sources])
        log("each batch: " + ", ".join(f"{n} from {part.name}" for n, part in zip(parts, sources)))
    first = sources[0]
    classes = first.train.classes
    network = network or NetworkConfig(num_classes=len(classes))
    steps = steps_per_epoch(sources, config)
    prior = class_prior([part.train_targets for part in sources], config)

    run.checkpoints.mkdir(parents=True, exist_ok=True)
    state = run.read_state() if resume else {}
    if resume and run.last.exists():
        prior_corrected_crossentropy()  # registered, so a checkpoint compiled with it loads
        model = keras.saving.load_model(run.last, safe_mode=True)
        log(f"resuming {run.root} after epoch {state.get('epochs_done', 0)}")
        if state.get("epochs_done", 0) < config.epochs:  # resuming a finished run only rewrites its artifact
            state.setdefault("resumes", []).append({"after_epoch": state.get("epochs_done", 0), "at": _now()})
            _write_json(run.state, state)
    else:
        model = build_model(network)
        if init_from:
            log(f"initialised {init_weights_from(model, init_from)} layers from {init_from}")
        compile_model(model, config, steps, prior)
        _write_json(run.config, {"train": asdict(config), "network": network.to_dict(), "data": data,
                                 "val": str(val) if val else None, "images": str(images) if images else None,
                                 "classes": list(classes), "init_from": init_from})
    first_epoch = int(state.get("epochs_done", 0))
    history = json.loads(run.history.read_text())[:first_epoch] if resume and run.history.exists() else []

    val_x, val_majority = first.val.images[..., None].astype(np.float32), first.val_targets.argmax(axis=1)

    def on_epoch_end(epoch: int, logs: dict) -> None:
        predicted = model.predict(val_x, batch_size=256, verbose=0).argmax(axis=1)
        row = {"epoch": epoch + 1, **{k: float(logs[k]) for k in
                                      ("loss", "accuracy", "val_loss", "val_accuracy")},
               "val_mean_recall": classification_report(val_majority, predicted, classes)["mean_recall"]}
        for part in sources[1:]:
            row[f"val_accuracy_{part.name}"] = source_accuracy(model, part, SOURCE_VAL_SAMPLE)
        row.update(learning_rate=float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
                   seconds=round(time.monotonic() - started[0], 1))
        run.record_epoch(model, row, state, history, config.best_by)
        log(_epoch_line(row, config.epochs, [part.name for part in sources]))
        started[0] = time.monotonic()

    started = [time.monotonic()]
    callbacks = [progress_callback(config.epochs, steps, log), keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)]
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=2,
                                                           min_lr=1e-6, verbose=1))
    if first_epoch < config.epochs:
        log(f"{config.epochs - first_epoch} epochs of {steps} steps (batch {config.batch_size})")
        model.fit(batch_stream(sources, config, first_epoch, steps), steps_per_epoch=steps,
                  epochs=config.epochs, initial_epoch=first_epoch, validation_data=(val_x, first.val_targets),
                  batch_size=config.batch_size, callbacks=callbacks, shuffle=False, verbose=0)

    # The artifact carries the best epoch's weights (the last one's with best_by="last").
    state = run.read_state()
    model.load_weights(run.best)
    from fervid import __version__

    best_row = next((row for row in history if row["epoch"] == state["best_epoch"]), {})
    training = {"data": data, "val": str(val) if val else None, "images": str(images) if images else None,
                "train_images": sum(len(part.train) for part in sources),
                "val_images": len(first.val), "epochs": state["epochs_done"], "best_epoch": state["best_epoch"],
                "val_accuracy": round(state["best_val_accuracy"], 4),
                "val_mean_recall": best_row.get("val_mean_recall"), "config": asdict(config),
                "backend": keras.backend.backend(), "keras": keras.__version__, "fervid": __version__,
                "resumes": state.get("resumes", []), "init_from": init_from, "trained_at": _now()}
    if len(sources) > 1:
        training["sources"] = [{"name": part.name, "data": source, "train_images": len(part.train),
                                "val_images": len(part.val), "val_accuracy": round(source_accuracy(model, part), 4)}
                               for part, source in zip(sources, data)]
    path = save_artifact(model, run.artifact, ArtifactInfo(labels=classes, network=network, training=training,
                                                           input_normalization=config.input_normalization))
    log(f"best epoch {state['best_epoch']}: val accuracy {state['best_val_accuracy']:.4f}; artifact {path}")
    return path
