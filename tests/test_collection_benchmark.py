"""benchmarks/collection.py at a small N (issue 34 runs it at 10,000 for docs/benchmarks.md): it makes distinct
clips, and an undisturbed run, one with a Ray worker killed and one interrupted then resumed give the same videos
rows, each clip once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLIPS = 24


@pytest.mark.slow
def test_collection_benchmark_small(videos, untrained_model, tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "collection.py"), "--clips", str(CLIPS),
                          "--kill-worker", "--interrupt-at", "0.5", "--videos", str(videos), "--cache",
                          str(tmp_path / "cache"), "--model", str(untrained_model)],
                         capture_output=True, text=True, timeout=1200, cwd=REPO)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    clips = sorted((tmp_path / "cache" / "clips").rglob("clip*.mp4"))
    assert len(clips) == CLIPS and len({clip.read_bytes() for clip in clips}) == CLIPS  # distinct clips
    # The videos tables of the undisturbed, killed and resumed runs: one row per clip, none twice.
    assert output.count(f"{CLIPS} rows for {CLIPS} clips, {CLIPS} distinct paths") == 3, output[-4000:]
    assert output.count("rows as the undisturbed run's: True") == 2, output[-4000:]
    timing = re.search(r"start-up ([\d.]+) s, planning ([\d.]+) s, analysis ([\d.]+) s\); peak RSS driver ([\d.]+)",
                       output)
    assert timing and all(float(value) > 0 for value in timing.groups()), output[-4000:]
