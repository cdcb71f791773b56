"""``analyze(paths, out, AnalyzeConfig()) -> AnalyzeSummary``: the one call behind ``fervid analyze``,
``jobs/analyze.py``, the tests and notebooks.

The Ray Data job: list videos -> plan time ranges (one Ray task per video) -> decode, sample, detect, crop (one CPU
task per range; only 48x48 crops leave it) -> classify (``map_batches`` on an actor pool, a GPU per actor when
the cluster has GPUs) -> the driver assembles each finished video and saves it (``fervid.pipeline.output``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fervid.errors import FervidError
from fervid.model.predict import ENGINES

from .align import CROP_VERSION
from .detect import DEFAULT_DETECTOR, DETECTORS, FRAMING
from .keyframes import DETECT_INTERVAL_S
from .schema import EMOTION_COLUMNS, STATUS_OK, STATUS_PARTIAL, STATUSES_WITH_ROWS


@dataclass(frozen=True)
class AnalyzeConfig:
    model_path: str | None = None  # a .keras artifact; None: the model shipped with fervid
    # auto: the model's int8 twin on LiteRT in CPU actors (3x TensorFlow's speed, same answer for 99.8% of faces),
    # TensorFlow in GPU actors; or force "tensorflow" / "litert-int8" (fervid.model.predict).
    engine: str = "auto"
    detector: str = DEFAULT_DETECTOR  # measured best on the sample clips (docs/accuracy.md, "Face detector")
    sample_fps: float | None = None  # analyse this many frames per second of video; None: every frame
    # Run the detector on every K-th analysed frame and carry faces to the frames between (fervid.pipeline.keyframes);
    # None: about every DETECT_INTERVAL_S (0.2 s) of analysed video, K from each video's frame rate; 1: every frame.
    detect_every: int | None = None
    # Faces per classifier call (Ray Data's batch); TensorFlow pads each call to this size (one compiled graph),
    # LiteRT runs it in interpreter calls of 64.
    batch_size: int = 256
    mirror: bool = False  # average each face with its mirror image: +0.3 points on FER2013 val, half the speed
    smooth_s: float = 0.0  # > 0: add per-track smoothed probabilities over a centred window of this many seconds
    # How far the crop reaches past the detector's box: (left, top, right, bottom) shares of the box; None: the
    # detector's FER2013 framing (fervid.pipeline.detect.FRAMING), the crop the model was trained on.
    margins: tuple[float, float, float, float] | None = None
    frames_per_range: int = 500  # a longer video is split into time ranges of about this many frames
    classifier_actors: int | None = None  # None: one per GPU, or one per 4 CPUs (at least one)
    # CPUs reserved per classifier actor. 0: on CPU-only machines the actor fills the gaps the single-threaded
    # detect tasks leave, instead of holding a core idle; it must differ from the detect tasks' 1 CPU anyway, or
    # Ray Data fuses both stages into the actor and detection loses its parallelism.
    classifier_cpus: float = 0.0
    address: str | None = None  # Ray cluster; None: RAY_ADDRESS, else a local Ray started here
    resume: bool = False  # keep videos already finished in OUT (or its partial folder), analyse the rest
    overwrite: bool = False  # replace an existing OUT

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise FervidError(f"unknown engine {self.engine!r}; expected one of {', '.join(ENGINES)}")
        if self.detector not in DETECTORS:
            raise FervidError(f"unknown detector {self.detector!r}; expected one of {', '.join(DETECTORS)}")
        if self.sample_fps is not None and not self.sample_fps > 0:
            raise FervidError(f"--fps must be a positive number of frames per second; received {self.sample_fps}")
        if self.classifier_cpus == 1:
            raise FervidError("classifier_cpus=1 would let Ray Data fuse detection into the classifier actors")
        if self.detect_every is not None and not (isinstance(self.detect_every, int) and self.detect_every >= 1):
            raise FervidError(f"--detect-every must be a whole number of frames, 1 or more; received "
                              f"{self.detect_every}")
        if self.batch_size < 1 or self.frames_per_range < 1:
            raise FervidError(f"batch size and frames per range must be positive; received {self.batch_size}, "
                              f"{self.frames_per_range}")
        if not self.smooth_s >= 0:
            raise FervidError(f"--smooth is a window in seconds, 0 or more; received {self.smooth_s}")
        if self.margins is not None and not (len(self.margins) == 4 and all(0 <= m <= 1 for m in self.margins)):
            raise FervidError(f"crop margins are four shares of the box (left, top, right, bottom), each 0 to 1; "
                              f"received {self.margins}")
        if self.resume and self.overwrite:
            raise FervidError("--resume and --overwrite exclude each other")

    @property
    def crop_margins(self) -> tuple[float, float, float, float]:
        return tuple(self.margins) if self.margins is not None else FRAMING[self.detector]


log = logging.getLogger(__name__)  # INFO: when the phases end (benchmarks/collection.py turns it on)

ETA_AFTER_S = 5.0  # the time left is estimated once the results span this long (see Progress)


@dataclass(frozen=True)
class Progress:
    videos_done: int
    videos_total: int
    frames: int  # decoded in this run
    seconds: float
    frames_expected: int = 0  # what the containers of this run's videos declare (an estimate; 0: unknown)
    # (seconds, frames) when the first video came back. The time left comes from the rate since then: before it the
    # clock runs through Ray's start and the first classifier batch (8 s here), which would inflate the estimate.
    first_result: tuple[float, int] | None = None

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        text = f"videos {self.videos_done}/{self.videos_total}, {self.frames} frames, {self.frames_per_s:.1f} frames/s"
        left = self.frames_expected - self.frames
        if self.first_result and left > 0 and self.videos_done < self.videos_total:
            elapsed, frames = self.seconds - self.first_result[0], self.frames - self.first_result[1]
            if elapsed >= ETA_AFTER_S and frames > 0:
                minutes, seconds = divmod(round(left * elapsed / frames), 60)
                text += f", about {minutes}:{seconds:02d} left"
        return text


FACELESS_NAMED = 3  # videos named in the summary line when most of their frames had no face; the rest are counted


@dataclass(frozen=True)
class AnalyzeSummary:
    out: Path | str  # a str for a URI
    videos_out: Path | str
    videos_ok: int
    videos_failed: int
    frames: int  # decoded, all videos in the output
    faces: int  # timeline rows
    seconds: float  # wall time of this run
    frames_this_run: int  # decoded by this run (less than ``frames`` after --resume)
    videos_partial: int = 0  # damaged files: rows up to where decoding stopped (the videos table says where)
    # Videos (paths) in which the detector found no face in most analysed frames: named in the summary line, so a
    # user who gets few rows sees which videos gave them (their frames_with_faces in the videos table says how many).
    videos_mostly_faceless: tuple[str, ...] = ()

    @property
    def frames_per_s(self) -> float:
        return self.frames_this_run / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        partial = f", {self.videos_partial} partial (damaged)" if self.videos_partial else ""
        faceless = ""
        if self.videos_mostly_faceless:
            names = [path.rstrip("/").rsplit("/", 1)[-1] for path in self.videos_mostly_faceless]
            more = f" and {len(names) - FACELESS_NAMED} more" if len(names) > FACELESS_NAMED else ""
            faceless = (f"; {len(names)} videos with no face in most analysed frames "
                        f"({', '.join(names[:FACELESS_NAMED])}{more})")
        return (f"{self.videos_ok} videos ok{partial}, {self.videos_failed} failed; {self.frames} frames, "
                f"{self.faces} faces{faceless}; "
                f"{self.seconds:.1f} s, {self.frames_per_s:.1f} frames/s -> {self.out}")


def resolve_model(model_path: str | None) -> Path:
    """The artifact to use, checked cheaply (no Keras) before any worker starts."""
    from fervid.model.artifact import check_artifact, find_model

    path = find_model(model_path)
    labels = check_artifact(path).labels
    if tuple(labels) != EMOTION_COLUMNS:
        raise FervidError(f"{path}: the timeline needs the labels {list(EMOTION_COLUMNS)}; the model has {list(labels)}")
    return path.absolute()


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` (or RAY_ADDRESS), else start a quiet local Ray; reuse one already up, never a
    dead one (``fervid.cluster``)."""
    import ray

    from fervid.cluster import JOIN_TRIES, ray_address, refusal, unreachable, use_token_if_present

    if ray.is_initialized():
        return
    address = ray_address(address)
    local = {} if address not in (None, "local") else dict(include_dashboard=False)  # only a new local Ray takes them
    # Ray warns on every start that token authentication is on (its default, which fervid keeps): nothing to act on.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    named = address not in (None, "local", "auto")
    if named:  # a cluster that cannot take this driver is one line within seconds, not a minute of retries
        why = unreachable(address)
        if why:
            raise FervidError(f"cannot reach the Ray cluster at {address} ({why}); check the address (`ray status` "
                              "on the head prints it) and that `ray start --head` runs there")
        use_token_if_present(address)
    tries = {"RAY_gcs_server_port_wait_time_s": str(JOIN_TRIES)} if named else {}
    try:
        with _environment(tries):
            ray.init(address=address, logging_level=logging.WARNING,
                     log_to_driver=False,  # TensorFlow chatter from actors; failures still reach the videos table
                     runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}}, **local)
    except Exception as error:
        if not named:
            raise
        raise FervidError(refusal(address, error)) from None
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # before the next line, which would warn about itself
    ray.data.DataContext.get_current().enable_progress_bars = False  # fervid prints its own progress line


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """``values`` in os.environ inside the block, the environment as it was after it."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update({key: value for key, value in values.items() if saved[key] is None})  # a user's value wins
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)


def _classifier_pool(configured: int | None, resources: dict) -> tuple[int, float, int]:
    """(actors, GPUs per actor, LiteRT threads per actor) for the cluster's ``resources``: one actor per GPU, else
    one per 4 CPUs, each with its share of the CPUs as threads."""
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    actors = configured or (gpus if gpus else max(1, cpus // 4))
    return actors, 1.0 if gpus else 0.0, max(1, cpus // actors)


def analyze(paths: Sequence[str | os.PathLike], out: str | os.PathLike, config: AnalyzeConfig = AnalyzeConfig(),
            progress: Callable[[Progress], None] | None = None) -> AnalyzeSummary:
    """Analyse every video under ``paths``; write ``out`` and its videos table; see the module docstring.

    ``out`` may be a URI that pyarrow's filesystems reach (s3://, gs://, file://): see ``fervid.pipeline.remote``.
    """
    from .output import PartialOutput
    from .remote import analyze_to_uri
    from .sources import fingerprint, is_uri, list_videos

    if is_uri(str(out)):
        return analyze_to_uri(str(out), lambda local, staged: analyze(paths, local, staged, progress), config)

    started = time.perf_counter()
    model = resolve_model(config.model_path)
    videos = list_videos(paths)
    settings = dict(detector=config.detector, sample_fps=config.sample_fps, detect_every=config.detect_every,
                    detect_interval_s=DETECT_INTERVAL_S if config.detect_every is None else None,
                    margins=list(config.crop_margins), smooth_s=config.smooth_s, mirror=config.mirror,
                    engine=config.engine, crop=CROP_VERSION, model=fingerprint(str(model)))
    output = PartialOutput(out, settings, resume=config.resume, overwrite=config.overwrite)
    todo = sorted(set(videos) - output.done())
    frames = 0
    try:
        if todo:
            frames = _run(todo, model, config, output, progress, started, len(videos) - len(todo), len(videos))
    except BaseException:
        output.abandon()  # a run that never got to save a video leaves no partial folder to --overwrite
        raise
    table = output.finish(videos)
    rows = table.to_pylist()
    done = [row for row in rows if row["status"] in STATUSES_WITH_ROWS]
    return AnalyzeSummary(out=output.out, videos_out=output.videos_out,
                          videos_ok=sum(row["status"] == STATUS_OK for row in rows),
                          videos_partial=sum(row["status"] == STATUS_PARTIAL for row in rows),
                          videos_failed=table.num_rows - len(done), frames=sum(row["frames_total"] for row in done),
                          faces=sum(row["faces"] for row in done), seconds=time.perf_counter() - started,
                          frames_this_run=frames,
                          videos_mostly_faceless=tuple(row["video_path"] for row in done
                                                       if 2 * row["frames_with_faces"] < row["frames_analyzed"]))


def _run(todo: list[str], model: Path, config: AnalyzeConfig, output, progress, started: float,
         done: int, total: int) -> int:
    """The Ray part; saves each video as it finishes. Returns the frames decoded."""
    import pyarrow as pa
    import ray
    import ray.data

    from fervid.model.predict import resolve_engine
    from fervid.model.tflite import ensure_tflite

    from .classify import EmotionActor
    from .crops import detect_range, pack_tasks, plan_videos
    from .timeline import Collector

    connect(config.address)
    log.info("fervid: connected to Ray %.1f s after the start", time.perf_counter() - started)
    resources = ray.cluster_resources()  # one look: planning, packing and the classifier pool agree on it
    cpus = int(resources.get("CPU", 1))
    # Planning opens every file: a few videos per Ray task (fewer round trips), enough tasks to use every core.
    per_plan = max(1, min(32, math.ceil(len(todo) / (4 * cpus))))
    plan = ray.remote(num_cpus=1)(plan_videos)
    tasks = [task for tasks in ray.get([plan.remote(todo[i:i + per_plan], config.frames_per_range)
                                        for i in range(0, len(todo), per_plan)]) for task in tasks]
    expected = sum(task["frames_declared"] for task in tasks if task["range_index"] == 0)
    log.info("fervid: planned %d videos (%d ranges) %.1f s after the start", len(todo), len(tasks),
             time.perf_counter() - started)
    # Short videos share a detect task, up to a range's worth of frames, but leave at least two tasks per core.
    short_frames = sum(max(1, task["frames_declared"]) for task in tasks if task["ranges"] == 1)
    packs = pack_tasks(tasks, max(1, min(config.frames_per_range, math.ceil(short_frames / (2 * cpus)))))
    actors, gpus, threads = _classifier_pool(config.classifier_actors, resources)
    engine = resolve_engine(config.engine, gpu=gpus > 0)
    output.engine = engine
    # The model files travel to the actors by reference (see EmotionActor); the int8 twin is made here, once, so
    # CPU actors never import TensorFlow. LiteRT threads: the actors share the cores with the detect tasks.
    twin = ray.put(ensure_tflite(model).read_bytes()) if engine == "litert-int8" else None
    # TensorFlow pads every call to the batch (one compiled graph); LiteRT pads to its own 64, since Ray Data's last
    # batch of each bundle of blocks is short, and padding it to 256 cost 1.5x the actor CPU on short clips.
    engine_batch = config.batch_size if engine == "tensorflow" else None
    dataset = (
        # One block per pack, so each pack is its own task, and one long video's ranges spread over many cores.
        ray.data.from_arrow([pa.Table.from_pylist(pack) for pack in packs])
        .map_batches(detect_range, batch_size=None, num_cpus=1,
                     fn_kwargs=dict(detector=config.detector, sample_fps=config.sample_fps,
                                    margins=config.crop_margins, detect_every=config.detect_every))
        .map_batches(EmotionActor, batch_size=config.batch_size, num_gpus=gpus, num_cpus=config.classifier_cpus,
                     fn_constructor_kwargs=dict(model_bytes=ray.put(model.read_bytes()), tflite_bytes=twin,
                                                batch_size=engine_batch, model_name=model.name,
                                                mirror=config.mirror, engine=engine, gpu=gpus > 0,
                                                num_threads=threads),
                     compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors))
    )
    collector, frames, first_result = Collector(config.smooth_s), 0, None
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for video in collector.add(batch):
            output.save(video)
            done += 1
            frames += video.row["frames_total"]
            if progress:
                seconds = time.perf_counter() - started
                first_result = first_result or (seconds, frames)
                progress(Progress(done, total, frames, seconds, expected, first_result))
    if collector.pending:  # every range yields a summary row, so this is a bug, not a bad input
        raise RuntimeError(f"ranges missing at the end of the job for {sorted(collector.pending)}")
    return frames
