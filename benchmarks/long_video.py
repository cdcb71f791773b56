"""Memory against video length: `fervid analyze` on a generated 1-minute and 60-minute 640x360 video.

    .venv/bin/python benchmarks/long_video.py [--minutes 1 60] [--fps 2]

Each video is a real face (cut from a sample clip) moving over a plain background at 30 frames/s, written with
OpenCV. Each is analysed by the CLI in its own process tree (`--fps 2`: every frame is decoded, the detector and
classifier see 2 a second), while the resident memory of the driver and of the whole tree (driver, Ray's GCS,
raylet, workers, classifier actor) is sampled every 0.2 s. Memory stays bounded because a long video is split
into time ranges of about 500 frames, only 48x48 crops leave the decode tasks, and the driver keeps one video's
rows (not its frames). Prints the peaks and the 60/1 ratios (target: within 1.5x).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"
SIZE_WH, FPS = (640, 360), 30.0


def write_video(path: Path, minutes: float) -> int:
    import cv2
    import numpy as np

    capture = cv2.VideoCapture(str(VIDEOS / "man_single_face.mp4"))
    ok, frame = capture.read()
    face = cv2.resize(frame[40:320, 200:440], (120, 140))  # the man's head and shoulders, roughly
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE_WH)
    frames = int(minutes * 60 * FPS)
    background = np.full((SIZE_WH[1], SIZE_WH[0], 3), 90, np.uint8)
    for i in range(frames):
        image = background.copy()
        x = int(260 + 200 * np.sin(i / 90))  # drifts left and right every few seconds
        image[110:250, x:x + 120] = face
        writer.write(image)
    writer.release()
    return frames


def analyze_with_peaks(video: Path, out: Path, sample_fps: float) -> dict:
    import psutil

    started = time.perf_counter()
    run = subprocess.Popen([sys.executable, "-m", "fervid.cli", "analyze", str(video), "--out", str(out),
                            "--fps", str(sample_fps)], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peaks = {"driver": 0, "tree": 0}

    def sample() -> None:
        driver = psutil.Process(run.pid)
        while run.poll() is None:
            try:
                mine = driver.memory_info().rss
                tree = mine + sum(child.memory_info().rss for child in driver.children(recursive=True))
            except psutil.Error:  # a process exited between listing and reading
                continue
            peaks["driver"], peaks["tree"] = max(peaks["driver"], mine), max(peaks["tree"], tree)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output, _ = run.communicate()
    sampler.join()
    if run.returncode != 0:
        raise SystemExit(f"analyze failed on {video}: {output}")
    return {"seconds": time.perf_counter() - started, "summary": output.strip().splitlines()[-1], **peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 60])
    parser.add_argument("--fps", type=float, default=2.0, help="frames analysed per second of video")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fervid-long-") as folder:
        for minutes in args.minutes:
            video = Path(folder) / f"long_{minutes:g}min.mp4"
            frames = write_video(video, minutes)
            row = dict(minutes=minutes, frames=frames, **analyze_with_peaks(video, Path(folder) / f"{minutes:g}.parquet",
                                                                           args.fps))
            rows.append(row)
            print(f"{minutes:>5g} min {frames:>7} frames  {row['seconds']:7.1f} s  peak RSS driver "
                  f"{row['driver'] / 2**30:5.2f} GiB, whole tree {row['tree'] / 2**30:5.2f} GiB  | {row['summary']}",
                  flush=True)
    first, last = rows[0], rows[-1]
    print(f"{last['minutes']:g} min / {first['minutes']:g} min: driver {last['driver'] / first['driver']:.2f}x, "
          f"whole tree {last['tree'] / first['tree']:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
