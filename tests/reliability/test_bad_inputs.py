"""The bad-input matrix (issue #6): every case of ``matrix.CASES`` in one folder with good clips, one CLI run
(``conftest.matrix_run``); each case gets the status and message it should, and the good videos stay complete.

Run: pytest tests/reliability -m "not slow"   (one Ray run, about a minute; the 1,000-clip folder is slow)

Unreadable permissions cannot be made here: tests run as root, for whom ``chmod 000`` blocks nothing; the
message is checked on the error ``open()`` would raise (last test).
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import matrix
from fervid.cli import main
from fervid.pipeline.crops import describe
from fervid.pipeline.job import AnalyzeConfig, analyze
from fervid.pipeline.schema import STATUS_ERROR, STATUS_OK, STATUS_PARTIAL, videos_path

def rows_of(run, relative: str):
    path = str(run.folder / relative)
    return run.table.loc[path], run.timeline[run.timeline.video_path == path]


def test_one_run_reports_failures_with_exit_2_and_no_traceback(matrix_run):
    result, table = matrix_run.result, matrix_run.table
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # the CLI's own exit, not an uncaught error
    assert "Traceback" not in result.output
    ok, failed = (table.status == STATUS_OK).sum(), (table.status == STATUS_ERROR).sum()
    partial = (table.status == STATUS_PARTIAL).sum()
    assert f"{ok} videos ok, {partial} partial (damaged), {failed} failed" in result.output
    expected = [c for c in matrix.CASES if c.status != matrix.NOT_LISTED]
    assert len(table) == len(expected) + len(matrix.GOOD_CLIPS)  # every listed input has exactly one row


@pytest.mark.parametrize("case", matrix.CASES, ids=[c.name for c in matrix.CASES])
def test_case(matrix_run, case):
    path = str(matrix_run.folder / case.path)
    if case.status == matrix.NOT_LISTED:
        assert path not in matrix_run.table.index
        assert not any(p.startswith(path + "/") for p in matrix_run.table.index)  # and nothing below it
        return
    row, timeline = rows_of(matrix_run, case.path)
    assert row.status == case.status, row.error
    if case.status == STATUS_ERROR:
        assert row.error.startswith(path + ":")  # names the file first, whatever its characters
        assert case.message in row.error and "Traceback" not in row.error
        assert row.frames_total == 0 and row.faces == 0 and timeline.empty  # failed videos have no rows
    else:
        if case.status == STATUS_PARTIAL:  # damaged: the message says so, the decoded frames have rows
            assert row.error.startswith(path + ":") and case.message in row.error
        else:
            assert pd.isna(row.error)
        assert row.frames_total == case.frames
        assert row.faces == len(timeline) and row.frames_with_faces == timeline.frame_index.nunique()
        assert (timeline.x + timeline.w <= row.width).all() and (timeline.y + timeline.h <= row.height).all()


def test_good_clips_are_complete_beside_the_bad_ones(matrix_run):
    for relative, frames in matrix.GOOD_CLIPS.items():
        row, timeline = rows_of(matrix_run, relative)
        assert row.status == STATUS_OK and row.frames_total == frames
        assert row.frames_analyzed == pytest.approx(math.ceil(row.duration_s * 5), abs=1)  # --fps 5
        assert row.faces == len(timeline) > 0 and row.frames_with_faces == timeline.frame_index.nunique()
        assert timeline.frame_index.max() < frames


def test_odd_paths_come_back_exactly_as_found(matrix_run):
    paths = set(matrix_run.table.index)
    for case in matrix.CASES:
        if case.status != matrix.NOT_LISTED:
            assert str(matrix_run.folder / case.path) in paths  # spaces, quotes, accents, %, $( ), ;
    assert not any(f"/{matrix.LOOP}/" in p for p in paths)  # the loop was not entered twice


def test_large_and_rotated_frames_are_measured_as_decoded(matrix_run):
    uhd, faces_4k = rows_of(matrix_run, "uhd_4k.mp4")
    assert (uhd.width, uhd.height) == (3840, 2160) and uhd.faces > 0
    assert faces_4k.w.min() > 100  # the face scaled 6x is found at its 4K size
    rotated, faces = rows_of(matrix_run, "rotated.mp4")
    assert (rotated.width, rotated.height) == (360, 640)  # upright, as a player shows it
    assert rotated.faces > 0 and (faces.h > faces.w * 0.8).all()


def test_variable_frame_rate_keeps_container_times(matrix_run):
    row, timeline = rows_of(matrix_run, matrix.VFR_SAMPLE)
    frames = timeline.drop_duplicates("frame_index")
    assert frames.timestamp_s.is_monotonic_increasing
    assert np.abs(frames.timestamp_s - frames.frame_index / row.fps).max() > 0.1  # not frame_index / fps


def test_a_folder_named_like_a_video_is_searched_not_opened(tmp_path, untrained_model):
    empty = tmp_path / "clips.mp4"
    empty.mkdir()
    result = CliRunner().invoke(main, ["analyze", str(empty), "--out", str(tmp_path / "t.parquet"),
                                       "--model", str(untrained_model)])
    assert result.exit_code == 1 and "clips.mp4: no videos found" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips.mp4"]  # a usage error writes nothing


@pytest.mark.slow
def test_a_thousand_tiny_clips_all_finish(ray_up, videos, untrained_model, tmp_path):
    """1,000 symlinks to one 3-frame 64x36 clip: per-video overheads (a plan task, a range block, a saved
    partial file each) must not stall or drop anything."""
    frames = [np.ascontiguousarray(f[::10, ::10]) for f in matrix.sample_frames(videos, 3)]
    tiny = matrix.write_video(tmp_path / "tiny.mp4", frames)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1000):
        (folder / f"clip_{i:04d}.mp4").symlink_to(tiny)
    out = tmp_path / "many.parquet"
    summary = analyze([folder], out, AnalyzeConfig(model_path=str(untrained_model), detector="blazeface-short"))
    assert (summary.videos_ok, summary.videos_failed, summary.frames) == (1000, 0, 3000)
    table = pd.read_parquet(videos_path(out))
    assert len(table) == table.video_path.nunique() == 1000 and (table.frames_total == 3).all()
    shutil.rmtree(folder)


def test_an_unreadable_file_is_named_with_the_reason():
    """Tests run as root, for whom ``chmod 000`` blocks nothing, so the error ``open()`` raises for another
    user is built here; it takes the same path as the dangling symlink above."""
    error = PermissionError(13, "Permission denied", "/videos/private clip.mp4")
    assert describe("/videos/private clip.mp4", error) == "/videos/private clip.mp4: cannot read it (Permission denied)"
