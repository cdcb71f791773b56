import zipfile

import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.model.artifact import ArtifactInfo, load_artifact, read_info, save_artifact
from fervid.model.labels import FER2013_LABELS
from fervid.model.network import NetworkConfig, build_model
from fervid.model.predict import EmotionClassifier

FACES = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)


def replace_metadata(path, text: str) -> None:
    """Rewrite the artifact with ``text`` as its fervid.json, unchecked (``write_info`` refuses bad metadata)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist() if name != "fervid.json"}
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        archive.writestr("fervid.json", text)


def test_a_saved_artifact_reloads_and_predicts_identically(untrained_model):
    model, info = load_artifact(untrained_model)
    assert info.labels == FER2013_LABELS and info.input_size == 48
    assert model.count_params() == 4_478_727
    again, _ = load_artifact(untrained_model)
    first = np.asarray(model.predict_on_batch(FACES[..., None].astype("float32")))
    np.testing.assert_array_equal(first, np.asarray(again.predict_on_batch(FACES[..., None].astype("float32"))))


def test_the_artifact_is_one_keras_file_without_optimizer_state(untrained_model):
    with zipfile.ZipFile(untrained_model) as archive:
        assert "fervid.json" in archive.namelist()
    assert untrained_model.stat().st_size < 20_000_000


def test_classifier_returns_probabilities_in_label_order(untrained_model):
    classifier = EmotionClassifier(untrained_model, batch_size=4)
    out = classifier.predict(FACES)
    assert out.shape == (5, 7) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)
    mirrored = EmotionClassifier(untrained_model, mirror=True).predict(FACES)
    expected = (out + classifier.predict(FACES[:, :, ::-1].copy())) / 2
    np.testing.assert_allclose(mirrored, expected, atol=1e-6)
    assert classifier.predict(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)


def _artifact_with(tmp_path, name, network=NetworkConfig(), labels=FER2013_LABELS):
    return save_artifact(build_model(network), tmp_path / name, ArtifactInfo(labels=labels, network=network))


def test_truncated_and_foreign_files_are_refused(tmp_path, untrained_model):
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(untrained_model.read_bytes()[: 1_000_000])
    with pytest.raises(FervidError, match="truncated.keras: not a fervid model"):
        load_artifact(truncated)
    text = tmp_path / "notes.keras"
    text.write_text("hello")
    with pytest.raises(FervidError, match="notes.keras: not a fervid model"):
        load_artifact(text)
    with pytest.raises(FervidError, match="missing.keras: model file not found"):
        load_artifact(tmp_path / "missing.keras")


def test_a_plain_keras_file_without_metadata_is_refused(tmp_path):
    import keras

    path = tmp_path / "plain.keras"
    keras.saving.save_model(build_model(), path)
    with pytest.raises(FervidError, match="not a fervid model \\(no fervid.json"):
        read_info(path)


def test_label_count_must_match_the_output_layer(tmp_path, untrained_model):
    wrong = tmp_path / "wrong_labels.keras"
    wrong.write_bytes(untrained_model.read_bytes())
    replace_metadata(wrong, ArtifactInfo(labels=tuple("abcdefghi"), network=NetworkConfig(9)).to_json())
    with pytest.raises(FervidError, match="outputs 7 classes but the file lists 9 labels"):
        load_artifact(wrong)


def test_wrong_input_shape_is_refused(tmp_path):
    import keras

    path = tmp_path / "rgb.keras"
    inputs = keras.Input((64, 64, 3))
    rgb = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inputs)))
    keras.saving.save_model(rgb, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("fervid.json", ArtifactInfo(labels=FER2013_LABELS, network=NetworkConfig()).to_json())
    with pytest.raises(FervidError, match=r"expected input shape \(None, 48, 48, 1\)"):
        load_artifact(path)


def test_a_lambda_layer_is_refused_by_safe_mode(tmp_path):
    import keras

    path = tmp_path / "lambda.keras"
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda t: t * 2)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x)))
    keras.saving.save_model(model, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("fervid.json", ArtifactInfo(labels=FER2013_LABELS, network=NetworkConfig()).to_json())
    with pytest.raises(FervidError, match="lambda.keras: Keras could not load the model.*"):
        load_artifact(path)


def test_bad_label_lists_are_refused():
    with pytest.raises(ValueError, match="unique"):
        ArtifactInfo(labels=("a", "a"), network=NetworkConfig(2))


def test_the_keras_free_check_refuses_what_loading_would(tmp_path, untrained_model):
    from fervid.model.artifact import check_artifact

    assert check_artifact(untrained_model).labels == FER2013_LABELS
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda t: t * 2)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x)))
    path = tmp_path / "lambda.keras"
    keras.saving.save_model(model, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("fervid.json", ArtifactInfo(labels=FER2013_LABELS, network=NetworkConfig()).to_json())
    with pytest.raises(FervidError, match=r"lambda.keras: layer 'lambda\w*' \(Lambda\) would run code"):
        check_artifact(path)


def test_the_input_normalization_travels_in_the_artifact(tmp_path):
    path = save_artifact(build_model(), tmp_path / "raw.keras",
                         ArtifactInfo(labels=FER2013_LABELS, network=NetworkConfig(), input_normalization="raw"))
    assert read_info(path).input_normalization == "raw"
    assert EmotionClassifier(path).info.input_normalization == "raw"


def test_a_format_1_file_without_the_field_is_read_as_equalized(tmp_path, untrained_model):
    import json

    from fervid.model.artifact import write_info

    old = tmp_path / "old.keras"
    old.write_bytes(untrained_model.read_bytes())
    info = json.loads(ArtifactInfo(labels=FER2013_LABELS, network=NetworkConfig()).to_json())
    del info["input_normalization"]
    info["format"] = 1
    replace_metadata(old, json.dumps(info))
    assert read_info(old).input_normalization == "equalized"  # every fervid model before format 2 learnt those
    write_info(old, ArtifactInfo(labels=FER2013_LABELS, network=NetworkConfig(), input_normalization="raw"))
    assert read_info(old).input_normalization == "raw" and load_artifact(old)[0].count_params() == 4_478_727


def test_an_unknown_input_normalization_is_refused_naming_the_file(tmp_path, untrained_model):
    import json

    bad = tmp_path / "bad.keras"
    bad.write_bytes(untrained_model.read_bytes())
    info = json.loads(read_info(untrained_model).to_json())
    info["input_normalization"] = "clahe"
    replace_metadata(bad, json.dumps(info))
    with pytest.raises(FervidError, match="bad.keras: fervid.json is invalid.*input normalization must be one of"):
        read_info(bad)
