"""One ``fervid analyze`` CLI run over the whole bad-input matrix (``matrix.py``), shared by every test in this
folder: a Ray run costs 10-30 s on this 2-core machine, so the cases share one run instead of one each."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import matrix
from fervid.cli import main
from fervid.pipeline.schema import videos_path

SAMPLE_FPS = "5"  # every frame is still decoded and counted; only the detector runs less


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime in ns) of everything under ``folder``, symlinks not followed."""
    found = {}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(root, name)
            status = path.lstat()
            found[str(path.relative_to(folder))] = (status.st_size, status.st_mtime_ns)
    return found


@dataclass(frozen=True)
class MatrixRun:
    folder: Path  # the inputs
    out: Path
    args: list[str]  # the CLI arguments, to run it again
    result: Result
    table: pd.DataFrame  # the videos table, indexed by video_path
    timeline: pd.DataFrame
    inputs_before: dict[str, tuple[int, int]]
    inputs_after: dict[str, tuple[int, int]]
    out_before: dict[str, tuple[int, int]]
    out_after: dict[str, tuple[int, int]]


@pytest.fixture(scope="package")
def ray_up():
    """The local Ray that ``analyze`` starts, kept up for this folder's tests and shut down after them, so
    other test folders find none of ours running."""
    ray = pytest.importorskip("ray")
    started_here = not ray.is_initialized()
    from fervid.pipeline.job import connect

    connect(None)
    yield
    if started_here:
        ray.shutdown()


@pytest.fixture(scope="package")
def matrix_run(ray_up, videos, untrained_model, tmp_path_factory) -> MatrixRun:
    root = tmp_path_factory.mktemp("reliability")
    folder = root / "inputs"
    extra = matrix.build(folder, videos)
    out_folder = root / "out"
    out_folder.mkdir()
    # Unrelated files beside the output, some with names close to it: a run must leave them alone.
    for name in ("notes.txt", "timelines.parquet.bak", "timelines.videos.parquet.old"):
        (out_folder / name).write_text(f"unrelated {name}\n")
    out = out_folder / "timelines.parquet"
    args = ["analyze", str(folder), *map(str, extra), "--out", str(out), "--model", str(untrained_model),
            "--fps", SAMPLE_FPS]
    inputs_before, out_before = listing(folder), listing(out_folder)
    result = CliRunner().invoke(main, args)
    table = pd.read_parquet(videos_path(out)).set_index("video_path") if videos_path(out).exists() else None
    timeline = pd.read_parquet(out) if out.exists() else None
    return MatrixRun(folder, out, args, result, table, timeline, inputs_before, listing(folder), out_before,
                     listing(out_folder))
