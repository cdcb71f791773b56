"""Measure the face detectors on the sample clips: share of frames with a face, false alarms, ms per frame; and
BlazeFace through LiteRT (the product) against the same files through ``cv2.dnn`` (how fervid ran them before).

Run: python benchmarks/detectors.py [VIDEO_FOLDER]   (default ../shared/data/videos)
Every frame of every clip, one process, frames decoded before timing, so only detection is timed; the engine
comparison alternates the engines over ``ROUNDS`` rounds and reports medians. The two engines
share the input (``blazeface_input``), the decoding, the threshold and NMS (``fervid.pipeline.detect``); only the
network differs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fervid.pipeline.detect import (BLAZEFACE, DETECTORS, blazeface_anchors, decode_blazeface, blazeface_input,
                                    make_detector, tflite_path)
from fervid.pipeline.sources import list_videos

ROUNDS = 3


class Cv2DnnBlazeFace:
    """The detector before LiteRT: the same ``.tflite`` run by ``cv2.dnn`` (one thread, as the product's)."""

    def __init__(self, name: str):
        self.spec = BLAZEFACE[name]
        self.net = cv2.dnn.readNetFromTFLite(str(tflite_path(self.spec.file_name)))
        self.anchors = blazeface_anchors(self.spec)

    def __call__(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores, _ = self.detect(frame_bgr)
        return boxes, scores

    def detect(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rgb, side = blazeface_input(frame_bgr, self.spec.input_size)
        self.net.setInput(cv2.dnn.blobFromImage(rgb, 1 / 127.5, mean=(127.5,) * 3))
        outputs = [np.asarray(o).reshape(len(self.anchors), -1)
                   for o in self.net.forward(self.net.getUnconnectedOutLayersNames())]
        raw_boxes = next(o for o in outputs if o.shape[1] == 16)
        raw_scores = next(o for o in outputs if o.shape[1] == 1)[:, 0]
        return decode_blazeface(raw_boxes, raw_scores, self.anchors, self.spec.input_size, side)


def frames(path: str) -> list:
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            return images
        images.append(image)


def run(detector, clips: dict[str, list]) -> tuple[list[float], float]:
    """Share of frames with a face per clip, and ms per frame over all clips."""
    detector(next(iter(clips.values()))[0])  # the first call allocates: not timed
    shares, seconds = [], 0.0
    for images in clips.values():
        started = time.perf_counter()
        found = sum(len(detector(image)[0]) > 0 for image in images)
        seconds += time.perf_counter() - started
        shares.append(found / len(images))
    return shares, 1000 * seconds / sum(len(images) for images in clips.values())


def main(folder: Path) -> None:
    clips = {Path(path).name: frames(path) for path in list_videos([folder])}
    print("| detector | " + " | ".join(clips) + " | ms/frame |")
    print("| --- |" + " --- |" * (len(clips) + 1))
    speeds = {}
    for name in DETECTORS:
        shares, speeds[name] = run(make_detector(name), clips)
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in shares) + f" | {speeds[name]:.2f} |")
    print("\n| BlazeFace | cv2.dnn ms/frame | LiteRT ms/frame | LiteRT / cv2.dnn |")
    print("| --- | --- | --- | --- |")
    cv2.setNumThreads(1)  # one thread, as the product's LiteRT interpreters (after the Haar row: it uses threads)
    for name in (name for name in DETECTORS if name in BLAZEFACE):
        # Rounds that alternate the engines, so a change in the machine's speed (a shared host) hits both alike.
        rounds = [(run(Cv2DnnBlazeFace(name), clips)[1], run(make_detector(name), clips)[1]) for _ in range(ROUNDS)]
        old, new = (float(np.median(times)) for times in zip(*rounds))
        ratio = float(np.median([lite / dnn for dnn, lite in rounds]))
        print(f"| {name} | {old:.2f} | {new:.2f} | {ratio:.2f}x |")

if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos")
