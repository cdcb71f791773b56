"""Timeline plots: for one video, one small-multiple row per face track with its seven (smoothed) probabilities
over time and a ribbon of the dominant emotion above them. Run through ``fervid plot``. Drawn on a bare
matplotlib ``Figure`` (no pyplot): it renders with Agg on servers and in CI, and calling it from a notebook
leaves the notebook's own plotting backend alone.

The longest-seen tracks are drawn first; past ``max_tracks`` the rest are left out and the title says how many,
so a crowded video stays readable instead of shrinking every row to a line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from fervid.errors import FervidError

from .schema import EMOTION_COLUMNS
from .smooth import SMOOTH_COLUMNS
from .summary import emotion_segments, track_summary
from .tables import select_video
from .tracks import TRACK_COLUMN

# One colour per label position, from matplotlib's tab10; grey for neutral (the 5th label) because it is the
# "nothing shown" state. Also used by ``annotate`` (as BGR), so a face's box and its plot row share a colour.
EMOTION_HEX: dict[str, str] = dict(zip(EMOTION_COLUMNS, ("#d62728", "#8c564b", "#9467bd", "#ff7f0e",
                                                         "#7f7f7f", "#1f77b4", "#2ca02c")))


def emotion_bgr(emotion: str) -> tuple[int, int, int]:
    """The emotion's plot colour as an OpenCV (blue, green, red) tuple."""
    code = EMOTION_HEX[emotion].lstrip("#")
    red, green, blue = (int(code[i:i + 2], 16) for i in (0, 2, 4))
    return blue, green, red


def plot_timelines(prepared: pd.DataFrame, out: str | os.PathLike, video: str | None = None,
                   max_tracks: int = 8, videos: pd.DataFrame | None = None) -> Path:
    """Draw ``prepared`` (see ``summary.prepare``) for one video (id, path or file name) to ``out`` (PNG, SVG, PDF)."""
    if max_tracks < 1:
        raise FervidError(f"max_tracks must be at least 1; received {max_tracks}")
    out = Path(out)
    if not out.parent.is_dir():
        raise FervidError(f"{out.parent}: the output folder does not exist")
    rows = select_video(prepared, video)
    if rows.empty:
        raise FervidError("no faces in the timelines: nothing to plot")

    from matplotlib.figure import Figure

    tracks = track_summary(rows, videos).sort_values(["seconds", TRACK_COLUMN], ascending=[False, True])
    shown = tracks.head(max_tracks).sort_values(TRACK_COLUMN)
    segments = emotion_segments(rows, videos)
    end_s = float(segments["end_s"].max())
    height_in = 1.2 + 1.6 * len(shown)
    figure = Figure(figsize=(10, height_in))
    axes = figure.subplots(len(shown), 1, sharex=True, squeeze=False)
    for axis, track in zip(axes[:, 0], shown.itertuples()):
        track_rows = rows[rows[TRACK_COLUMN] == track.track_id].sort_values("timestamp_s")
        for name, column in zip(EMOTION_COLUMNS, SMOOTH_COLUMNS):
            axis.plot(track_rows["timestamp_s"], track_rows[column], color=EMOTION_HEX[name], lw=1.2, label=name)
        # The ribbon: the dominant (smoothed) emotion as coloured bars in a band above the probabilities.
        for segment in segments[segments[TRACK_COLUMN] == track.track_id].itertuples():
            axis.axvspan(segment.start_s, segment.end_s, ymin=0.9, ymax=1.0, color=EMOTION_HEX[segment.emotion],
                         lw=0)
        axis.set_ylim(0, 1.12)
        axis.set_xlim(0, end_s)
        axis.set_ylabel(f"track {track.track_id}\n{track.seconds:.1f} s", rotation=0, ha="right", va="center",
                        labelpad=12)
        axis.set_yticks([0, 0.5, 1])
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time in the video (s)")
    title = f"{Path(str(rows['video_path'].iloc[0])).name}: emotion probabilities per face track (smoothed)"
    if len(tracks) > len(shown):
        title += f"\nshowing the {len(shown)} longest-seen of {len(tracks)} tracks"
    figure.suptitle(title)
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=len(EMOTION_COLUMNS),
                  frameon=False)
    figure.tight_layout(rect=(0, 0.45 / height_in, 1, 1))  # room for the legend row
    figure.savefig(out, dpi=100)
    return out
