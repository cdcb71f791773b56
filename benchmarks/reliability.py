"""Reruns the bad-input matrix of issue #6 and prints the table of docs/reliability.md.

Run: python benchmarks/reliability.py [--model PATH.keras]     (about 1-2 minutes on 2 cores)

Builds every case of ``tests/reliability/matrix.py`` (the same inputs the tests assert on) in a temporary folder
beside two good clips and runs the real ``fervid analyze`` once over all of it, as a child process, so the exit
status and stderr are what a user gets. Then the cases that stop a run before any video is read (a folder named
like a video, broken model files) run one by one. Columns: case | expected | observed status | message | exit
code of the run the case was in | frames decoded (ok rows).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "reliability"))  # the case definitions live beside their tests

import matrix  # noqa: E402

from fervid.pipeline.schema import videos_path  # noqa: E402
from fervid.pipeline.smoke import model_or_untrained  # noqa: E402

VIDEOS = REPO / ".." / "shared" / "data" / "videos"
MESSAGE_CHARS = 90


def fervid(*args: str) -> subprocess.CompletedProcess:
    """The installed CLI in a child process: exit status and stderr exactly as a user sees them."""
    return subprocess.run([sys.executable, "-m", "fervid.cli", *args], capture_output=True, text=True)


def short(text: str | None, folder: Path) -> str:
    text = "" if text is None or pd.isna(text) else str(text).replace(f"{folder}/", "")
    return (text[:MESSAGE_CHARS] + "...") if len(text) > MESSAGE_CHARS else text


def usage_line(result: subprocess.CompletedProcess, folder: Path) -> tuple[str, str]:
    """(observed, message) for a run expected to stop with one ``error:`` line."""
    lines = result.stderr.strip().splitlines()
    if "Traceback" in result.stderr:
        return "traceback", short(lines[-1] if lines else "", folder)
    errors = [line for line in lines if line.startswith("error: ")]
    return ("usage error" if errors else "ran"), short(errors[0] if errors else "", folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="Artifact; default: the shipped model, else an untrained one.")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="The sample clips.")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fervid-reliability-") as temporary:
        root = Path(temporary)
        model = model_or_untrained(args.model, root)
        folder = root / "inputs"
        extra = matrix.build(folder, args.videos)
        out = root / "out" / "timelines.parquet"
        out.parent.mkdir()
        run = fervid("analyze", str(folder), *map(str, extra), "--out", str(out), "--model", model, "--fps", "5")
        table = pd.read_parquet(videos_path(out)).set_index("video_path")
        good = [matrix.Case(f"good clip {Path(p).name} (control)", p, matrix.OK, frames=n)
                for p, n in matrix.GOOD_CLIPS.items()]
        for case in [*matrix.CASES, *good]:
            path = str(folder / case.path)
            row = table.loc[path] if path in table.index else None
            observed = matrix.NOT_LISTED if row is None else row.status
            frames = "" if row is None or row.status not in (matrix.OK, matrix.PARTIAL) else str(row.frames_total)
            rows.append((case.name, case.status, observed, short(None if row is None else row.error, folder),
                         str(run.returncode), frames))
        empty = root / "clips.mp4"
        empty.mkdir()
        stopped = [("folder named .mp4, passed alone (empty)", str(empty), model)]
        for name, make in (("model truncated", matrix.truncated_model), ("model with 9 labels", matrix.nine_label_model),
                           ("model with a Lambda layer", matrix.lambda_model)):
            stopped.append((name, str(args.videos / matrix.SAMPLE), str(make(Path(model), root))))
        for name, target, model_path in stopped:
            result = fervid("analyze", target, "--out", str(root / "stop.parquet"), "--model", model_path)
            observed, message = usage_line(result, root)
            rows.append((name, "usage error", observed, message, str(result.returncode), ""))
    print(f"One run over {len(table)} inputs: exit status {run.returncode}; {run.stdout.strip()}\n")
    header = ("case", "expected", "observed status", "message", "exit code", "frames")
    print("| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")


if __name__ == "__main__":
    main()
