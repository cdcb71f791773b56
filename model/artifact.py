"""The model artifact: one ``.keras`` file that is also a plain Keras model file.

Keras writes a zip (architecture, weights); we add ``fervid.json`` to the same zip with the label order, the
input size, the network config and the training metadata. So one file travels, ``keras.saving.load_model``
still opens it, and :func:`load_artifact` checks that it is what fervid expects before anyone uses it.
Loading always runs Keras safe mode: an artifact carrying a ``Lambda`` layer (arbitrary code) is refused.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from fervid.errors import FervidError

from .labels import INPUT_SIZE
from .network import NetworkConfig
from .normalize import check_normalization

METADATA_NAME = "fervid.json"
# 2 added input_normalization. A format-1 file (no such field) is read as "equalized": every fervid model before
# it learnt the equalized FER2013 copies (the shared data, the common Kaggle image-folder layout), and fed
# unequalized faces such a model loses 3-4 points (FINDINGS.md), so "raw" would have kept the skew it is here to end.
FORMAT_VERSION = 2
# The models inside the package, by the name `--model` and `--init-from` take (the file fervid/models/<name>.keras);
# the first is the default. fer2013 (v2) learnt FER2013's labels; fer2013-sfew (v3) is v2 fine-tuned on SFEW's film
# faces with FER2013 in every batch (MODEL_CARD.md). v3 gains on film faces and photos but is not the default: its
# film-held-out cross-validation stayed under the 50% its issue set (MODEL_CARD.md, "Model v3").
SHIPPED_MODELS = ("fer2013", "fer2013-sfew")


@dataclass(frozen=True)
class ArtifactInfo:
    labels: tuple[str, ...]
    network: NetworkConfig
    input_size: int = INPUT_SIZE
    training: dict = field(default_factory=dict)  # data, epochs, val accuracy, recipe, code version...
    # How faces must look before they reach the network (fervid.model.normalize): "equalized" or "raw". Set by
    # `fervid train` from how it loaded its faces; every classifier applies it to every face it is given.
    input_normalization: str = "equalized"

    def __post_init__(self):
        check_normalization(self.input_normalization)
        if len(set(self.labels)) != len(self.labels) or not all(isinstance(x, str) and x for x in self.labels):
            raise ValueError(f"Expected unique, non-empty label names. Received {list(self.labels)}")
        if len(self.labels) != self.network.num_classes:
            raise ValueError(f"{len(self.labels)} labels but the network has {self.network.num_classes} classes")

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT_VERSION, "labels": list(self.labels), "input_size": self.input_size,
                           "input_normalization": self.input_normalization, "network": self.network.to_dict(),
                           "training": self.training}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "ArtifactInfo":
        data = json.loads(text)
        if int(data.get("format", 1)) > FORMAT_VERSION:
            raise ValueError(f"format {data['format']} is newer than this fervid reads ({FORMAT_VERSION}); "
                             "upgrade fervid")
        return cls(labels=tuple(data["labels"]), network=NetworkConfig(**data["network"]),
                   input_size=int(data["input_size"]), training=dict(data.get("training", {})),
                   input_normalization=data.get("input_normalization", "equalized"))  # format 1: see FORMAT_VERSION


def find_model(model: str | os.PathLike | None = None) -> Path:
    """The artifact ``model`` means: None for the default shipped model, a shipped model's name, else a path."""
    if model is None:
        model = SHIPPED_MODELS[0]
    if str(model) not in SHIPPED_MODELS:
        return Path(model)
    path = Path(str(resources.files("fervid") / "models" / f"{model}.keras"))
    if not path.is_file():
        raise FervidError(f"this install of fervid lacks its shipped model {model!r} ({path}); reinstall fervid or "
                          "pass --model PATH.keras (train one with `fervid train`)")
    return path


def default_model_path() -> Path:
    """The default model shipped inside the package, or a clear error while there is none."""
    return find_model(None)


def save_artifact(model, path: str | os.PathLike, info: ArtifactInfo) -> Path:
    """Write the weights-only model (no optimizer state) plus ``fervid.json`` as one ``.keras`` file.

    Written next to the target and renamed into place, so a crash never leaves a half-written artifact.
    """
    import keras

    from .network import build_model

    path = Path(path)
    if path.suffix != ".keras":
        raise FervidError(f"{path}: an artifact file name must end in .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh, uncompiled copy keeps the optimizer's two moments (2x the weights) out of the file.
    clean = build_model(info.network)
    clean.set_weights(model.get_weights())
    partial = path.with_name(f".{path.name}.partial.keras")
    keras.saving.save_model(clean, partial)
    with zipfile.ZipFile(partial, "a") as archive:
        archive.writestr(METADATA_NAME, info.to_json())
    os.replace(partial, path)
    return path


def write_info(path: str | os.PathLike, info: ArtifactInfo) -> Path:
    """Replace the metadata of an artifact, weights untouched (e.g. to state an older file's input normalization).

    The file's fingerprint changes with it, so its int8 twin must be made again (``fervid.model.tflite``).
    """
    path = Path(path)
    read_info(path)
    partial = path.with_name(f".{path.name}.partial.keras")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            if member.filename != METADATA_NAME:
                target.writestr(member, source.read(member))
        target.writestr(METADATA_NAME, info.to_json())
    os.replace(partial, path)
    return path


def read_info(path: str | os.PathLike) -> ArtifactInfo:
    """Only the metadata: cheap, no Keras import."""
    path = Path(path)
    if not path.is_file():
        raise FervidError(f"{path}: model file not found")
    try:
        with zipfile.ZipFile(path) as archive:
            text = archive.read(METADATA_NAME).decode()
    except zipfile.BadZipFile:
        raise FervidError(f"{path}: not a fervid model (not a .keras zip archive; truncated or corrupt?)") from None
    except KeyError:
        raise FervidError(f"{path}: a Keras file, but not a fervid model (no {METADATA_NAME} inside)") from None
    try:
        return ArtifactInfo.from_json(text)
    except (ValueError, KeyError, TypeError, FervidError) as error:
        raise FervidError(f"{path}: {METADATA_NAME} is invalid ({error})") from None


def check_artifact(path: str | os.PathLike) -> ArtifactInfo:
    """What ``load_artifact`` would refuse, found without Keras (milliseconds, no TensorFlow in the process).

    A driver checks this before starting workers that will load the model: a corrupt zip member, a layer that is
    not a Keras built-in or is a ``Lambda`` (code that safe mode refuses to run), a wrong input shape, or an
    output that does not match the labels.
    """
    path = Path(path)
    info = read_info(path)
    with zipfile.ZipFile(path) as archive:
        broken = archive.testzip()
        if broken:
            raise FervidError(f"{path}: corrupt archive member {broken}")
        try:
            config = json.loads(archive.read("config.json"))
            layers = config["config"]["layers"]
        except (KeyError, ValueError, TypeError):
            raise FervidError(f"{path}: no readable Keras model config inside") from None
    for layer in layers:
        if layer.get("class_name") == "Lambda" or not str(layer.get("module", "")).startswith("keras"):
            raise FervidError(f"{path}: layer {layer.get('name')!r} ({layer.get('class_name')}) would run code "
                              "from the file; refused (Keras safe mode)")
    shapes = [layer["config"].get("batch_shape") for layer in layers if layer.get("class_name") == "InputLayer"]
    expected = [None, info.input_size, info.input_size, 1]
    if shapes != [expected]:
        raise FervidError(f"{path}: expected one input of shape {tuple(expected)}, found {shapes}")
    units = [layer["config"].get("units") for layer in layers if layer.get("class_name") == "Dense"]
    if not units or units[-1] != len(info.labels):
        raise FervidError(f"{path}: the last Dense layer has {units[-1] if units else 'no'} outputs but the file "
                          f"lists {len(info.labels)} labels")
    return info


def load_artifact(path: str | os.PathLike | None = None):
    """Return ``(keras_model, ArtifactInfo)``, checked: 48x48x1 input, one output per label, safe mode.

    ``path``: as :func:`find_model` takes it (None: the shipped default model).
    """
    import keras

    path = find_model(path)
    info = read_info(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types; the user needs the file and the reason
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FervidError(f"{path}: Keras could not load the model ({reason[:300]})") from None
    expected_in = (None, info.input_size, info.input_size, 1)
    if tuple(model.input_shape) != expected_in or info.input_size != INPUT_SIZE:
        raise FervidError(f"{path}: expected input shape {expected_in}, found {tuple(model.input_shape)}")
    if tuple(model.output_shape) != (None, len(info.labels)):
        raise FervidError(f"{path}: the model outputs {model.output_shape[-1]} classes but the file lists "
                          f"{len(info.labels)} labels {list(info.labels)}")
    return model, info
