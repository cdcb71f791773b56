"""Throughput of ``fervid analyze`` on a dataset of many short clips (2-4 s, 720p and 1080p), as research
collections are (DFEW, MAFW: thousands of clips of a few seconds), against the decode floor, the plain loop and
``fervid analyze`` as it is on main at a fixed commit.

Run: python benchmarks/short_clips.py [--clips 512] [--base 16a12be] [--model PATH.keras] [--cache FOLDER]
                                      [--detect-every 1]

Makes (once, deterministically, into ``--cache``, outside the tree) ``--clips`` clips cut from the sample clips:
clip k comes from sample clip k mod 7, lasts 2-4 s, starts at a different place each time and is re-encoded at 720
or 1080 pixels high (MPEG-4 Part 2, the encoder OpenCV's wheel has). Then, in this one process tree, over the same
clips, measures (``benchmarks/analyze.py`` holds the helpers):
1. decode only (OpenCV, every frame, one process): the floor;
2. the plain single-process loop with the same detector, engine and model;
3. ``fervid analyze`` of ``--base`` (a ``git archive`` of that commit, run with its packages first on the path);
4. ``fervid analyze`` of this checkout (the detector about every 0.2 s, faces carried between: its default);
5. with ``--detect-every K``: the same with the detector on every K-th frame (``fervid.pipeline.keyframes``; 1: a
   detection in every frame, as ``--base`` ran).
Both analyses run the CLI in a fresh process and are timed end to end, Ray's start-up included, as a user sees it.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import psutil

from analyze import VIDEOS, decode_only, measure, plain_loop

from fervid.pipeline.detect import DEFAULT_DETECTOR
from fervid.pipeline.smoke import model_or_untrained
from fervid.pipeline.sources import list_videos

ROOT = Path(__file__).resolve().parents[1]
BASE = "16a12be"  # main when this benchmark was written: "today's fervid analyze" of issue 18
HEIGHTS = (720, 1080)
CACHE = Path(os.environ.get("FERVID_CACHE", Path.home() / ".cache" / "fervid")) / "bench"


def make_clips(videos: Path, count: int, folder: Path) -> list[str]:
    """``count`` clips of 2-4 s cut from the sample clips, re-encoded at 720 or 1080 pixels high; kept in ``folder``
    (made once: a finished set has its ``done`` marker)."""
    import cv2

    if not (folder / "done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        sources = list_videos([videos])
        for k in range(count):
            source = cv2.VideoCapture(sources[k % len(sources)], cv2.CAP_FFMPEG)
            fps, frames = source.get(cv2.CAP_PROP_FPS), int(source.get(cv2.CAP_PROP_FRAME_COUNT))
            width, height = (int(source.get(p)) for p in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
            length = min(frames, round(fps * (2 + (k * 0.37) % 2)))  # 2-4 s, or the whole of a shorter clip
            start = round((k * 0.61 * fps) % max(1, frames - length))
            for _ in range(start):
                source.grab()
            target = HEIGHTS[(k // len(sources)) % len(HEIGHTS)]
            size = (round(width * target / height / 2) * 2, target)
            writer = cv2.VideoWriter(str(folder / f"clip{k:05d}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
            for _ in range(length):
                ok, frame = source.read()
                if not ok:
                    break
                writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC))
            writer.release()
        (folder / "done").write_text(str(count))
    return list_videos([folder])


def base_tree(commit: str, folder: Path) -> Path:
    """A copy of ``commit`` whose packages import as fervid, fervid.pipeline and fervid.model from ``folder``
    (put it first on PYTHONPATH: it wins over this checkout's editable install)."""
    if not (folder / "fervid" / "pipeline").is_dir():
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        for package in ("pipeline", "model"):  # the layout pyproject.toml's package-dir gives an install
            (folder / package).rename(folder / "fervid" / package)
    return folder


def cli_analyze(name: str, clips: Path, out: Path, model: str, pythonpath: Path | None = None,
                options: tuple[str, ...] = ()) -> dict:
    """``fervid analyze CLIPS`` in a fresh process, timed from its start to its exit."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "fervid.cli", "analyze", str(clips), "--out", str(out), "--model", model,
               "--overwrite", *options]

    def run() -> int:
        result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=pythonpath or ROOT)
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed ({result.returncode}): {result.stderr[-2000:]}")
        return int(re.search(r"; (\d+) frames,", result.stdout).group(1))

    return measure(name, run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=512,
                        help="How many short clips (clip k is the same in every set).")
    parser.add_argument("--base", default=BASE, help="The commit whose `fervid analyze` is today's.")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="Clips to cut from.")
    parser.add_argument("--model", help="Artifact; default: the shipped model, else an untrained one.")
    parser.add_argument("--cache", type=Path, default=CACHE, help="Where the clips and the base tree are kept.")
    parser.add_argument("--detect-every", type=int, help="Also this tree with the detector on every K-th frame.")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    clips = make_clips(args.videos, args.clips, args.cache / f"short-clips-{args.clips}")
    base = base_tree(args.base, args.cache / f"fervid-{args.base}")
    with tempfile.TemporaryDirectory(prefix="fervid-bench-") as temporary:
        folder = Path(temporary)
        model = model_or_untrained(args.model, folder)
        print(f"{len(clips)} clips at {'/'.join(map(str, HEIGHTS))}p, {psutil.cpu_count()} CPUs, "
              f"detector {DEFAULT_DETECTOR}, model {model}, base {args.base}", flush=True)
        floor = measure("decode only", lambda: decode_only(clips))
        loop = measure("single-process loop", lambda: plain_loop(clips, model, DEFAULT_DETECTOR, "litert-int8"))
        today = cli_analyze(f"analyze at {args.base}", Path(clips[0]).parent, folder / "today.parquet", model,
                            base)
        new = cli_analyze("analyze (this tree)", Path(clips[0]).parent, folder / "new.parquet", model)
        if args.detect_every:
            carried = cli_analyze(f"analyze --detect-every {args.detect_every}", Path(clips[0]).parent,
                                  folder / "carried.parquet", model, options=("--detect-every", str(args.detect_every)))
    print(f"frames per clip {floor['frames'] / len(clips):.1f}")
    print(f"analyze / analyze at {args.base} {new['fps'] / today['fps']:.2f}x (target >= 1.5); "
          f"analyze / loop {new['fps'] / loop['fps']:.2f}x (target >= 1.2); "
          f"analyze / decode floor {new['fps'] / floor['fps']:.2f} (at {args.base}: {today['fps'] / floor['fps']:.2f})")
    if args.detect_every:
        print(f"analyze --detect-every {args.detect_every}: / analyze {carried['fps'] / new['fps']:.2f}x, "
              f"/ analyze at {args.base} {carried['fps'] / today['fps']:.2f}x, "
              f"/ decode floor {carried['fps'] / floor['fps']:.2f}")


if __name__ == "__main__":
    main()
