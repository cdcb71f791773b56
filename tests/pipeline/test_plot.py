"""fervid plot: a readable PNG per video, capped rows with a note, clear errors."""

import matplotlib.image
import pytest
from click.testing import CliRunner

from fervid.cli import main
from fervid.errors import FervidError
from fervid.pipeline.plot import plot_timelines
from fervid.pipeline.summary import prepare
from fervid.pipeline.track_eval import SyntheticFace, synthetic_timelines

# Five faces side by side, each seen for a different time, so the longest-seen are known.
FACES = synthetic_timelines([SyntheticFace(0, 0.5 + i / 2, (60 + 120 * i, 100)) for i in range(5)], fps=10)


def image_height(path):
    return matplotlib.image.imread(path).shape[0]


def test_one_row_per_track_up_to_the_cap(tmp_path):
    all_rows = plot_timelines(prepare(FACES), tmp_path / "all.png")
    capped = plot_timelines(prepare(FACES), tmp_path / "capped.png", max_tracks=2)
    assert image_height(all_rows) > image_height(capped) > 0


def test_cli_plot_writes_the_file(tmp_path):
    timelines = tmp_path / "t.parquet"
    FACES.drop(columns="true_id").to_parquet(timelines)
    result = CliRunner().invoke(main, ["plot", str(timelines), "--out", str(tmp_path / "p.png"), "--video",
                                       "synthetic", "--smooth", "0.2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").stat().st_size > 10_000


@pytest.mark.parametrize("rows, kwargs, message", [
    (FACES, dict(max_tracks=0), "max_tracks must be at least 1"),
    (FACES.iloc[:0], {}, "no faces"),
    (FACES, dict(video="other"), "matches none"),
])
def test_bad_requests_are_refused(tmp_path, rows, kwargs, message):
    with pytest.raises(FervidError, match=message):
        plot_timelines(prepare(rows), tmp_path / "p.png", **kwargs)
