import numpy as np
import pytest

from fervid.pipeline.classify import EmotionActor
from fervid.pipeline.crops import _face_rows, _summary_row
from fervid.pipeline.detect import Faces
from fervid.pipeline.schema import EMOTION_COLUMNS


def test_actor_adds_probabilities_and_drops_crops(untrained_model):
    actor = EmotionActor(untrained_model.read_bytes(), batch_size=8)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 48, 48), dtype=np.uint8)
    task = dict(video_path="/v.mp4", video_id="abc", range_index=0)
    faces = _face_rows(task, [(0, 0.0, Faces(np.zeros((3, 4), np.int32), np.ones(3, np.float32), crops), True)])
    summary = _summary_row(task, {})
    batch = {key: np.concatenate([faces[key], summary[key]]) for key in faces}
    out = actor(batch)
    assert "crop" not in out
    probabilities = np.stack([out[name] for name in EMOTION_COLUMNS], axis=1)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities[:3].sum(axis=1), 1, atol=1e-5)
    assert np.all(probabilities[3] == 0) and out["emotion"][3] == ""  # the summary row is passed through
    assert list(out["emotion"][:3]) == [EMOTION_COLUMNS[i] for i in probabilities[:3].argmax(axis=1)]
    np.testing.assert_allclose(out["confidence"][:3], probabilities[:3].max(axis=1))
    np.testing.assert_allclose(probabilities[:3], actor.classifier.predict(crops), atol=1e-6)


@pytest.mark.parametrize("engine, gpu, expected", [
    ("auto", False, "litert-int8"), ("auto", True, "tensorflow"), ("tensorflow", False, "tensorflow"),
])
def test_the_actor_can_average_each_face_with_its_mirror(untrained_model, engine, gpu, expected):
    from fervid.model.predict import make_classifier

    actor = EmotionActor(untrained_model.read_bytes(), batch_size=8, mirror=True, engine=engine, gpu=gpu)
    assert actor.classifier.engine == expected and actor.classifier.mirror
    crops = np.random.default_rng(1).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    same = make_classifier(untrained_model, expected, batch_size=8, mirror=True).predict(crops)
    np.testing.assert_allclose(actor.classifier.predict(crops), same, atol=1e-6)


def test_the_actor_runs_the_twin_its_driver_sends(untrained_model, monkeypatch):
    from fervid.model import tflite

    twin = tflite.ensure_tflite(untrained_model).read_bytes()
    monkeypatch.setattr(tflite, "ensure_tflite", lambda _: pytest.fail("the actor looked for a twin it was sent"))
    actor = EmotionActor(untrained_model.read_bytes(), batch_size=8, tflite_bytes=twin, num_threads=1)
    assert actor.classifier.engine == "litert-int8"
    assert actor.classifier.predict(np.zeros((2, 48, 48), np.uint8)).shape == (2, 7)
