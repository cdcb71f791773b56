"""A disk that fills while the output is written (issue 34): `fervid analyze` ends with one line naming the output,
leaves no videos table (so nothing looks complete), and `--resume` writes the output once there is room.

The full disk is a file-size limit (``RLIMIT_FSIZE``) on the driver process only, set after its Ray is up (Ray's own
processes keep writing their logs), with SIGXFSZ ignored so that a write past it fails with EFBIG, as a write to a
full disk fails with ENOSPC, instead of killing the process. No root or mount needed, so it runs in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd

from fervid.pipeline.job import AnalyzeConfig, analyze
from fervid.pipeline.schema import videos_path

# The CLI in a process whose files may not grow past LIMIT bytes once Ray has started.
LIMITED_CLI = """
import resource, signal, sys
from fervid.pipeline.job import connect
connect(None)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["fervid", *sys.argv[2:]]
from fervid.cli import main
main()
"""


def test_a_full_disk_is_one_line_and_resume_finishes(videos, untrained_model, ray_session, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("man_single_face.mp4", "woman_phone.mp4"):
        shutil.copy(videos / name, folder / name)
    # The reference also makes the model's int8 twin in the cache, so the limited run need not write it.
    reference = tmp_path / "reference" / "t.parquet"
    reference.parent.mkdir()
    analyze([folder], reference, AnalyzeConfig(model_path=str(untrained_model), sample_fps=5))
    timeline_bytes = reference.stat().st_size
    assert timeline_bytes > 2 * 4096  # room between one video's rows and both videos' rows

    # Each video's rows fit under the limit (they are saved as the run goes); the whole timeline does not.
    out = tmp_path / "out" / "t.parquet"
    out.parent.mkdir()
    args = ["analyze", str(folder), "--out", str(out), "--model", str(untrained_model), "--fps", "5"]
    run = subprocess.run([sys.executable, "-c", LIMITED_CLI, str(timeline_bytes - 1), *args], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "RAY_ADDRESS": ""})
    assert run.returncode == 1, run.stdout + run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {out}: cannot write it (File too large); every finished video is kept in "
                      f"{out.parent / '.t.parquet.partial'}: make room and run again with --resume to write the "
                      "output"], run.stderr
    assert "Traceback" not in run.stderr
    assert not videos_path(out).exists() and not out.exists()  # nothing that looks complete
    assert sorted(p.name for p in out.parent.iterdir()) == [".t.parquet.partial"]  # and no temporary left

    # Room again: --resume writes the output from the saved videos, analysing none again.
    again = subprocess.run([sys.executable, "-m", "fervid.cli", *args, "--resume"], capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("2 videos ok, 0 failed") and "0.0 frames/s" in again.stdout, again.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(reference))
    pd.testing.assert_frame_equal(pd.read_parquet(videos_path(out)).drop(columns="seconds"),
                                  pd.read_parquet(videos_path(reference)).drop(columns="seconds"))
