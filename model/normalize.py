"""How faces must look before they reach the network, applied in one place on both sides of the model.

The FER2013 faces most people train on (the image-folder copies, ``../shared/data/fer2013``) were histogram-
equalized before they were saved; FER2013's own pixels (its CSV) were not. A network learns whichever it is given,
and fed the other it loses points: v2, trained on equalized faces, scored 65.4% of PrivateTest given the original
pixels against 69.1% given them equalized (FINDINGS.md). So a model's artifact says which it learnt
(``ArtifactInfo.input_normalization``), training applies it to every face it loads (``fervid.model.train``), and
every classifier applies it to every face it is given (``fervid.model.predict``): FER2013 val, the original
pixels and video crops all reach the network the same way, whatever they looked like.
"""

from __future__ import annotations

import numpy as np

from fervid.errors import FervidError

# equalized: each 48x48 face histogram-equalized (cv2.equalizeHist), as FER2013's image-folder copies were made;
# raw: faces reach the network as they are given.
INPUT_NORMALIZATIONS = ("equalized", "raw")


def check_normalization(mode: str) -> str:
    if mode not in INPUT_NORMALIZATIONS:
        raise FervidError(f"input normalization must be one of {', '.join(INPUT_NORMALIZATIONS)}. Received {mode!r}")
    return mode


def normalize_faces(faces: np.ndarray, mode: str) -> np.ndarray:
    """uint8 (N, 48, 48) faces as a model with input normalization ``mode`` expects them (never changed in place).

    Equalizing is (within one grey level) idempotent, so a face that is equalized already, as FER2013's folder
    copies are, comes out nearly unchanged: the same face given raw or given equalized gets the same answer.
    """
    import cv2

    check_normalization(mode)
    faces = np.asarray(faces)
    if mode == "raw":
        return faces
    if faces.dtype != np.uint8:
        raise ValueError(f"Expected uint8 faces to equalize. Received dtype {faces.dtype}")
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        out[i] = cv2.equalizeHist(np.ascontiguousarray(face))
    return out
