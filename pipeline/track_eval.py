"""Measuring ``assign_tracks``: timelines with known identities, and the two errors that matter to a reader.

- ``fragments``: extra track ids a true face received (0 = one face, one id). Expected after a gap longer than
  ``TrackConfig.max_gap_s``; the target is at most one per face per second of missed detection.
- ``switches``: true faces merged into another face's track (0 = no id ever moved to a different person).

``synthetic_timelines`` writes rows directly (boxes on known straight paths, with dropped detections), so tests
and ``benchmarks/tracks.py`` can score the tracker without any video or model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .schema import EMOTION_COLUMNS, TIMELINE_SCHEMA
from .tracks import TRACK_COLUMN

TRUE_COLUMN = "true_id"


@dataclass(frozen=True)
class SyntheticFace:
    start_s: float
    end_s: float
    centre: tuple[float, float]  # pixels at start_s
    velocity: tuple[float, float] = (0.0, 0.0)  # pixels per second
    size: float = 80.0  # box side, pixels
    missed: Sequence[tuple[float, float]] = field(default_factory=tuple)  # [start, end) spans with no detection
    miss_rate: float = 0.0  # also drop this share of its frames at random (detector flicker)


# Known-answer cases in a 640x360 frame, shared by tests/pipeline/test_tracks.py and benchmarks/tracks.py
# (which also pastes real face crops on these paths and runs the clip through the detector).
SCENARIOS: dict[str, list[SyntheticFace]] = {
    "apart, short gaps and flicker": [SyntheticFace(0, 4, (120, 120), missed=[(1, 1.3)]),
                                      SyntheticFace(0, 4, (450, 180), missed=[(2, 2.1)], miss_rate=0.15)],
    "crossing at speed": [SyntheticFace(0, 4, (60, 150), (130, 0)), SyntheticFace(0, 4, (580, 190), (-130, 0))],
    "crossing with flicker": [SyntheticFace(0, 4, (60, 150), (130, 0), miss_rate=0.2),
                              SyntheticFace(0, 4, (580, 200), (-130, 0), 100, miss_rate=0.2)],
    "entering and leaving": [SyntheticFace(0, 2, (100, 100)), SyntheticFace(0.5, 3, (300, 100), (20, 10)),
                             SyntheticFace(1.5, 4, (540, 260), (-30, 0)), SyntheticFace(2.7, 4, (100, 100))],
}
# One face unseen for a whole second: a new id is allowed (the target is at most one per second missed).
LONG_GAP = [SyntheticFace(0, 4, (320, 180), missed=[(1, 2)])]


def synthetic_timelines(faces: Sequence[SyntheticFace], fps: float = 30.0, jitter_px: float = 2.0,
                        seed: int = 0, video_id: str = "synthetic") -> pd.DataFrame:
    """Timeline rows for ``faces`` at ``fps``, with a ``true_id`` column (the face's position in ``faces``)."""
    rng = np.random.default_rng(seed)
    end_s = max(face.end_s for face in faces)
    rows = []
    for frame_index in range(int(round(end_s * fps)) + 1):
        time_s = frame_index / fps
        for true_id, face in enumerate(faces):
            seen = face.start_s <= time_s < face.end_s and not any(a <= time_s < b for a, b in face.missed)
            if not seen or rng.random() < face.miss_rate:
                continue
            elapsed = time_s - face.start_s
            cx, cy = (face.centre[axis] + face.velocity[axis] * elapsed + rng.normal(0, jitter_px) for axis in (0, 1))
            side = face.size * (1 + rng.normal(0, 0.03))
            rows.append(dict(frame_index=frame_index, timestamp_s=time_s, x=int(cx - side / 2), y=int(cy - side / 2),
                             w=int(side), h=int(side), true_id=true_id))
    frame = pd.DataFrame(rows)
    probabilities = rng.dirichlet(np.ones(len(EMOTION_COLUMNS)), size=len(frame)).astype(np.float32)
    frame[list(EMOTION_COLUMNS)] = probabilities
    frame["emotion"] = np.array(EMOTION_COLUMNS)[probabilities.argmax(axis=1)]
    frame["confidence"] = probabilities.max(axis=1)
    frame["face_index"] = frame.groupby("frame_index")["x"].rank(method="first").astype(np.int32) - 1
    frame["video_id"], frame["video_path"], frame["det_score"] = video_id, f"/synthetic/{video_id}.mp4", 0.9
    frame["detected"] = True
    # The real schema's column order and types, so the tracker sees exactly what `fervid analyze` writes.
    typed = {name: frame[name].astype(TIMELINE_SCHEMA.field(name).type.to_pandas_dtype())
             for name in TIMELINE_SCHEMA.names if name != TRACK_COLUMN}  # the tracker under test adds it
    return pd.DataFrame({**typed, TRUE_COLUMN: frame[TRUE_COLUMN].to_numpy()})


@dataclass(frozen=True)
class TrackScore:
    faces: int  # true identities
    tracks: int  # predicted track ids
    fragments: int  # sum over faces of (distinct ids it received - 1)
    switches: int  # sum over tracks of (distinct faces it covered - 1)

    def line(self) -> str:
        return f"{self.faces} faces, {self.tracks} tracks, {self.fragments} fragments, {self.switches} id switches"


def score_tracks(tracked: pd.DataFrame, true_column: str = TRUE_COLUMN) -> TrackScore:
    """Compare ``track_id`` with the known identity in ``true_column`` (per video)."""
    keys_true, keys_track = ["video_id", true_column], ["video_id", TRACK_COLUMN]
    ids_per_face = tracked.groupby(keys_true)[TRACK_COLUMN].nunique()
    faces_per_track = tracked.groupby(keys_track)[true_column].nunique()
    return TrackScore(faces=len(ids_per_face), tracks=len(faces_per_track),
                      fragments=int((ids_per_face - 1).sum()), switches=int((faces_per_track - 1).sum()))
