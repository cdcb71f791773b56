"""Which Ray fervid joins: a named one as given, a live recorded one, never a dead record (issue 18)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from fervid.cluster import ray_address


@pytest.fixture
def ray_tmpdir(monkeypatch):
    """A Ray temp folder of this test's own (short: Ray's socket paths must stay under 108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="fervid-ray-", dir="/tmp"))
    monkeypatch.setenv("RAY_TMPDIR", str(folder))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def _record(folder: Path, address: str) -> None:
    (folder / "ray").mkdir(exist_ok=True)
    (folder / "ray" / "ray_current_cluster").write_text(address)


def test_a_named_cluster_is_taken_as_given(ray_tmpdir, monkeypatch):
    _record(ray_tmpdir, "127.0.0.1:1")  # dead, but never consulted when an address is given
    notices = []
    assert ray_address("10.0.0.1:6379", notices.append) == "10.0.0.1:6379"
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    assert ray_address(None, notices.append) == "auto"
    assert notices == []


def test_without_a_record_ray_starts_its_own(ray_tmpdir):
    notices = []
    assert ray_address(None, notices.append) is None
    assert notices == []


def test_a_live_record_is_joined(ray_tmpdir):
    with socket.create_server(("127.0.0.1", 0)) as server:
        _record(ray_tmpdir, f"127.0.0.1:{server.getsockname()[1]}")
        notices = []
        assert ray_address(None, notices.append) is None  # ray.init(address=None) joins the recorded cluster
        assert notices == []


def test_a_dead_record_means_a_fresh_local_ray_and_one_notice(ray_tmpdir):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    _record(ray_tmpdir, f"127.0.0.1:{port}")  # nothing listens there any more
    notices = []
    started = time.perf_counter()
    assert ray_address(None, notices.append) == "local"
    assert time.perf_counter() - started < 5
    assert len(notices) == 1 and "does not answer" in notices[0] and "ray_current_cluster" in notices[0]


def _ray_processes(folder: Path) -> list[psutil.Process]:
    """The processes of the Ray started under ``folder`` (their command lines name it)."""
    mine = []
    for process in psutil.process_iter(["cmdline"]):
        if any(f"{folder}/" in part for part in process.info["cmdline"] or []):
            mine.append(process)
    return mine


@pytest.mark.slow
def test_analyze_after_a_ray_killed_with_sigkill_finishes_with_one_notice(ray_tmpdir, videos, untrained_model,
                                                                          tmp_path):
    """The issue's reproduction: `ray start`, kill -9 its processes, then a default `fervid analyze`. Before, the
    run retried the dead address for ever (a GCS warning every 5 s)."""
    clip = videos / "man_single_face.mp4"
    ray = [sys.executable, "-m", "ray.scripts.scripts"]
    subprocess.run([*ray, "start", "--head", "--include-dashboard=false", "--num-cpus=1"], check=True,
                   capture_output=True, timeout=120)
    assert (ray_tmpdir / "ray" / "ray_current_cluster").exists()
    processes = _ray_processes(ray_tmpdir)
    assert processes, "ray start left no process to kill"
    for process in processes:
        process.kill()  # SIGKILL: nothing gets to clean up, as after an OOM kill
    psutil.wait_procs(processes, timeout=10)

    fervid = Path(sys.executable).with_name("fervid")
    started = time.perf_counter()
    run = subprocess.run([str(fervid), "analyze", str(clip), "--out", str(tmp_path / "t.parquet"), "--fps", "1",
                          "--model", str(untrained_model)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "RAY_TMPDIR": str(ray_tmpdir)})
    seconds = time.perf_counter() - started
    try:
        assert run.returncode == 0, run.stderr
        notices = [line for line in run.stderr.splitlines() if "does not answer" in line]
        assert len(notices) == 1, run.stderr
        assert "GCS" not in run.stderr  # none of Ray's retry warnings
        assert run.stdout.startswith("1 videos ok, 0 failed"), run.stdout
        assert seconds < 60
    finally:
        for process in _ray_processes(ray_tmpdir):  # the fresh Ray exits with the run; this is only a safety net
            process.kill()


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


def _stop(folder: Path) -> None:
    """Stop the Ray started under ``folder``, and only it: `ray stop` would stop every Ray on the machine (it finds
    them by process name), other people's runs included."""
    processes = _ray_processes(folder)
    for process in list(processes):  # workers name themselves "ray::IDLE", not the folder: the raylet's children
        with contextlib.suppress(psutil.NoSuchProcess):
            processes += [child for child in process.children(recursive=True) if child not in processes]
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=15)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=10)


@pytest.fixture
def token_head(ray_tmpdir, tmp_path):
    """A `ray start --head` on a loopback port in token mode, as on a machine where Ray has made its token
    (~/.ray/auth_token, here under a HOME of the test's own); stopped afterwards, whatever happens."""
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text(os.urandom(32).hex())
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH")}
    env.update(HOME=str(home), RAY_TMPDIR=str(ray_tmpdir))
    ray = str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    try:
        subprocess.run([ray, "start", "--head", f"--port={port}", "--include-dashboard=false", "--num-cpus=1",
                        "--disable-usage-stats"], check=True, capture_output=True, timeout=120, env=env)
        [gcs] = [p for p in _ray_processes(ray_tmpdir) if p.name() == "gcs_server"]
        assert gcs.environ().get("RAY_AUTH_MODE") == "token"  # the head enforces tokens: what the test is about
        yield f"127.0.0.1:{port}", env
    finally:
        _stop(ray_tmpdir)


def _analyze_at(address: str, env: dict, clip: Path, out: Path, model: Path) -> tuple[subprocess.CompletedProcess,
                                                                                         float]:
    fervid = Path(sys.executable).with_name("fervid")
    started = time.perf_counter()
    run = subprocess.run([str(fervid), "analyze", str(clip), "--out", str(out), "--fps", "1", "--model", str(model),
                          "--address", address], capture_output=True, text=True, timeout=300, env=env)
    return run, time.perf_counter() - started


@pytest.mark.slow
def test_joining_a_token_cluster_works_or_is_one_line(token_head, videos, untrained_model, tmp_path):
    """Issue 34: `fervid analyze --address` against a `ray start --head` in token mode printed a GCS warning a
    second, then a traceback, and left a .partial that made the next run refuse to start."""
    address, env = token_head
    clip, out = videos / "man_single_face.mp4", tmp_path / "out" / "t.parquet"
    out.parent.mkdir()

    # The token Ray made on this machine: fervid turns token mode on for the named address, and the run works.
    run, _ = _analyze_at(address, env, clip, out, untrained_model)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("1 videos ok, 0 failed"), run.stdout
    assert "GCS" not in run.stderr and "Traceback" not in run.stderr

    # Another token than the cluster's: refused, in one line, within 10 s, and nothing left behind.
    again = tmp_path / "out" / "again.parquet"
    run, seconds = _analyze_at(address, {**env, "RAY_AUTH_TOKEN": "0" * 64}, clip, again, untrained_model)
    assert run.returncode == 1 and seconds < 10, (seconds, run.stderr[-3000:])
    assert run.stderr.strip().splitlines() == [run.stderr.strip()], run.stderr[-3000:]
    assert "token authentication" in run.stderr and "RAY_AUTH_TOKEN" in run.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["t.parquet", "t.videos.parquet"]  # no .partial

    # A port where no cluster listens: one line at once.
    run, seconds = _analyze_at(f"127.0.0.1:{_free_port()}", env, clip, again, untrained_model)
    assert run.returncode == 1 and seconds < 10 and "cannot reach the Ray cluster" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.parent.iterdir()) == ["t.parquet", "t.videos.parquet"]


def test_a_refusal_says_what_to_set():
    """The errors Ray raises when a cluster does not take the driver, reduced to one line each."""
    from fervid.cluster import refusal

    wrapped = ConnectionError("Failed to connect to Ray cluster at 192.0.2.2:6411")
    wrapped.__cause__ = RuntimeError("Failed to connect to GCS. Last connection error: Traceback ...\n"
                                     "ray.exceptions.AuthenticationError: RPC error: InvalidAuthToken: Authentication "
                                     "token is missing or incorrect.")
    assert "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN" in refusal("10.0.0.1:6379", wrapped)
    missing = RuntimeError("Token authentication is enabled but no authentication token was found")
    assert "refused this driver: it uses token authentication" in refusal("10.0.0.1:6379", missing)
    mismatch = RuntimeError("Version mismatch: The cluster was started with:\n    Ray: 2.59.0\n    Python: 3.10.4\n"
                            "This process on node 10.0.0.2 was started with:\n    Ray: 2.60.0\n    Python: 3.11.2")
    line = refusal("10.0.0.1:6379", mismatch)
    assert "runs another Ray or Python" in line and "Ray: 2.59.0" in line and "\n" not in line
    assert refusal("h:1", OSError("boom\nmore")) == "cannot join the Ray cluster at h:1: boom more"
