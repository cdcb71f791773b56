"""The models shipped in the package: the default and the others by name, the same predictions as where they were
recorded (JAX; the recorded probabilities include each model's input normalization), and the validation accuracy
their cards and metadata state."""

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.model import artifact
from fervid.model.artifact import SHIPPED_MODELS, default_model_path, find_model, read_info
from fervid.model.evaluate import evaluate
from fervid.model.predict import EmotionClassifier

EXPECTED = Path(__file__).with_name("shipped_model_expected.json")


def test_the_first_shipped_model_is_the_default_and_each_is_small():
    assert default_model_path() == find_model(None) == find_model(SHIPPED_MODELS[0])
    for name in SHIPPED_MODELS:
        path = find_model(name)
        assert path.name == f"{name}.keras" and path.stat().st_size < 20_000_000
        assert read_info(path).training["val_accuracy"] > 0.5


def test_anything_but_a_shipped_name_is_a_path(tmp_path):
    assert find_model(tmp_path / "mine.keras") == tmp_path / "mine.keras"
    assert find_model("fer2013.keras") == Path("fer2013.keras")  # a file name, not a shipped name


def test_a_shipped_model_missing_from_the_install_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(artifact.resources, "files", lambda package: tmp_path)
    with pytest.raises(FervidError, match=f"lacks its shipped model '{SHIPPED_MODELS[-1]}'"):
        find_model(SHIPPED_MODELS[-1])


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_tensorflow_predicts_what_jax_recorded(fer2013, name):
    expected = json.loads(EXPECTED.read_text())[name]
    assert expected["model_sha256"] == hashlib.sha256(find_model(name).read_bytes()).hexdigest(), (
        f"the shipped model {name} changed: rerun tests/model/make_shipped_expectations.py under KERAS_BACKEND=jax")
    assert expected["backend"] == "jax"
    faces = np.stack([cv2.imread(str(fer2013 / "val" / face), cv2.IMREAD_GRAYSCALE) for face in expected["faces"]])
    np.testing.assert_allclose(EmotionClassifier(find_model(name)).predict(faces), expected["probabilities"],
                               atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_fer2013s_original_pixels_score_what_training_measured(ferplus, name):
    """A user who has FER2013's own pixels (its CSV) gets the val accuracy training measured on the equalized
    image-folder copies: the models declare "equalized", and every classifier equalizes what it is given.
    (Given unequalized, the fer2013 model scored 63.9%.)"""
    info = read_info(find_model(name))
    assert info.input_normalization == "equalized"
    report = evaluate(ferplus / "val.csv", model_path=name, images=ferplus / "original-pixels.npz",
                      engine="tensorflow")
    assert report["fer2013_labels"]["n"] == 3571
    assert report["fer2013_labels"]["accuracy"] >= 0.667  # the paper's figure, which every shipped model keeps
    if "sources" not in info.training:  # trained on FER2013 alone: its val is the figure training recorded
        assert report["fer2013_labels"]["accuracy"] == pytest.approx(info.training["val_accuracy"], abs=0.005)


def test_a_new_label_set_starts_from_a_shipped_model_by_name():
    """`fervid train --init-from fer2013` (the paper's plan: Kathak's nine Navras): every layer but the 7-way head."""
    from fervid.model.network import NetworkConfig, build_model
    from fervid.model.train import init_weights_from

    navras = build_model(NetworkConfig(num_classes=9))
    head = navras.layers[-1].get_weights()[0].copy()
    assert init_weights_from(navras, SHIPPED_MODELS[0]) == 12
    source, _ = artifact.load_artifact(SHIPPED_MODELS[0])
    first_conv = next(layer for layer in navras.layers if layer.weights)
    np.testing.assert_array_equal(first_conv.get_weights()[0], source.get_layer(first_conv.name).get_weights()[0])
    np.testing.assert_array_equal(navras.layers[-1].get_weights()[0], head)
