"""`python jobs/analyze.py --smoke-test`: the whole analysis job on CPU, on one short clip, as CI's smoke run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_the_analysis_job_smoke_test_runs_end_to_end(videos):
    done = subprocess.run([sys.executable, "jobs/analyze.py", "--smoke-test"], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "1 videos ok, 0 failed" in done.stdout
