"""assign_tracks: one id per face while in view, across short gaps, crossings, entries and exits; never one id
for two faces."""

import numpy as np
import pandas as pd
import pytest

from fervid.errors import FervidError
from fervid.pipeline.track_eval import LONG_GAP, SCENARIOS, score_tracks, synthetic_timelines
from fervid.pipeline.tracks import TrackConfig, assign_tracks, ensure_tracks, greedy_pairs


def boxes(*rows):
    """Literal rows (frame_index, x, y, w) at 10 fps, square boxes, one video."""
    frame = pd.DataFrame(rows, columns=["frame_index", "x", "y", "w"])
    return frame.assign(video_id="v", timestamp_s=frame["frame_index"] / 10, h=frame["w"])


def test_ids_are_zero_based_in_order_of_appearance_then_left_to_right():
    tracked = assign_tracks(boxes((0, 300, 0, 50), (1, 302, 0, 50), (1, 100, 0, 50), (1, 500, 0, 50)))
    assert tracked["track_id"].tolist() == [0, 0, 1, 2]
    assert tracked["track_id"].dtype == np.int32


def test_rows_and_their_order_are_kept_and_the_input_is_not_changed():
    rows = boxes((1, 10, 0, 50), (0, 12, 0, 50), (2, 400, 0, 50))
    tracked = assign_tracks(rows)
    assert "track_id" not in rows.columns
    assert tracked.drop(columns="track_id").equals(rows)
    assert tracked["track_id"].tolist() == [0, 0, 1]  # frame 0 comes first in time though second in the table


def test_a_short_gap_keeps_the_id_and_a_long_one_starts_a_new_track():
    short = assign_tracks(boxes((0, 100, 0, 50), (4, 100, 0, 50)))  # 0.4 s unseen
    long = assign_tracks(boxes((0, 100, 0, 50), (7, 100, 0, 50)))  # 0.7 s unseen
    assert short["track_id"].tolist() == [0, 0]
    assert long["track_id"].tolist() == [0, 1]
    assert assign_tracks(boxes((0, 100, 0, 50), (7, 100, 0, 50)), TrackConfig(max_gap_s=1))["track_id"].nunique() == 1


def test_a_face_of_another_size_in_the_same_place_is_another_track():
    # A shot change: a close-up replaced by a smaller face where it was (stage_multi_face.mp4 at 7.0 s).
    assert assign_tracks(boxes((0, 100, 100, 100), (1, 110, 110, 60)))["track_id"].tolist() == [0, 1]


def test_a_jump_is_refused_next_frame_but_allowed_after_a_gap():
    # 0.7 box sizes off: too far for 0.1 s (gate 0.5 + 0.1), fine after 0.4 s unseen (gate 0.5 + 0.4).
    assert assign_tracks(boxes((0, 100, 0, 50), (1, 135, 0, 50)))["track_id"].tolist() == [0, 1]
    assert assign_tracks(boxes((0, 100, 0, 50), (4, 135, 0, 50)))["track_id"].tolist() == [0, 0]


def test_tracks_are_numbered_per_video():
    rows = pd.concat([boxes((0, 100, 0, 50)), boxes((0, 100, 0, 50)).assign(video_id="w")])
    assert assign_tracks(rows)["track_id"].tolist() == [0, 0]


@pytest.mark.parametrize("seed", [0, 1, 2])  # other jitter and flicker draws: not a pass by luck
@pytest.mark.parametrize("name", SCENARIOS)
def test_synthetic_scenarios_have_no_switch_and_no_fragment(name, seed):
    score = score_tracks(assign_tracks(synthetic_timelines(SCENARIOS[name], seed=seed)))
    assert (score.switches, score.fragments) == (0, 0), score.line()


def test_a_one_second_miss_costs_at_most_one_new_id():
    score = score_tracks(assign_tracks(synthetic_timelines(LONG_GAP)))
    assert (score.switches, score.fragments) == (0, 1)


def test_greedy_pairs_takes_cheapest_first_and_respects_the_limit():
    costs = np.array([[0.1, 0.2], [0.05, 3.0]])
    assert greedy_pairs(costs, max_cost=1.0) == [(1, 0), (0, 1)]
    assert greedy_pairs(costs, max_cost=0.15) == [(1, 0)]
    assert greedy_pairs(np.array([[np.inf]])) == []
    assert greedy_pairs(np.zeros((0, 2))) == []


def test_ensure_tracks_keeps_existing_ids():
    rows = boxes((0, 100, 0, 50)).assign(track_id=np.int32(7))
    assert ensure_tracks(rows)["track_id"].tolist() == [7]


def test_an_empty_table_gets_an_empty_track_column():
    assert assign_tracks(boxes())["track_id"].dtype == np.int32


@pytest.mark.parametrize("change, message", [
    (dict(max_gap_s=-1), "max_gap_s"),
    (dict(max_jump=0), "max_jump"),
    (dict(jump_per_s=-1), "jump_per_s"),
    (dict(max_size_change=0), "max_size_change"),
    (dict(size_change_per_s=-1), "size_change_per_s"),
    (dict(position_gain=0), "position_gain"),
    (dict(velocity_gain=1.5), "velocity_gain"),
])
def test_bad_settings_are_refused(change, message):
    with pytest.raises(FervidError, match=message):
        TrackConfig(**change)


def test_missing_columns_are_named():
    with pytest.raises(FervidError, match="lacks the column.*timestamp_s"):
        assign_tracks(boxes((0, 1, 1, 1)).drop(columns="timestamp_s"))
