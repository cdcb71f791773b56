"""Face tracks: which timeline rows are the same person, so a face keeps one ``track_id`` while it is in view.

The detector sees each frame alone; ``face_index`` is only left-to-right order and changes whenever someone
enters, leaves or moves past another face. ``assign_tracks`` links detections frame to frame:

- each live track predicts its centre at the new frame's time with a constant velocity; an alpha-beta filter
  (position and velocity nudged towards each matched detection by fixed gains) keeps that prediction steady
  through detector jitter, which is what keeps two faces apart while their boxes cross;
- two gates say which pairs are possible at all: the centre within ``max_jump`` box sizes of the prediction,
  and the size within ``max_size_change`` (log ratio) of the last box; both widen per second the track was
  unseen, since a face can move, approach or zoom meanwhile. The jump gate stops a track that lost its face
  from grabbing another face that appears nearby (pasted faces crossing, benchmarks/tracks.py); the size gate
  stops a shot change from continuing a track on another face at another scale (``stage_multi_face.mp4``,
  7.0 s). Cost of a possible pair = centre distance / box size + |log(size ratio)|;
- pairs are taken cheapest first (greedy). On the few boxes of one frame this picks the same pairs as the
  Hungarian method except in contrived near-ties, and it needs no scipy;
- a track unseen for more than ``max_gap_s`` ends; a detection left unpaired starts a new track.

Track ids are 0-based per video, in order of first appearance (then left to right).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fervid.errors import FervidError

from .schema import TRACK_COLUMN
from .tables import require_columns

_NEEDED = ("video_id", "frame_index", "timestamp_s", "x", "y", "w", "h")


@dataclass(frozen=True)
class TrackConfig:
    max_gap_s: float = 0.5  # a face missed for up to this long keeps its track (blinks, turns, detector misses)
    max_jump: float = 0.5  # box sizes the centre may land off its prediction from one frame to the next
    jump_per_s: float = 1.0  # ... plus this many box sizes per second unseen
    max_size_change: float = 0.3  # |log(size ratio)|, i.e. x1.35: a real face does not grow that fast between frames
    size_change_per_s: float = 1.0  # the size gate widens by this much per second unseen (approach, zoom)
    # Filter gains, measured on crossing faces (benchmarks/tracks.py): lower = steadier, slower to follow a turn.
    position_gain: float = 0.5  # share of the prediction error taken into the position
    velocity_gain: float = 0.1  # share of the prediction error (per second elapsed) taken into the velocity

    def __post_init__(self):
        if not self.max_gap_s >= 0:
            raise FervidError(f"max_gap_s must be >= 0 seconds; received {self.max_gap_s}")
        if not self.max_jump > 0 or not self.jump_per_s >= 0:
            raise FervidError(f"max_jump must be > 0 and jump_per_s >= 0; received {self.max_jump}, "
                              f"{self.jump_per_s}")
        if not self.max_size_change > 0 or not self.size_change_per_s >= 0:
            raise FervidError(f"max_size_change must be > 0 and size_change_per_s >= 0; received "
                              f"{self.max_size_change}, {self.size_change_per_s}")
        for name in ("position_gain", "velocity_gain"):
            if not 0 < getattr(self, name) <= 1:
                raise FervidError(f"{name} must be in (0, 1]; received {getattr(self, name)}")


@dataclass
class _Track:
    id: int
    centre: np.ndarray  # (cx, cy) pixels at time ``seen_s``, filtered
    size: float  # sqrt(w * h) of the last detection, pixels
    seen_s: float
    velocity: np.ndarray  # pixels per second

    def predict(self, time_s: float) -> np.ndarray:
        return self.centre + self.velocity * (time_s - self.seen_s)

    def update(self, centre: np.ndarray, size: float, time_s: float, config: TrackConfig) -> None:
        dt = time_s - self.seen_s
        predicted = self.predict(time_s)
        error = centre - predicted
        self.centre = predicted + config.position_gain * error
        if dt > 0:
            self.velocity = self.velocity + config.velocity_gain * error / dt
        self.size, self.seen_s = size, time_s


def _costs(tracks: list[_Track], centres: np.ndarray, sizes: np.ndarray, time_s: float,
           config: TrackConfig) -> np.ndarray:
    """(tracks x detections) pairing cost, infinite for pairs the gates forbid; see the module docstring."""
    predicted = np.array([track.predict(time_s) for track in tracks])
    track_sizes = np.array([track.size for track in tracks])
    distance = np.linalg.norm(predicted[:, None, :] - centres[None, :, :], axis=2) / track_sizes[:, None]
    size_change = np.abs(np.log(sizes[None, :] / track_sizes[:, None]))
    unseen_s = (time_s - np.array([track.seen_s for track in tracks]))[:, None]
    possible = ((distance <= config.max_jump + config.jump_per_s * unseen_s)
                & (size_change <= config.max_size_change + config.size_change_per_s * unseen_s))
    return np.where(possible, distance + size_change, np.inf)


def greedy_pairs(costs: np.ndarray, max_cost: float = np.inf) -> list[tuple[int, int]]:
    """(row, column) pairs, cheapest first, each row and column used once; none above ``max_cost`` or infinite."""
    pairs, used_rows, used_columns = [], set(), set()
    for flat in np.argsort(costs, axis=None, kind="stable"):
        row, column = divmod(int(flat), costs.shape[1])
        if not costs[row, column] <= max_cost or np.isinf(costs[row, column]):
            break
        if row not in used_rows and column not in used_columns:
            pairs.append((row, column))
            used_rows.add(row)
            used_columns.add(column)
    return pairs


def _track_video(rows: pd.DataFrame, config: TrackConfig) -> np.ndarray:
    """Track ids for one video's rows (in the order given)."""
    ids = np.full(len(rows), -1, dtype=np.int32)
    centres = np.column_stack([rows["x"] + rows["w"] / 2, rows["y"] + rows["h"] / 2]).astype(np.float64)
    sizes = np.sqrt(np.maximum(rows["w"].to_numpy(np.float64) * rows["h"].to_numpy(np.float64), 1.0))
    times = rows["timestamp_s"].to_numpy(np.float64)
    # One frame at a time, in time order; inside a frame, left to right so new ids follow reading order.
    order = np.lexsort((centres[:, 0], rows["frame_index"].to_numpy()))
    frames = np.split(order, np.flatnonzero(np.diff(rows["frame_index"].to_numpy()[order])) + 1)
    live: list[_Track] = []
    next_id = 0
    for members in frames:
        time_s = times[members[0]]
        live = [track for track in live if time_s - track.seen_s <= config.max_gap_s]
        pairs = []
        if live:
            pairs = greedy_pairs(_costs(live, centres[members], sizes[members], time_s, config))
        paired = {column for _, column in pairs}
        for row, column in pairs:
            member = members[column]
            live[row].update(centres[member], sizes[member], time_s, config)
            ids[member] = live[row].id
        for column, member in enumerate(members):
            if column not in paired:
                live.append(_Track(next_id, centres[member], sizes[member], time_s, np.zeros(2)))
                ids[member] = next_id
                next_id += 1
    return ids


def assign_tracks(timelines: pd.DataFrame, config: TrackConfig = TrackConfig()) -> pd.DataFrame:
    """A copy of ``timelines`` with an int32 ``track_id`` column (rows and their order unchanged)."""
    require_columns(timelines, _NEEDED)
    out = timelines.copy()
    out[TRACK_COLUMN] = np.zeros(len(out), dtype=np.int32)
    for _, index in out.groupby("video_id", sort=False).indices.items():
        out.iloc[index, out.columns.get_loc(TRACK_COLUMN)] = _track_video(out.iloc[index], config)
    out[TRACK_COLUMN] = out[TRACK_COLUMN].astype(np.int32)
    return out


def ensure_tracks(timelines: pd.DataFrame, config: TrackConfig = TrackConfig()) -> pd.DataFrame:
    """``timelines`` itself when it already has track ids, else ``assign_tracks`` of it."""
    return timelines if TRACK_COLUMN in timelines.columns else assign_tracks(timelines, config)
