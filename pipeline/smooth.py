"""Smoothing a face's emotion probabilities over time, so one odd frame does not read as a change of mood.

A centred mean over a window in seconds (not frames): the same window means the same time span at 24, 30 or a
variable frame rate, and after ``--fps`` sampling. Per track, so two people never blur into each other. The raw
columns stay; the smoothed ones are added beside them (``happy`` -> ``happy_smooth``, plus ``emotion_smooth``
and ``confidence_smooth``, the argmax of the smoothed probabilities and its value).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fervid.errors import FervidError

from .schema import CONFIDENCE_SMOOTH, EMOTION_COLUMNS, EMOTION_SMOOTH, SMOOTH_COLUMNS
from .tables import require_columns
from .tracks import TRACK_COLUMN



def centred_mean(times_s: np.ndarray, values: np.ndarray, window_s: float) -> np.ndarray:
    """Mean of ``values`` rows whose time is within ``window_s / 2`` of each row's time (``times_s`` sorted)."""
    sums = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    # A hair of tolerance so a frame exactly half a window away counts whatever the float rounding did.
    half = window_s / 2 + 1e-9
    low = np.searchsorted(times_s, times_s - half, side="left")
    high = np.searchsorted(times_s, times_s + half, side="right")
    return (sums[high] - sums[low]) / (high - low)[:, None]


def smooth(timelines: pd.DataFrame, window_s: float = 0.5) -> pd.DataFrame:
    """A copy of ``timelines`` (which needs ``track_id``) with the smoothed columns added; ``window_s=0``: none."""
    if not window_s >= 0:
        raise FervidError(f"the smoothing window must be >= 0 seconds; received {window_s}")
    require_columns(timelines, ("video_id", TRACK_COLUMN, "timestamp_s", *EMOTION_COLUMNS),
                    "the timelines table (run assign_tracks first for track_id)")
    out = timelines.copy()
    raw = out[list(EMOTION_COLUMNS)].to_numpy(np.float64)
    smoothed = raw.copy()
    if window_s > 0:
        for index in out.groupby(["video_id", TRACK_COLUMN], sort=False).indices.values():
            index = index[np.argsort(out["timestamp_s"].to_numpy()[index], kind="stable")]
            smoothed[index] = centred_mean(out["timestamp_s"].to_numpy()[index], raw[index], window_s)
    out[list(SMOOTH_COLUMNS)] = smoothed.astype(np.float32)
    best = smoothed.argmax(axis=1) if len(out) else np.zeros(0, dtype=int)
    out[EMOTION_SMOOTH] = np.array(EMOTION_COLUMNS, dtype=object)[best]
    out[CONFIDENCE_SMOOTH] = smoothed[np.arange(len(out)), best].astype(np.float32)
    return out
