"""Faults in the middle of a run: a detect task's worker and the classifier actor killed (SIGKILL), the CLI
interrupted (SIGINT, SIGTERM). The job must still finish (or resume) with every frame exactly once.

Each run is a separate ``fervid analyze`` process (its own local Ray), compared with one undisturbed run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from fervid.pipeline.output import partial_folder

pytestmark = pytest.mark.slow

CLIPS = ("woman_talking.mp4", "woman_outdoor.mp4", "stage_multi_face.mp4")
ROW_KEY = ["video_path", "frame_index", "face_index"]


def start(folder: Path, out: Path, *extra: str) -> subprocess.Popen:
    # SIGINT restored to its default: a child of a non-interactive shell may inherit it ignored.
    return subprocess.Popen([sys.executable, "-m", "fervid.cli", "analyze", str(folder), "--out", str(out), *extra],
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def busy_worker(run: subprocess.Popen, title: str, timeout_s: float = 180):
    """The first Ray worker process of this run whose process title names ``title``, once it is at work."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and run.poll() is None:
        for process in psutil.Process(run.pid).children(recursive=True):
            try:
                name = " ".join(process.cmdline())
            except psutil.Error:  # exited meanwhile
                continue
            if title in name and "__init__" not in name:
                return process
        time.sleep(0.1)
    raise AssertionError(f"no busy {title} process appeared")


def first_video_saved(run: subprocess.Popen, out: Path, timeout_s: float = 300) -> None:
    """Returns once the run has saved its first finished video (in ``.OUT.partial/``) and is still going."""
    partial = partial_folder(out)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and run.poll() is None:
        if any(p.name != "settings.json" for p in partial.glob("*.json")):
            return
        time.sleep(0.05)
    raise AssertionError(f"the run saved no video while it ran (exit {run.poll()})")


@pytest.fixture(scope="module")
def workload(videos, tmp_path_factory):
    """Six clips (two copies of three, 2,422 frames) and the rows of one undisturbed run over them."""
    folder = tmp_path_factory.mktemp("faults")
    for copy in (1, 2):
        for clip in CLIPS:
            (folder / f"copy{copy}_{clip}").symlink_to(videos / clip)
    reference = tmp_path_factory.mktemp("faults-reference") / "reference.parquet"
    run = start(folder, reference)
    assert run.wait(timeout=600) == 0, run.stdout.read()
    return folder, pd.read_parquet(reference)


def assert_exactly_once(out: Path, reference: pd.DataFrame) -> None:
    rows = pd.read_parquet(out)
    assert not rows.duplicated(ROW_KEY).any()
    pd.testing.assert_frame_equal(rows, reference)


def test_killed_detect_worker_and_classifier_actor_still_give_every_frame_once(workload, tmp_path):
    folder, reference = workload
    out = tmp_path / "t.parquet"
    run = start(folder, out)
    for title in ("detect_range", "EmotionActor"):
        victim = busy_worker(run, title)
        time.sleep(2)  # let it get some work done and some rows out first
        victim.kill()
    output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output[-3000:]
    assert_exactly_once(out, reference)


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_looks_incomplete_and_resume_finishes_it(workload, tmp_path, sent):
    folder, reference = workload
    out = tmp_path / "t.parquet"
    run = start(folder, out)
    first_video_saved(run, out)  # mid-way by what it has done, not by a time that a fast host outruns
    run.send_signal(sent)
    run.communicate(timeout=120)
    assert run.returncode != 0
    assert not out.exists() and not (tmp_path / "t.videos.parquet").exists()  # nothing looks complete
    resumed = start(folder, out, "--resume")
    output, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, output[-3000:]
    assert_exactly_once(out, reference)
