"""smooth: a centred mean over seconds per track, added beside the raw columns."""

import numpy as np
import pandas as pd
import pytest

from fervid.errors import FervidError
from fervid.pipeline.schema import EMOTION_COLUMNS
from fervid.pipeline.smooth import SMOOTH_COLUMNS, centred_mean, smooth

HAPPY, SAD = EMOTION_COLUMNS.index("happy"), EMOTION_COLUMNS.index("sad")


def rows(times, winners, track_id=0):
    """One face: at each time, 0.7 on the winning label and 0.05 on the others."""
    probabilities = np.full((len(times), len(EMOTION_COLUMNS)), 0.05, dtype=np.float32)
    probabilities[np.arange(len(times)), winners] = 0.7
    frame = pd.DataFrame(probabilities, columns=list(EMOTION_COLUMNS))
    return frame.assign(video_id="v", track_id=np.int32(track_id), timestamp_s=list(times))


def test_a_single_odd_frame_is_smoothed_away_and_raw_columns_stay():
    face = rows([0, 0.1, 0.2, 0.3, 0.4], [HAPPY, HAPPY, SAD, HAPPY, HAPPY])
    smoothed = smooth(face, window_s=0.3)
    assert smoothed["emotion_smooth"].tolist() == ["happy"] * 5
    assert smoothed[list(EMOTION_COLUMNS)].equals(face[list(EMOTION_COLUMNS)])
    # frame 2 averages frames 1-3: (0.7 + 0.05 + 0.7) / 3 on happy
    assert smoothed["happy_smooth"].iloc[2] == pytest.approx(1.45 / 3, abs=1e-6)
    assert smoothed["confidence_smooth"].iloc[2] == pytest.approx(1.45 / 3, abs=1e-6)
    assert np.allclose(smoothed[list(SMOOTH_COLUMNS)].sum(axis=1), 1.0, atol=1e-5)


def test_the_window_is_in_seconds_not_frames():
    # Uneven spacing: 0.25 s away is outside a 0.3 s window (0.15 s each side), 0.1 s away is inside.
    times = np.array([0.0, 0.1, 0.35])
    means = centred_mean(times, np.array([[0.0], [3.0], [9.0]]), 0.3)
    assert means[:, 0].tolist() == pytest.approx([1.5, 1.5, 9.0])


def test_tracks_do_not_blur_into_each_other():
    both = pd.concat([rows([0, 0.1], [HAPPY, HAPPY], track_id=0), rows([0, 0.1], [SAD, SAD], track_id=1)])
    smoothed = smooth(both, window_s=10)
    assert smoothed["emotion_smooth"].tolist() == ["happy", "happy", "sad", "sad"]


def test_rows_out_of_time_order_are_smoothed_by_time():
    face = rows([0.4, 0.0, 0.2], [SAD, HAPPY, HAPPY])
    smoothed = smooth(face, window_s=0.25)  # each row sees only itself: 0.2 s apart
    assert smoothed["emotion_smooth"].tolist() == ["sad", "happy", "happy"]


def test_zero_window_copies_the_raw_probabilities():
    face = rows([0, 0.1], [HAPPY, SAD])
    smoothed = smooth(face, window_s=0)
    assert smoothed["emotion_smooth"].tolist() == ["happy", "sad"]
    assert np.array_equal(smoothed[list(SMOOTH_COLUMNS)].to_numpy(), face[list(EMOTION_COLUMNS)].to_numpy())


def test_an_empty_table_stays_empty():
    assert smooth(rows([], []), 0.5)["emotion_smooth"].tolist() == []


@pytest.mark.parametrize("table, window, message", [
    (rows([0], [HAPPY]), -0.1, "window must be >= 0"),
    (rows([0], [HAPPY]), float("nan"), "window must be >= 0"),
    (rows([0], [HAPPY]).drop(columns="track_id"), 0.5, "track_id"),
])
def test_bad_input_is_refused(table, window, message):
    with pytest.raises(FervidError, match=message):
        smooth(table, window)
