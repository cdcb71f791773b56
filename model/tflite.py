"""The int8 ``.tflite`` twin of a ``.keras`` artifact, for the ``litert-int8`` engine: converted once per model,
then found by the artifact's fingerprint, so running it never needs TensorFlow.

Conversion is TensorFlow's dynamic-range quantization (int8 weights, float activations): 4x smaller, and LiteRT runs
it 3x faster than TensorFlow fp32 on a CPU for 0.05 points of FER2013 val accuracy (FINDINGS.md, "Inference engines
on this CPU"). The file is looked for in three places, first to last:

1. beside the artifact, named ``<stem>.<fingerprint>.int8.tflite`` (how the shipped model carries its twin);
2. beside the shipped model, so a copy of it (an actor's, a user's) finds the shipped twin;
3. the cache, ``$FERVID_CACHE`` or ``~/.cache/fervid``, named ``<fingerprint>.int8.tflite``; a miss converts the
   artifact into it.

The fingerprint (the first 16 hex digits of the sha256 of the ``.keras`` bytes) is in the name, so a twin left
beside a replaced artifact is never found for it. The labels always come from the ``.keras`` file's metadata.
After replacing the shipped model, regenerate its twin (and delete the stale one) with:

    .venv/bin/python -m fervid.model.tflite fervid/models/fer2013.keras
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import tempfile
from importlib import resources
from pathlib import Path

from fervid.errors import FervidError

SUFFIX = ".int8.tflite"


def fingerprint(model_path: str | os.PathLike) -> str:
    """16 hex digits of the sha256 of the whole file: any change to the weights or metadata changes it."""
    digest = hashlib.sha256()
    with open(model_path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def beside_path(model_path: Path, digits: str) -> Path:
    return model_path.with_name(f"{model_path.stem}.{digits}{SUFFIX}")


def cache_dir() -> Path:
    return Path(os.environ.get("FERVID_CACHE") or Path.home() / ".cache" / "fervid")


def twin_paths(model_path: Path) -> list[Path]:
    """Where the twin of this exact artifact may be, first to last (the module docstring's order); the cache last."""
    digits = fingerprint(model_path)
    shipped = Path(str(resources.files("fervid") / "models"))
    return [beside_path(model_path, digits), *sorted(shipped.glob(f"*.{digits}{SUFFIX}")),
            cache_dir() / f"{digits}{SUFFIX}"]


def convert(model_path: str | os.PathLike) -> bytes:
    """The dynamic-range int8 ``.tflite`` of an artifact (checked by ``load_artifact``). Needs TensorFlow; seconds."""
    import tensorflow as tf

    from .artifact import load_artifact

    model, _ = load_artifact(model_path)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the whole exported signature
        return converter.convert()


def write_atomically(path: Path, content: bytes) -> Path:
    """Written beside the target and renamed into place: a reader never sees half a file, two writers never mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(partial, 0o644)  # mkstemp makes it private; the twin is no secret, and a shared cache is read by all
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path


def ensure_tflite(model_path: str | os.PathLike | None = None) -> Path:
    """The twin of ``model_path`` (default: the shipped model), converted into the cache when there is none.

    A driver calls this before starting classifier actors, so conversion (and TensorFlow) happens once, there.
    """
    from .artifact import find_model, read_info

    path = find_model(model_path)
    read_info(path)  # a clear error for a missing or foreign file before hashing or converting it
    candidates = twin_paths(path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    cached = candidates[-1]
    content = convert(path)
    try:
        return write_atomically(cached, content)
    except OSError as error:
        raise FervidError(f"{cached.parent}: cannot write the converted model ({error.strerror}); "
                          "set FERVID_CACHE to a writable folder") from None


def write_beside(model_path: str | os.PathLike) -> Path:
    """Convert an artifact and write its twin beside it, deleting twins of earlier versions of the same file."""
    path = Path(model_path)
    target = beside_path(path, fingerprint(path))
    write_atomically(target, convert(path))
    for stale in path.parent.glob(f"{path.stem}.*{SUFFIX}"):
        if stale != target:
            stale.unlink()
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python -m fervid.model.tflite PATH.keras\n\n{__doc__.splitlines()[0]}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        print(write_beside(sys.argv[1]))
    except FervidError as error:
        sys.exit(f"error: {error}")
