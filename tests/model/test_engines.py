"""The two engines behind ``make_classifier``: the same contract, the same answers, and the int8 twin found (or
made) for exactly the artifact it came from."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.model import tflite
from fervid.model.artifact import default_model_path
from fervid.model.labels import FER2013_LABELS
from fervid.model.predict import ENGINES, make_classifier

FACES = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)


@pytest.fixture(scope="module")
def twin(untrained_model, model_cache):
    """The untrained artifact's twin, converted into the tests' cache: the one conversion (seconds) of this module."""
    path = tflite.ensure_tflite(untrained_model)
    assert path == model_cache / f"{tflite.fingerprint(untrained_model)}.int8.tflite"
    return path


def test_the_shipped_twin_is_of_the_shipped_model():
    model = default_model_path()
    twins = sorted(model.parent.glob(f"{model.stem}.*{tflite.SUFFIX}"))
    assert twins == [tflite.beside_path(model, tflite.fingerprint(model))], (
        f"the shipped int8 file is stale or missing: run python -m fervid.model.tflite {model}")
    assert twins[0].stat().st_size < 6_000_000


def test_unknown_engine_names_the_choices():
    with pytest.raises(FervidError, match="unknown engine 'onnx'; expected one of auto, tensorflow, litert-int8"):
        make_classifier(engine="onnx")


@pytest.mark.parametrize("engine, gpu, expected", [
    ("auto", False, "litert-int8"), ("auto", True, "tensorflow"), ("tensorflow", False, "tensorflow"),
    ("litert-int8", True, "litert-int8"),  # asked for by name: runs on the CPU even beside a GPU
])
def test_the_chooser(untrained_model, twin, engine, gpu, expected):
    classifier = make_classifier(untrained_model, engine, gpu=gpu, batch_size=4)
    assert classifier.engine == expected and engine in ENGINES
    assert classifier.labels == FER2013_LABELS  # from the .keras file's metadata, whatever the engine


def test_litert_keeps_the_predict_contract_and_agrees_with_tensorflow(untrained_model, twin):
    classifier = make_classifier(untrained_model, "litert-int8", batch_size=4)
    out = classifier.predict(FACES)  # two batches, the second padded
    assert out.shape == (5, 7) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(out, make_classifier(untrained_model, "tensorflow").predict(FACES), atol=1e-3)
    mirrored = make_classifier(untrained_model, "litert-int8", mirror=True).predict(FACES)
    np.testing.assert_allclose(mirrored, (out + classifier.predict(FACES[:, :, ::-1].copy())) / 2, atol=1e-6)
    assert classifier.predict(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)
    with pytest.raises(ValueError, match=r"Expected faces of shape \(N, 48, 48\). Received \(5, 48, 47\)"):
        classifier.predict(FACES[:, :, :47])


def test_a_twin_given_as_bytes_is_used_as_is(untrained_model, twin, monkeypatch):
    monkeypatch.setattr(tflite, "ensure_tflite", lambda _: pytest.fail("looked for a twin it was given"))
    out = make_classifier(untrained_model, "litert-int8", tflite=twin.read_bytes()).predict(FACES)
    np.testing.assert_allclose(out, make_classifier(untrained_model, "litert-int8", tflite=twin).predict(FACES))


def test_a_twin_of_another_model_is_refused(untrained_model, tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    with pytest.raises(FervidError, match=f"{bad}: LiteRT could not load it"):
        make_classifier(untrained_model, "litert-int8", tflite=bad)


def test_a_stale_twin_beside_a_replaced_model_is_ignored(untrained_model, twin, tmp_path, monkeypatch):
    """The shipped .keras replaced by a retrained one, its old twin left beside it: the old twin is never used."""
    model = tmp_path / "fer2013.keras"
    shutil.copy(untrained_model, model)
    stale = tflite.beside_path(model, tflite.fingerprint(default_model_path()))
    shutil.copy(tflite.ensure_tflite(default_model_path()), stale)
    monkeypatch.setenv("FERVID_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tflite, "convert", lambda path: b"converted " + bytes(str(path), "utf-8"))
    made = tflite.ensure_tflite(model)
    assert made == tmp_path / "cache" / f"{tflite.fingerprint(model)}.int8.tflite"
    assert made.read_bytes() == b"converted " + bytes(str(model), "utf-8")
    assert tflite.ensure_tflite(model) == made  # converted once, found after


def test_a_copy_of_the_shipped_model_finds_the_shipped_twin(tmp_path, monkeypatch):
    copy = tmp_path / "model.keras"  # what an actor writes from the bytes it gets
    shutil.copy(default_model_path(), copy)
    monkeypatch.setattr(tflite, "convert", lambda _: pytest.fail("converted a model that ships its twin"))
    shipped = default_model_path()
    assert tflite.ensure_tflite(copy) == tflite.beside_path(shipped, tflite.fingerprint(shipped))


def test_regenerating_writes_the_twin_beside_and_deletes_stale_ones(untrained_model, tmp_path, monkeypatch):
    model = tmp_path / "fer2013.keras"
    shutil.copy(untrained_model, model)
    stale = tflite.beside_path(model, "0123456789abcdef")
    stale.write_bytes(b"old")
    other = tmp_path / "other.0123456789abcdef.int8.tflite"  # another model's twin stays
    other.write_bytes(b"other")
    monkeypatch.setattr(tflite, "convert", lambda _: b"new")
    written = tflite.write_beside(model)
    assert written == tflite.beside_path(model, tflite.fingerprint(model)) and written.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["fer2013.keras", written.name, other.name])


def test_an_unwritable_cache_is_a_clear_error(untrained_model, tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    model = tmp_path / "m.keras"
    shutil.copy(untrained_model, model)
    monkeypatch.setenv("FERVID_CACHE", str(blocker / "fervid"))
    monkeypatch.setattr(tflite, "convert", lambda _: b"new")
    with pytest.raises(FervidError, match="cannot write the converted model .* set FERVID_CACHE"):
        tflite.ensure_tflite(model)


def test_litert_imports_no_tensorflow(tmp_path):
    """The point of the int8 engine on CPU actors: a quiet, small process. Checked in a fresh interpreter."""
    code = """
import sys
import numpy as np
from fervid.model.artifact import default_model_path
from fervid.model.labels import FER2013_LABELS
from fervid.model.predict import make_classifier
from fervid.model.tflite import ensure_tflite
from fervid.pipeline.classify import EmotionActor
model = default_model_path()
faces = np.zeros((3, 48, 48), np.uint8)
assert make_classifier(model, "litert-int8").predict(faces).shape == (3, 7)
actor = EmotionActor(model.read_bytes(), batch_size=8, tflite_bytes=ensure_tflite(model).read_bytes())
assert actor.classifier.engine == "litert-int8" and actor.classifier.predict(faces).shape == (3, 7)
print(sorted(name for name in ("tensorflow", "keras", "jax") if name in sys.modules))
"""
    env = dict(os.environ, FERVID_CACHE=str(tmp_path))  # an empty cache: the shipped twin must be found
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_int8_agrees_with_tensorflow_on_fer2013_val(fer2013_packed):
    """The shipped model on the 3,589 val faces: measured 99.7% same answer, 67.12% vs 67.23% accuracy."""
    from fervid.model.data import load_dataset

    int8, fp32 = make_classifier(engine="litert-int8"), make_classifier(engine="tensorflow")
    val = load_dataset(fer2013_packed / "val.npz", fp32.labels)
    assert len(val.images) == 3589
    fast, reference = int8.predict(val.images).argmax(axis=1), fp32.predict(val.images).argmax(axis=1)
    assert (fast == reference).mean() >= 0.985
    assert abs((fast == val.labels).mean() - (reference == val.labels).mean()) <= 0.003
