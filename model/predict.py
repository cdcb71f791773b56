"""Faces in, probabilities out: the one inference path shared by evaluation, the pipeline and notebooks.

Two engines run the same artifact behind one interface (``labels``, ``engine``, ``predict``), and
:func:`make_classifier` chooses:

- ``tensorflow``: the ``.keras`` file through Keras, fp32; the engine for GPUs.
- ``litert-int8``: its int8 twin (``fervid.model.tflite``) through LiteRT; 3x TensorFlow's speed on a CPU for the
  same answer on 99% of FER2013 val faces, and no TensorFlow in the process.

Both bring every face to the model's input normalization first (``fervid.model.normalize``, declared in the
artifact): evaluation, the pipeline's crops and notebooks all pass here, so none of them can feed the network
faces that look unlike those it learnt.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fervid.errors import FervidError

from .labels import INPUT_SIZE
from .normalize import normalize_faces

if TYPE_CHECKING:
    from .artifact import ArtifactInfo

ENGINES = ("auto", "tensorflow", "litert-int8")  # auto: litert-int8 on CPUs, tensorflow when a GPU is used


class Classifier:
    """``predict`` maps uint8 (N, 48, 48) faces to float32 (N, classes) in the order of ``labels``.

    ``mirror=True`` averages each face with its mirror image (test-time augmentation: twice the compute,
    a little more accuracy; the FINDINGS recipe gained 0.4 points).
    """

    engine: str  # its name in ENGINES
    labels: tuple[str, ...]
    info: ArtifactInfo  # the artifact's metadata: labels, input normalization, training record
    mirror: bool
    batch_size: int  # faces per engine call; a shorter last batch is padded

    def predict(self, faces: np.ndarray) -> np.ndarray:
        faces = np.asarray(faces)
        if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"Expected faces of shape (N, 48, 48). Received {faces.shape}")
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        faces = normalize_faces(faces, self.info.input_normalization)
        probabilities = self._predict(faces)
        if self.mirror:
            probabilities = (probabilities + self._predict(faces[:, :, ::-1])) / 2
        return probabilities.astype(np.float32)

    def _predict(self, faces: np.ndarray) -> np.ndarray:
        """Probabilities for uint8 (N, 48, 48), N > 0."""
        raise NotImplementedError

    def _batches(self, faces: np.ndarray, run) -> np.ndarray:
        """``run`` on fixed-size, zero-padded batches of float32 (B, 48, 48, 1) raw pixel values (the model's first
        layer rescales): one compiled graph or one allocated interpreter serves every call, whatever N is."""
        x = np.ascontiguousarray(faces, dtype=np.float32)[..., None]
        out = []
        for start in range(0, len(x), self.batch_size):
            chunk = x[start:start + self.batch_size]
            padded = np.zeros((self.batch_size, *chunk.shape[1:]), np.float32)
            padded[: len(chunk)] = chunk
            out.append(np.asarray(run(padded))[: len(chunk)])
        return np.concatenate(out)


class TensorFlowClassifier(Classifier):
    """The ``.keras`` artifact through Keras (TensorFlow backend), fp32; loads it once."""

    engine = "tensorflow"

    def __init__(self, model_path: str | os.PathLike | None = None, *, mirror: bool = False,
                 batch_size: int = 256):
        from .artifact import load_artifact

        self.model, self.info = load_artifact(model_path)
        self.labels = self.info.labels
        self.mirror = mirror
        self.batch_size = batch_size

    def _predict(self, faces: np.ndarray) -> np.ndarray:
        return self._batches(faces, self.model.predict_on_batch)


EmotionClassifier = TensorFlowClassifier  # the name callers used before there were two engines


class LiteRTClassifier(Classifier):
    """The artifact's int8 twin through LiteRT (XNNPACK). Imports no TensorFlow when the twin exists already.

    ``tflite``: the twin's path or bytes (an actor gets bytes from its driver); default: ``ensure_tflite``, which
    finds it or converts the artifact (with TensorFlow) once. ``num_threads`` default: every CPU this process may
    use. ``batch_size``: faces per interpreter call; 16 to 512 ran at the same speed (benchmarks/classifier.py), and
    a smaller batch pads less for a few faces.
    """

    engine = "litert-int8"

    def __init__(self, model_path: str | os.PathLike | None = None, *, tflite: str | os.PathLike | bytes | None = None,
                 mirror: bool = False, batch_size: int = 64, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        from .artifact import find_model, read_info
        from .tflite import ensure_tflite

        path = find_model(model_path)
        self.info = read_info(path)
        self.labels = self.info.labels
        self.mirror = mirror
        self.batch_size = batch_size
        if tflite is None:
            tflite = ensure_tflite(path)
        source = "the int8 model given" if isinstance(tflite, bytes) else str(tflite)
        self._content = tflite if isinstance(tflite, bytes) else Path(tflite).read_bytes()  # the interpreter reads it
        try:
            self.interpreter = Interpreter(model_content=self._content, num_threads=num_threads or _usable_cpus())
        except ValueError as error:
            raise FervidError(f"{source}: LiteRT could not load it ({str(error).strip()[:300]})") from None
        (given,) = self.interpreter.get_input_details()
        if tuple(given["shape_signature"][1:]) != (self.info.input_size, self.info.input_size, 1):
            raise FervidError(f"{source}: expected an input of shape (N, {self.info.input_size}, "
                              f"{self.info.input_size}, 1). Received {tuple(given['shape_signature'])}")
        size = self.info.input_size
        self.interpreter.resize_tensor_input(given["index"], [batch_size, size, size, 1])
        self.interpreter.allocate_tensors()
        self.input_index = given["index"]
        (output,) = self.interpreter.get_output_details()
        if int(output["shape_signature"][-1]) != len(self.labels):  # "shape" is known after the first invoke
            raise FervidError(f"{source}: outputs {int(output['shape_signature'][-1])} classes but {path} lists "
                              f"{len(self.labels)} labels {list(self.labels)}")
        self.output_index = output["index"]

    def _predict(self, faces: np.ndarray) -> np.ndarray:
        return self._batches(faces, self._run)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input_index, batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which containers and taskset narrow), else all."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def resolve_engine(engine: str, gpu: bool) -> str:
    """The engine that runs: ``auto`` is ``litert-int8`` on CPUs and ``tensorflow`` on a GPU (LiteRT would leave
    the GPU idle)."""
    if engine not in ENGINES:
        raise FervidError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "tensorflow" if gpu else "litert-int8"
    return engine


def make_classifier(model_path: str | os.PathLike | None = None, engine: str = "auto", *, mirror: bool = False,
                    batch_size: int | None = None, gpu: bool = False, tflite: str | os.PathLike | bytes | None = None,
                    num_threads: int | None = None) -> Classifier:
    """The classifier for ``model_path`` (default: the shipped model) on ``engine`` (one of ``ENGINES``).

    ``auto`` is ``litert-int8`` on CPUs and ``tensorflow`` when ``gpu`` (LiteRT would leave the GPU idle).
    ``batch_size`` None: the engine's own default. ``tflite`` and ``num_threads`` only concern ``litert-int8``.
    """
    engine = resolve_engine(engine, gpu)
    sizes = {} if batch_size is None else {"batch_size": batch_size}
    if engine == "tensorflow":
        return TensorFlowClassifier(model_path, mirror=mirror, **sizes)
    return LiteRTClassifier(model_path, tflite=tflite, mirror=mirror, num_threads=num_threads, **sizes)
