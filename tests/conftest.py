"""Shared fixtures. Tests read ``../shared/data`` beside the clone; without it they skip, except under CI=true,
where a missing file fails the run so it can never pass silently."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

SHARED_DATA = Path(os.environ.get("FERVID_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def shared_path(relative: str) -> Path:
    """A path under ../shared/data, or skip (fail under CI=true) when it is not there."""
    path = (SHARED_DATA / relative).resolve()
    if not path.exists():
        message = f"{path} is missing: tests need ../shared/data beside the checkout (or FERVID_SHARED_DATA)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory) -> Path:
    """Models the tests convert to int8 (fervid.model.tflite) go to a fresh cache, never the user's."""
    folder = tmp_path_factory.mktemp("fervid-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FERVID_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def fer2013() -> Path:
    return shared_path("fer2013")


@pytest.fixture(scope="session")
def fer2013_packed() -> Path:
    return shared_path("fer2013-packed")


@pytest.fixture(scope="session")
def ferplus() -> Path:
    """FER+ votes for the shared FER2013 faces ({train,val}.csv) and their original pixels (original-pixels.npz)."""
    return shared_path("ferplus")


@pytest.fixture(scope="session")
def videos() -> Path:
    return shared_path("videos")


@pytest.fixture(scope="session")
def labelled_faces() -> Path:
    return shared_path("labelled-faces")


@pytest.fixture(scope="session")
def untrained_model(tmp_path_factory) -> Path:
    """A real artifact with random weights: enough for every test where accuracy does not matter."""
    import keras

    from fervid.model.artifact import ArtifactInfo, save_artifact
    from fervid.model.labels import FER2013_LABELS
    from fervid.model.network import NetworkConfig, build_model

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "untrained.keras"
    return save_artifact(build_model(), path, ArtifactInfo(labels=FER2013_LABELS, network=NetworkConfig(),
                                                           training={"note": "untrained, for tests"}))


@pytest.fixture(scope="session")
def labelled_videos() -> Path:
    return shared_path("labelled-video")
