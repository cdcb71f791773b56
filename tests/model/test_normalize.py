"""Input normalization: one function for training and inference, declared by the artifact."""

import cv2
import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.model.normalize import normalize_faces
from fervid.model.predict import make_classifier

RAW = np.random.default_rng(0).integers(60, 140, (6, 48, 48), dtype=np.uint8)  # flat, dim faces: far from equalized


def test_equalized_faces_use_the_whole_grey_range_and_raw_faces_pass_unchanged():
    equalized = normalize_faces(RAW, "equalized")
    assert equalized.dtype == np.uint8 and equalized.shape == RAW.shape
    assert equalized.min() == 0 and equalized.max() == 255 and RAW.max() < 140
    np.testing.assert_array_equal(equalized[0], cv2.equalizeHist(RAW[0]))
    np.testing.assert_array_equal(normalize_faces(RAW, "raw"), RAW)
    np.testing.assert_array_equal(normalize_faces(equalized, "equalized"), equalized)  # idempotent


@pytest.mark.parametrize("mode", ["EQUALIZED", "clahe", ""])
def test_an_unknown_normalization_is_refused(mode):
    with pytest.raises(FervidError, match="input normalization must be one of equalized, raw"):
        normalize_faces(RAW, mode)


def test_the_shipped_model_gives_a_face_the_same_answer_raw_or_already_equalized(ferplus):
    """FER2013's original pixels of val faces, and the same faces equalized before they are given."""
    with np.load(ferplus / "original-pixels.npz") as packed:
        original = packed["val_images"][:64]
    equalized = np.stack([cv2.equalizeHist(face) for face in original])
    classifier = make_classifier(engine="litert-int8")
    assert classifier.info.input_normalization == "equalized"
    from_raw, from_equalized = classifier.predict(original), classifier.predict(equalized)
    np.testing.assert_allclose(from_raw, from_equalized, atol=0.02)  # equalizing twice moves a pixel by <= 1 level
    assert (from_raw.argmax(1) == from_equalized.argmax(1)).mean() >= 0.95
    # Not the same as giving the network the raw pixels: the normalization does something.
    from dataclasses import replace

    classifier.info = replace(classifier.info, input_normalization="raw")
    assert np.abs(classifier.predict(original) - from_raw).max() > 0.1
