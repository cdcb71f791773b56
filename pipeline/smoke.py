"""Inputs for smoke runs and benchmarks, where accuracy does not matter: a short clip and a model file."""

from __future__ import annotations

from pathlib import Path

from fervid.errors import FervidError

SAMPLE_CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos" / "man_single_face.mp4"


def short_clip(folder: Path) -> Path:
    """The 72-frame sample clip when ../shared is there, else 2 s of generated video (moving shapes, no face)."""
    if SAMPLE_CLIP.is_file():
        return SAMPLE_CLIP.resolve()
    import cv2
    import numpy as np

    path = folder / "generated.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (320, 240))
    for i in range(50):
        frame = np.full((240, 320, 3), 40, np.uint8)
        cv2.circle(frame, (40 + 4 * i, 120), 30, (200, 180, 160), -1)
        writer.write(frame)
    writer.release()
    return path


def model_or_untrained(model_path: str | None, folder: Path) -> str:
    """``model_path``, else the shipped model, else a random-weights artifact in ``folder`` (same speed)."""
    from fervid.model.artifact import default_model_path

    if model_path:
        return model_path
    try:
        return str(default_model_path())
    except FervidError:
        from fervid.model.artifact import ArtifactInfo, save_artifact
        from fervid.model.labels import FER2013_LABELS
        from fervid.model.network import NetworkConfig, build_model

        info = ArtifactInfo(labels=FER2013_LABELS, network=NetworkConfig(), training={"note": "untrained, smoke run"})
        return str(save_artifact(build_model(), folder / "untrained.keras", info))
