"""A default `fervid analyze` shows progress and its summary, `fervid evaluate` its report: not the engines' chatter."""

import os
import subprocess
import sys

from fervid.console import NOISE, filtered_stderr
from fervid.pipeline.job import Progress


def test_the_filter_drops_known_noise_and_passes_everything_else(capfd):
    with filtered_stderr() as terminal:
        # A child process writes to descriptor 2 directly, as Ray's C++ core does.
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write("
                        f"'[E core_worker.cc] Actor x {NOISE[0]}. See ...\\nreal trouble\\n')"], check=True)
        terminal.write("videos 1/1\n")
    import time

    time.sleep(0.3)  # the filter thread forwards asynchronously
    err = capfd.readouterr().err
    assert "real trouble" in err and "videos 1/1" in err and NOISE[0] not in err


def test_progress_says_how_long_is_left_from_the_rate_since_the_first_result():
    # 8 s of start-up, then 100 frames/s: 1,000 frames left take 10 s, not the 18 s the overall rate says.
    assert Progress(2, 9, 1000, 18.0, 2000, (8.0, 0)).line() == \
        "videos 2/9, 1000 frames, 55.6 frames/s, about 0:10 left"
    assert Progress(1, 9, 100, 9.0, 2000, (9.0, 100)).line() == "videos 1/9, 100 frames, 11.1 frames/s"  # too early
    assert Progress(9, 9, 2000, 28.0, 2000, (8.0, 0)).line() == "videos 9/9, 2000 frames, 71.4 frames/s"


def test_a_default_analyze_prints_only_progress_and_the_summary(videos, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "fervid"), "analyze",
                          str(videos / "man_single_face.mp4"), "--out", str(tmp_path / "t.parquet")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("1 videos ok, 0 failed; 72 frames")
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("videos ") for line in lines), run.stderr


def test_evaluate_prints_its_report_and_nothing_else(tmp_path):
    """LiteRT announces its XNNPACK delegate on stderr from the CLI's own process; evaluate filters it out."""
    import json

    from fervid.model.data import write_synthetic_faces

    faces = write_synthetic_faces(tmp_path / "faces", per_class=8)
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "fervid"), "evaluate", "--data",
                          str(faces / "val"), "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["n"] > 0
    assert run.stderr == ""
