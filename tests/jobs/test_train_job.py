"""`ray start --head` + `ray job submit -- python jobs/train.py --smoke-test`, as a user would on a cluster."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_PORT = "8299"


@pytest.fixture
def ray_head():
    ray = str(Path(sys.executable).parent / "ray")
    # The job's `python` is whatever the head's PATH gives: put this environment first.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("RAY_ADDRESS", None)
    subprocess.run([ray, "start", "--head", "--port", "6399", "--dashboard-host", "127.0.0.1",
                    "--dashboard-port", DASHBOARD_PORT, "--num-cpus", "2", "--disable-usage-stats"],
                   check=True, env=env, capture_output=True, timeout=180)
    try:
        yield ray, env
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_smoke_training_job_submitted_to_a_ray_head(ray_head):
    ray, env = ray_head
    done = subprocess.run([ray, "job", "submit", "--address", f"http://127.0.0.1:{DASHBOARD_PORT}",
                           "--working-dir", str(REPO), "--", "python", "jobs/train.py", "--smoke-test"],
                          env={**env, "RAY_AUTH_MODE": "token"}, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "smoke test: loss" in output and "succeeded" in output
