"""Measure the face detectors on the sample clips: share of frames with a face, false alarms, ms per frame.

Run: python benchmarks/detectors.py [VIDEO_FOLDER]   (default ../shared/data/videos)
Every frame of every clip, one process, frames decoded before timing, so only detection is timed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2

from fervid.pipeline.detect import DETECTORS, make_detector
from fervid.pipeline.sources import list_videos


def frames(path: str) -> list:
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            return images
        images.append(image)


def main(folder: Path) -> None:
    clips = {Path(path).name: frames(path) for path in list_videos([folder])}
    print("| detector | " + " | ".join(clips) + " | ms/frame |")
    print("| --- |" + " --- |" * (len(clips) + 1))
    for name in DETECTORS:
        detector, shares, seconds = make_detector(name), [], 0.0
        for images in clips.values():
            started = time.perf_counter()
            found = sum(len(detector(image)[0]) > 0 for image in images)
            seconds += time.perf_counter() - started
            shares.append(found / len(images))
        total = sum(len(images) for images in clips.values())
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in shares) + f" | {1000 * seconds / total:.1f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos")
