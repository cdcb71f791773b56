"""``fervid analyze`` over a research collection of N distinct short clips (DFEW, MAFW, CREMA-D: 7,000-16,000 clips
of a few seconds): how wall time, memory and the output grow with N, and whether a killed worker or an interrupted
run loses or duplicates anything.

Run: python benchmarks/collection.py [--clips 10000] [--compare 512] [--kill-worker] [--interrupt-at 0.5]
                                     [--model PATH.keras] [--cache FOLDER]

Makes (once, deterministically, into ``--cache``, outside the tree; clip k is the same in every set, so the clips of
a 10,000 set serve the 512 one) N clips cut from the sample clips: clip k comes from sample clip k mod 7, lasts 1-3 s
(mostly short), at 10-25 frames/s, 240-720 pixels high, some mirrored (MPEG-4 Part 2, the encoder OpenCV's wheel
has); 10,000 of them come to about 220,000 frames. Then runs the CLI (``fervid analyze SET --out OUT``) in a fresh
process, timed from its start to its exit, and prints frames/s, the wall time split into start-up (Python, model,
listing, Ray), planning (opening every file) and analysis, the peak RSS of the driver and of the rest of its
process tree (Ray's workers and daemons), and the output sizes; then checks the videos table: one row per clip,
none twice. ``--compare M`` runs the first M clips the same way before and after, and prints the frames/s ratio.

``--kill-worker``: a second run over the same set that SIGKILLs a Ray worker process a third of the way in; its
rows must equal the undisturbed run's (Ray retries the lost task). ``--interrupt-at 0.5``: a run sent SIGINT once
half the clips are done, then ``--resume``d; again the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil

from analyze import VIDEOS

from fervid.pipeline.smoke import model_or_untrained
from fervid.pipeline.sources import list_videos

CACHE = Path(tempfile.gettempdir()) / "fervid-collection"
HEIGHTS = (240, 360, 480, 720)
RATES = (10, 10, 12, 15, 25)  # frames/s; weighted to the low end, as the collections' clips are
PER_FOLDER = 1000  # clips per cache subfolder


def _clip_path(cache: Path, k: int) -> Path:
    return cache / "clips" / f"{k // PER_FOLDER:03d}" / f"clip{k:05d}.mp4"


def _source_frames(path: str) -> tuple[list, float]:
    """Every frame of one sample clip, decoded once per process."""
    import cv2

    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    return frames, capture.get(cv2.CAP_PROP_FPS)


_SOURCES: dict[str, tuple[list, float]] = {}


def _make_clip(sources: list[str], k: int, target: Path) -> None:
    """Clip k: its sample clip, start, length, rate, height and mirroring drawn from a generator seeded with k."""
    import cv2

    source = sources[k % len(sources)]
    if source not in _SOURCES:
        _SOURCES[source] = _source_frames(source)
    frames, source_fps = _SOURCES[source]
    draw = random.Random(k)
    fps, height = draw.choice(RATES), draw.choice(HEIGHTS)
    length_s = min(1 + 2 * draw.random() ** 3, len(frames) / source_fps)  # 1-3 s, 1.5 s on average
    start = draw.randrange(max(1, len(frames) - round(length_s * source_fps)))
    picks = [start + round(i * source_fps / fps) for i in range(max(1, round(length_s * fps)))]
    mirror = draw.random() < 0.5
    source_height, source_width = frames[0].shape[:2]
    size = (round(source_width * height / source_height / 2) * 2, height)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp.mp4")
    writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in picks:
        frame = cv2.resize(frames[min(index, len(frames) - 1)], size, interpolation=cv2.INTER_AREA)
        writer.write(cv2.flip(frame, 1) if mirror else frame)
    writer.release()
    os.replace(temporary, target)  # a clip present is a clip complete, should generation be interrupted


def _make_clips(sources: list[str], ks: list[int], cache: Path) -> int:
    for k in ks:
        _make_clip(sources, k, _clip_path(cache, k))
    return len(ks)


def make_set(videos: Path, count: int, cache: Path, workers: int) -> Path:
    """A folder of links to clips 0..count-1, making the clips that are not in the cache yet."""
    sources = list_videos([videos])
    missing = [k for k in range(count) if not _clip_path(cache, k).exists()]
    if missing:
        print(f"making {len(missing)} clips into {cache / 'clips'} ({workers} processes)", flush=True)
        started = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_make_clips, *zip(*[(sources, missing[i::workers], cache) for i in range(workers)])))
        print(f"made them in {time.perf_counter() - started:.0f} s", flush=True)
    folder = cache / f"set-{count}"
    if not (folder / "done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(count):
            link = folder / f"clip{k:05d}.mp4"
            if not link.is_symlink():
                link.symlink_to(_clip_path(cache, k))
        (folder / "done").write_text(str(count))
    return folder


class TreeMemory:
    """Samples, every 0.2 s, the RSS of one process (the driver) and the sum over its descendants (Ray's workers,
    raylet, GCS...): ``driver`` and ``workers`` hold the peaks, in bytes."""

    def __init__(self, pid: int):
        self.process, self.driver, self.workers = psutil.Process(pid), 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stop.is_set():
            try:
                self.driver = max(self.driver, self.process.memory_info().rss)
                children = self.process.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            total = 0
            for child in children:
                try:
                    total += child.memory_info().rss
                except psutil.NoSuchProcess:  # exited between listing and reading: it holds nothing
                    pass
            self.workers = max(self.workers, total)
            self.stop.wait(0.2)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


# The job's INFO log (fervid.pipeline.job) marks the phases; the benchmark turns it on in the CLI process it runs.
CLI = ("import logging, sys; handler = logging.StreamHandler(sys.stderr); "
       "handler.setFormatter(logging.Formatter('%(message)s')); log = logging.getLogger('fervid.pipeline.job'); "
       "log.addHandler(handler); log.setLevel(logging.INFO); from fervid.cli import main; main()")


def busy_detect_worker(driver: psutil.Process) -> psutil.Process | None:
    """A Ray worker under the driver whose process title says it runs ``detect_range`` now (as in
    tests/reliability/test_faults.py), or None."""
    for child in driver.children(recursive=True):
        try:
            title = " ".join(child.cmdline())
        except psutil.Error:  # exited meanwhile
            continue
        if "detect_range" in title and "__init__" not in title:
            return child
    return None


def run_cli(name: str, folder: Path, out: Path, model: str, total: int, *, resume: bool = False,
            kill_worker_at: float | None = None, interrupt_at: float | None = None) -> dict:
    """``fervid analyze FOLDER --out OUT`` in a fresh process; returns its timings, memory and exit status.
    ``kill_worker_at`` / ``interrupt_at``: the share of videos done at which to SIGKILL one Ray worker / SIGINT it."""
    command = [sys.executable, "-c", CLI, "analyze", str(folder), "--out", str(out), "--model", model,
               "--resume" if resume else "--overwrite"]
    started = time.perf_counter()
    # SIGINT restored to its default: a child of a non-interactive shell may inherit it ignored.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    memory, marks, lines, event = TreeMemory(process.pid), {}, [], None
    for line in process.stdout:
        now = time.perf_counter() - started
        lines.append(line.rstrip())
        for mark in ("connected", "planned"):
            if line.startswith(f"fervid: {mark}"):
                marks[mark] = now
        done = re.match(r"videos (\d+)/(\d+)", line)
        if done and "first" not in marks:
            marks["first"] = now
        share = int(done.group(1)) / total if done else 0
        if kill_worker_at is not None and share >= kill_worker_at and event is None:
            victim = busy_detect_worker(psutil.Process(process.pid))
            if victim:
                victim.kill()
                event = f"SIGKILLed a detect_range worker (pid {victim.pid}) at {now:.0f} s, {done.group(1)} videos done"
        if interrupt_at is not None and share >= interrupt_at and event is None:
            process.send_signal(signal.SIGINT)
            event = f"sent SIGINT at {now:.0f} s, {done.group(1)} videos done"
    code = process.wait()
    seconds = time.perf_counter() - started
    memory.close()
    result = re.search(r"(\d+) videos ok.*?; (\d+) frames, (\d+) faces.*?([\d.]+) frames/s", "\n".join(lines))
    row = dict(name=name, code=code, seconds=seconds, event=event, driver_gb=memory.driver / 2**30,
               workers_gb=memory.workers / 2**30, frames=int(result.group(2)) if result else 0,
               startup_s=marks.get("connected", 0), planning_s=marks.get("planned", 0) - marks.get("connected", 0),
               analysis_s=seconds - marks.get("planned", 0), tail=lines[-3:])
    row["fps"] = row["frames"] / seconds
    print(f"{name}: exit {code}, {row['frames']} frames in {seconds:.1f} s = {row['fps']:.1f} frames/s "
          f"(start-up {row['startup_s']:.1f} s, planning {row['planning_s']:.1f} s, analysis {row['analysis_s']:.1f} s);"
          f" peak RSS driver {row['driver_gb']:.2f} GiB, the rest {row['workers_gb']:.2f} GiB"
          f"{'; ' + event if event else ''}", flush=True)
    if code not in (0, 2) and interrupt_at is None:
        raise RuntimeError(f"{name} failed ({code}): " + "\n".join(lines[-20:]))
    return row


def check_output(out: Path, count: int) -> list[tuple]:
    """The videos table's rows as (path, status, frames, faces), after checking: ``count`` rows, each clip once."""
    import pyarrow.parquet as pq

    videos = pq.read_table(out.with_name(out.name.replace(".parquet", ".videos.parquet"))).to_pylist()
    paths = [row["video_path"] for row in videos]
    sizes = {path.name: path.stat().st_size for path in (out, out.with_name(out.stem + ".videos.parquet"))}
    timeline = pq.ParquetFile(out).metadata
    print(f"  {len(videos)} rows for {count} clips, {len(set(paths))} distinct paths, "
          f"{sum(row['status'] == 'ok' for row in videos)} ok; timeline {timeline.num_rows} rows in "
          f"{timeline.num_row_groups} row groups; sizes {json.dumps(sizes)}", flush=True)
    if len(videos) != count or len(set(paths)) != count:
        raise SystemExit(f"{out}: {len(videos)} rows, {len(set(paths))} distinct, for {count} clips")
    return sorted((row["video_path"], row["status"], row["frames_total"], row["faces"]) for row in videos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=10_000, help="How many clips (clip k is the same in every set).")
    parser.add_argument("--compare", type=int, default=0, help="First run the first M clips; print the ratio.")
    parser.add_argument("--kill-worker", action="store_true", help="Also a run in which a Ray worker is killed.")
    parser.add_argument("--interrupt-at", type=float, help="Also a run interrupted at this share, then resumed.")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="Clips to cut from.")
    parser.add_argument("--model", help="Artifact; default: the shipped model, else an untrained one.")
    parser.add_argument("--cache", type=Path, default=CACHE, help="Where the clips are kept.")
    parser.add_argument("--make-only", action="store_true", help="Make the clips and stop.")
    parser.add_argument("--workers", type=int, default=psutil.cpu_count(), help="Processes making clips.")
    args = parser.parse_args()

    folder = make_set(args.videos.resolve(), args.clips, args.cache, args.workers)
    small = make_set(args.videos.resolve(), args.compare, args.cache, args.workers) if args.compare else None
    if args.make_only:
        return
    with tempfile.TemporaryDirectory(prefix="fervid-collection-") as temporary:
        out = Path(temporary) / "collection.parquet"
        model = model_or_untrained(args.model, Path(temporary))
        print(f"{args.clips} clips, {psutil.cpu_count()} CPUs, model {model}", flush=True)
        if small:
            base = run_cli(f"{args.compare} clips", small, Path(temporary) / "small.parquet", model, args.compare)
            check_output(Path(temporary) / "small.parquet", args.compare)
        full = run_cli(f"{args.clips} clips", folder, out, model, args.clips)
        rows = check_output(out, args.clips)
        if small:  # the small set again: on a shared machine the load changes during a long run
            after = run_cli(f"{args.compare} clips again", small, Path(temporary) / "small.parquet", model,
                            args.compare)
            reference = (base["fps"] + after["fps"]) / 2
            print(f"frames/s at {args.clips} / at {args.compare} (mean of before and after): "
                  f"{full['fps'] / reference:.2f} (target >= 0.9); / before {full['fps'] / base['fps']:.2f}, "
                  f"/ after {full['fps'] / after['fps']:.2f}", flush=True)
        if args.kill_worker:
            killed = run_cli("with a worker killed", folder, out, model, args.clips, kill_worker_at=1 / 3)
            same = check_output(out, args.clips) == rows
            print(f"  rows as the undisturbed run's: {same}; frames/s / undisturbed {killed['fps'] / full['fps']:.2f}")
        if args.interrupt_at is not None:
            run_cli(f"interrupted at {args.interrupt_at}", folder, out, model, args.clips,
                    interrupt_at=args.interrupt_at)
            run_cli("resumed", folder, out, model, args.clips, resume=True)
            print(f"  rows as the undisturbed run's: {check_output(out, args.clips) == rows}")


if __name__ == "__main__":
    main()
