"""Throughput of ``fervid analyze`` against a plain single-process loop and the decode-only floor.

Run: python benchmarks/analyze.py [--frames 10000 | --quick] [--height 1080] [--model PATH.keras] [--detector NAME]
                                  [--detect-every 1,2,3] [--rounds 3] [--skip-before]

Builds a folder of symlinks that repeats the sample clips until it holds at least ``--frames`` frames, then in
this one process tree measures, each over the same videos:
1. decode only (OpenCV, every frame): the floor no pipeline can beat on one process;
2. a plain loop: decode, detect, crop, classify in batches, with the same detector, engine and model;
3. ``fervid.pipeline.job.analyze``, the library call behind the CLI, on a local Ray (its start-up is timed
   apart and reported both ways; the classifier actors' start-up is inside);
4. the same call as it ran before LiteRT: BlazeFace through ``cv2.dnn`` (``detectors.Cv2DnnBlazeFace``, put into
   the Ray workers by a setup hook) and the TensorFlow engine (``--skip-before`` leaves it out);
5. with ``--detect-every K,...``: the same call with the detector on every K-th frame, faces carried between
   (``fervid.pipeline.keyframes``; 1: a detection in every frame), against 3, which detects about every 0.2 s;
   with ``--rounds N`` 3 and 5 take turns N times and the rows and ratios are the medians (the host's speed drifts).
``--height 1080`` first re-encodes each clip scaled up to that height (MPEG-4 Part 2, the encoder OpenCV's wheel
has), for the frame sizes of real recordings: the sample clips are 336-540 pixels high.
Peak memory is the largest resident set seen while a stage runs, for Ray summed over every process under this
one (GCS, raylet, workers, actors). The ``fer`` package ran 26-34 frames/s on this machine (FINDINGS.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from contextlib import contextmanager
from pathlib import Path

import psutil

from fervid.pipeline.detect import DEFAULT_DETECTOR, DETECTORS
from fervid.pipeline.smoke import model_or_untrained
from fervid.pipeline.sources import list_videos

FER_PACKAGE_FPS = 30.0  # middle of the 26-34 frames/s measured for the `fer` package (FINDINGS.md)
VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"


@contextmanager
def peak_rss() -> Iterator[dict]:
    """Samples the RSS of this process and all its descendants every 50 ms; ``result["bytes"]`` = the peak."""
    result, stop = {"bytes": 0}, threading.Event()
    me = psutil.Process()

    def sample() -> None:
        while not stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:  # a worker that exited between listing and reading: it holds nothing
                    pass
            result["bytes"] = max(result["bytes"], total)
            stop.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()


def build_workload(videos: Path, frames: int, folder: Path) -> list[str]:
    """Symlinks ``copy<k>_<clip>`` repeating the clips until the container frame counts reach ``frames``."""
    import cv2

    clips = list_videos([videos])
    counts = {clip: int(cv2.VideoCapture(clip).get(cv2.CAP_PROP_FRAME_COUNT)) for clip in clips}
    total, copy = 0, 0
    while total < frames:
        for clip in clips:
            os.symlink(clip, folder / f"copy{copy:03d}_{Path(clip).name}")
            total += counts[clip]
        copy += 1
    return list_videos([folder])


def scale_clips(videos: Path, height: int, folder: Path) -> Path:
    """Each clip re-encoded at ``height`` pixels high (width in proportion, even), into ``folder``."""
    import cv2

    for clip in list_videos([videos]):
        capture = cv2.VideoCapture(clip, cv2.CAP_FFMPEG)
        width, source_height = (int(capture.get(p)) for p in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
        size = (round(width * height / source_height / 2) * 2, height)
        writer = cv2.VideoWriter(str(folder / f"{Path(clip).stem}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"),
                                 capture.get(cv2.CAP_PROP_FPS), size)
        while (frame := capture.read())[0]:
            writer.write(cv2.resize(frame[1], size, interpolation=cv2.INTER_CUBIC))
        writer.release()
    return folder


def decode_only(paths: list[str]) -> int:
    import cv2

    frames = 0
    for path in paths:
        capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        while capture.read()[0]:
            frames += 1
    return frames


def plain_loop(paths: list[str], model: str, detector_name: str, engine: str, batch_size: int = 256) -> int:
    """What a single script would do: the same decode, detector, crops, engine and model, no Ray."""
    import cv2
    import numpy as np

    from fervid.model.predict import make_classifier
    from fervid.pipeline.detect import find_faces, make_detector
    from fervid.pipeline.job import AnalyzeConfig

    classifier, detector = make_classifier(model, engine, batch_size=batch_size), make_detector(detector_name)
    frames, pending = 0, []
    for path in paths:
        capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames += 1
            pending.append(find_faces(image, detector, AnalyzeConfig().crop_margins).crops)
            if sum(map(len, pending)) >= batch_size:
                classifier.predict(np.concatenate(pending))
                pending = []
    if pending:
        classifier.predict(np.concatenate(pending))
    return frames


def measure(name: str, run: Callable[[], int]) -> dict:
    with peak_rss() as peak:
        started = time.perf_counter()
        frames = run()
        seconds = time.perf_counter() - started
    row = dict(name=name, frames=frames, seconds=seconds, fps=frames / seconds, peak_gb=peak["bytes"] / 2**30)
    print(f"{name:<22} {frames:>7} frames {seconds:>8.1f} s {row['fps']:>8.1f} frames/s "
          f"peak RSS {row['peak_gb']:.2f} GiB", flush=True)
    return row


def median_run(runs: list[dict]) -> dict:
    """The run of median speed among rounds of one analysis (the upper middle one of an even count)."""
    return sorted(runs, key=lambda run: run["fps"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000, help="Frames in the workload (at least).")
    parser.add_argument("--quick", action="store_true", help="A short run: --frames 2000.")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="Clips to repeat.")
    parser.add_argument("--height", type=int, help="Re-encode the clips at this height first (e.g. 1080).")
    parser.add_argument("--model", help="Artifact; default: the shipped model, else an untrained one.")
    parser.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR)
    parser.add_argument("--detect-every", default="",
                        help="Comma-separated K: also analyze detecting every K-th frame.")
    parser.add_argument("--rounds", type=int, default=1,
                        help="Run analyze and each --detect-every K this many times, in turn (ratios: medians).")
    parser.add_argument("--skip-before", action="store_true", help="Leave out analyze as it ran before LiteRT.")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from fervid.pipeline.job import AnalyzeConfig, analyze, connect
    from fervid.pipeline.keyframes import DETECT_INTERVAL_S

    with tempfile.TemporaryDirectory(prefix="fervid-bench-") as temporary:
        folder = Path(temporary)
        (folder / "in").mkdir()
        videos = args.videos
        if args.height:
            (folder / "scaled").mkdir()
            videos = scale_clips(args.videos, args.height, folder / "scaled")
        paths = build_workload(videos, 2000 if args.quick else args.frames, folder / "in")
        model = model_or_untrained(args.model, folder)
        print(f"{len(paths)} videos, {args.height or 'native'} height, {psutil.cpu_count()} CPUs, "
              f"detector {args.detector}, model {model}")
        floor = measure("decode only", lambda: decode_only(paths))
        config = AnalyzeConfig(model_path=model, detector=args.detector)
        loop = measure("single-process loop", lambda: plain_loop(paths, model, args.detector, "litert-int8"))
        started = time.perf_counter()
        connect(config.address)  # timed apart: a fixed cost, which a long workload or a running cluster amortises
        ray_start = time.perf_counter() - started
        if args.detect_every:  # the first run in a fresh Ray is slower (workers import, helper actors start): not
            analyze(paths[:2], folder / "warm-up.parquet", config)  # against the runs compared with it
        # The analyses compared take turns, round after round: the host's speed drifted by up to 25% within
        # minutes here, and runs side by side in each round see the same drift. Each round rewrites its output.
        every_k = [int(k) for k in args.detect_every.split(",") if k]
        settings = {every: replace(config, detect_every=every, overwrite=True) for every in [None, *every_k]}
        rounds = {every: [] for every in settings}
        for _ in range(args.rounds):
            for every, setting in settings.items():
                name = "fervid analyze (Ray)" if every is None else f"analyze --detect-every {every}"
                out = folder / f"every{every}.parquet"
                rounds[every].append(measure(name, lambda: analyze(paths, out, setting).frames))
        ray_run = median_run(rounds[None])
        carried = {every: median_run(runs) for every, runs in rounds.items() if every is not None}
        before = None
        if args.detector in ("blazeface-full", "blazeface-short") and not args.skip_before:
            import ray

            ray.shutdown()
            start_ray_with_cv2_dnn()
            old = replace(config, engine="tensorflow")
            before = measure("analyze as before", lambda: analyze(paths, folder / "before.parquet", old).frames)
    with_start = ray_run["frames"] / (ray_run["seconds"] + ray_start)
    print(f"Ray start-up {ray_start:.1f} s (not in the rows above; {with_start:.1f} frames/s with it)")
    print(f"analyze / loop {ray_run['fps'] / loop['fps']:.2f}x ({with_start / loop['fps']:.2f}x with Ray start-up; "
          f"target >= 1.0); analyze / fer package {ray_run['fps'] / FER_PACKAGE_FPS:.2f}x (target >= 3); "
          f"analyze / decode floor {ray_run['fps'] / floor['fps']:.2f}")
    for every, row in carried.items():
        print(f"analyze --detect-every {every} / analyze {row['fps'] / ray_run['fps']:.2f}x "
              f"(decode floor {row['fps'] / floor['fps']:.2f})")
    if 1 in carried:
        ratios = [default["fps"] / every_frame["fps"] for default, every_frame in zip(rounds[None], rounds[1])]
        each = f"; median of {len(ratios)} rounds: {', '.join(f'{r:.2f}' for r in ratios)}" if len(ratios) > 1 else ""
        print(f"analyze (detector about every {DETECT_INTERVAL_S:g} s, the default) / analyze --detect-every 1 "
              f"(every frame) {statistics.median(ratios):.2f}x (target >= 1.5){each}")
    if before:
        print(f"analyze / analyze as before (cv2.dnn BlazeFace, TensorFlow engine) "
              f"{ray_run['fps'] / before['fps']:.2f}x (target >= 1.8)")


def start_ray_with_cv2_dnn() -> None:
    """A local Ray whose workers build BlazeFace on ``cv2.dnn`` instead of LiteRT: the detector fervid had before."""
    import sys

    import ray
    from ray import cloudpickle

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import detectors
    import video_accuracy

    for module in (detectors, video_accuracy):  # the workers cannot import benchmarks/ (detectors imports the other)
        cloudpickle.register_pickle_by_value(module)

    def use_cv2_dnn() -> None:
        import fervid.pipeline.detect as detect

        make = detect.make_detector
        detect.make_detector = lambda name: detectors.Cv2DnnBlazeFace(name) if name in detect.BLAZEFACE else make(name)

    from fervid.cluster import ray_address

    ray.init(address=ray_address(None), include_dashboard=False, logging_level="WARNING", log_to_driver=False,
             runtime_env={"worker_process_setup_hook": use_cv2_dnn, "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})


if __name__ == "__main__":
    main()
