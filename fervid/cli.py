"""The ``fervid`` command: click options -> a config object -> one library call -> printing.

Nothing heavy is imported at module level, so ``fervid --help`` is instant; each command imports what it needs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys

import click

from fervid import __version__
from fervid.errors import FervidError
from fervid.model.artifact import SHIPPED_MODELS

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) says nothing a user can act on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def friendly_errors(command):
    """A FervidError is a user's problem with their input: one line on stderr, exit status 1, no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except FervidError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)

    return wrapper


@contextlib.contextmanager
def progress_on_terminal():
    """A progress callback for the analysis: one updating line on a terminal, one line per video in a log; the
    engines' own stderr chatter filtered meanwhile (``fervid.console``)."""
    from fervid.console import filtered_stderr

    live = sys.stderr.isatty()
    with filtered_stderr() as terminal:
        def show(progress):
            click.echo(f"\r{progress.line()}" if live else progress.line(), file=terminal, nl=not live)

        yield show
        if live:
            click.echo(file=terminal)


# Where a votes CSV's file names are (train --data/--val and evaluate --data): a folder, or an .npz of pixels.
images_option = click.option("--images", type=click.Path(exists=True),
                             help="With a votes CSV (file + one vote column per label, e.g. FER+): the folder its "
                                  "file names are relative to (default: the CSV's folder), or an .npz of "
                                  "<split>_file and <split>_images arrays (FER2013's original pixels).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fervid")
def main():
    """Facial-expression timelines for folders of video (the Khopkar & Saxena CNN on Ray)."""


@main.command()
@click.option("--data", required=True, multiple=True,
              help="Class folders (or train/ + val/ inside), fer2013.csv, packed .npz, a votes CSV, or a CSV of "
                   "labelled photos and clips (file, label: faces cut by fervid's own detector and crop). Repeat "
                   "to mix several sources in every batch (see --share).")
@click.option("--share", "shares", type=float, multiple=True,
              help="With several --data: each source's share of every batch, in the same order (default: by size).")
@click.option("--val", "val", default=None, help="Validation set of the first --data; default: DATA/val, or 10% "
                                                 "held out (every other source holds out its own).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder to create.")
@click.option("--recipe", type=click.Choice(["default", "paper"]), default="default", show_default=True,
              help="Starting hyper-parameters: the tuned recipe, or the paper's 15-epoch Adam run.")
@click.option("--epochs", type=int, help="Override the recipe's number of epochs.")
@click.option("--batch-size", type=int, help="Override the recipe's batch size (global, across workers).")
@click.option("--learning-rate", type=float, help="Override the recipe's peak learning rate.")
@click.option("--optimizer", type=click.Choice(["adam", "adamw", "sgd"]), help="Override the optimizer.")
@click.option("--schedule", type=click.Choice(["cosine", "plateau"]), help="Override the LR schedule.")
@click.option("--oversample-floor", type=float, help="Minority classes drawn up to this share of the largest.")
@click.option("--limit-per-class", type=int, help="Train on at most this many images per class (quick runs).")
@click.option("--seed", type=int, help="Random seed for splits, order and augmentation.")
@click.option("--input-normalization", type=click.Choice(["equalized", "raw"]),
              help="How faces are brought in, recorded in the artifact for inference (default: equalized, as "
                   "FER2013's image-folder copies are; fer2013.csv and original pixels get equalized too).")
@click.option("--fer2013-label-weight", type=float,
              help="With a votes CSV: mix each face's single label into its vote shares with this weight (0-1).")
@click.option("--prior-correction", type=float,
              help="Keep the class prior out of what the network learns (logit adjustment; 1 = full, 0 = off).")
@click.option("--best-by", type=click.Choice(["val_accuracy", "val_mean_recall", "last"]),
              help="The val figure whose best epoch the artifact keeps, or the last epoch.")
@images_option
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last finished epoch.")
@click.option("--init-from", metavar="NAME|PATH",
              help="Start from a trained artifact or a shipped model's name (new label sets, fine-tunes).")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Ray Train data-parallel workers; 0 trains in this process.")
@click.option("--gpus-per-worker", type=float, default=0, show_default=True, help="GPUs per Ray Train worker.")
@click.option("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else a local Ray).")
@click.option("--storage-path", default=None,
              help="Ray Train checkpoints: a folder every node sees, or a URI (s3://...); default OUT/ray.")
@click.option("--max-failures", type=int, default=0, show_default=True,
              help="Restart the Ray Train workers from the last checkpoint this many times when one dies.")
@friendly_errors
def train(data, shares, val, out, recipe, epochs, batch_size, learning_rate, optimizer, schedule, oversample_floor,
          limit_per_class, seed, input_normalization, fer2013_label_weight, prior_correction, best_by, images, resume,
          init_from, workers, gpus_per_worker, address, storage_path, max_failures):
    """Train the paper's CNN on a labelled face set and write an artifact to OUT/model.keras."""
    from dataclasses import replace

    from fervid.model.train import RECIPES

    overrides = {k: v for k, v in dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                                       optimizer=optimizer, schedule=schedule, oversample_floor=oversample_floor,
                                       limit_per_class=limit_per_class, seed=seed,
                                       input_normalization=input_normalization,
                                       fer2013_label_weight=fer2013_label_weight, prior_correction=prior_correction,
                                       best_by=best_by, shares=tuple(shares) or None).items() if v is not None}
    if shares and len(shares) != len(data):
        raise click.UsageError(f"{len(data)} --data sources but {len(shares)} --share values; give one per source")
    config = replace(RECIPES[recipe], **overrides)
    data = data if resume else [_training_source(source, out) for source in data]
    data = data[0] if len(data) == 1 else data
    if workers > 0:
        if not isinstance(data, str):
            raise click.UsageError("--workers trains one --data source; mix sources in one process (--workers 0)")
        from fervid.model.distributed import DistributedConfig, train_distributed

        dist = DistributedConfig(workers=workers, gpus_per_worker=gpus_per_worker, address=address,
                                 storage_path=storage_path, max_failures=max_failures)
        train_distributed(data, out, config, dist,
                          val=val, resume=resume, init_from=init_from, images=images, log=click.echo)
    else:
        from fervid.model.train import train as train_here

        train_here(data, out, config, val=val, resume=resume, init_from=init_from, images=images, log=click.echo)


def _training_source(data: str, out: str) -> str:
    """``data`` as ``fervid.model.train`` reads it: a CSV of labelled photos and clips is cut into faces by the
    analysis' own path first (``fervid.pipeline.labelled_faces``), kept in the run folder for ``--resume``."""
    from fervid.model.data import is_labelled_media_csv, save_faces

    if not is_labelled_media_csv(data):
        return data
    from fervid.console import filtered_stderr
    from fervid.model.train import RunFolder, source_name
    from fervid.pipeline.labelled_faces import cut_labelled_faces

    run = RunFolder(out)
    if run.is_started():
        return data  # training refuses the run folder; say so before minutes of cutting
    click.echo(f"{data}: cutting faces with fervid's detector and crop ...")
    with filtered_stderr():
        faces = cut_labelled_faces(data, log=click.echo)
    return str(save_faces(faces, run.faces / f"{source_name(data)}.npz"))


DETECTOR_CHOICES = click.Choice(["blazeface-full", "blazeface-short", "haar"])
MODEL_HELP = (f"A model file (.keras), or a shipped model by name ({', '.join(SHIPPED_MODELS)}); "
              f"default: {SHIPPED_MODELS[0]}.")
# The classifier engine (fervid.model.predict.ENGINES), shared by analyze and evaluate so users can measure each.
engine_option = click.option("--engine", type=click.Choice(["auto", "tensorflow", "litert-int8"]), default="auto",
                             show_default=True, help="Classifier engine: auto = the int8 model on LiteRT on CPUs, "
                                                     "TensorFlow on GPUs.")


@main.command()
@click.option("--data", help="Labelled faces: class folders, fer2013.csv, packed .npz or a votes CSV (see --images).")
@click.option("--videos", "labels_csv", type=click.Path(dir_okay=False),
              help="Instead of --data: a CSV of labelled videos or photos (columns file, label; paths relative to "
                   "it), each run through the whole analysis and scored on its per-video answer.")
@click.option("--model", "model_path", metavar="NAME|PATH", help=MODEL_HELP)
@click.option("--usage", type=click.Choice(["Training", "PublicTest", "PrivateTest"]),
              help="With fer2013.csv: score only the rows of this split.")
@click.option("--mirror", is_flag=True, help="Average each face with its mirror image (test-time augmentation).")
@click.option("--detector", type=DETECTOR_CHOICES, default="blazeface-full", show_default=True,
              help="With --videos: the face detector.")
@click.option("--fps", "sample_fps", type=float, help="With --videos: analyse this many frames per second.")
@click.option("--detect-every", type=click.IntRange(min=1), default=None, metavar="K",
              help="With --videos: as analyze's --detect-every.")
@click.option("--smooth", "smooth_s", type=float, default=0.5, show_default=True,
              help="With --videos: smoothing window over each face track before the answer, seconds (as summarize).")
@click.option("--min-seen", "min_seen_s", type=float, default=0.5, show_default=True,
              help="With --videos: seconds a face must be seen (or half the clip) for an answer (as summarize).")
@click.option("--address", default=None, help="With --videos: Ray cluster address (default: a local Ray).")
@engine_option
@images_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--png", type=click.Path(dir_okay=False), help="Also draw the confusion matrix to this PNG.")
@friendly_errors
def evaluate(data, labels_csv, model_path, usage, mirror, detector, sample_fps, detect_every, smooth_s, min_seen_s,
             address, engine, images, as_json, png):
    """Accuracy, per-class precision/recall/F1 and confusion matrix of a model on labelled faces (--data) or of
    fervid's per-video answer on labelled videos (--videos)."""
    if (data is None) == (labels_csv is None):
        raise click.UsageError("pass exactly one of --data (labelled faces) and --videos (a labels CSV)")
    if labels_csv:
        from fervid.pipeline.evaluate import evaluate_videos, format_video_report
        from fervid.pipeline.job import AnalyzeConfig
        from fervid.pipeline.summary import Evidence

        config = AnalyzeConfig(model_path=model_path, detector=detector, sample_fps=sample_fps,
                               detect_every=detect_every, mirror=mirror, address=address, engine=engine)
        with progress_on_terminal() as show:
            report = evaluate_videos(labels_csv, config, smooth_s=smooth_s, evidence=Evidence(min_seconds=min_seen_s),
                                     progress=show)
        text = format_video_report(report)
    else:
        from fervid.console import filtered_stderr
        from fervid.model.evaluate import evaluate as run_evaluation, format_report

        with filtered_stderr():
            report = run_evaluation(data, model_path, mirror=mirror, usage=usage, engine=engine, images=images)
        text = format_report(report)
    if png:
        from fervid.model.evaluate import plot_confusion

        plot_confusion(report, png)
    click.echo(json.dumps(report) if as_json else text)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Timeline Parquet file to write (the videos table goes beside it as OUT.videos.parquet).")
@click.option("--model", "model_path", metavar="NAME|PATH", help=MODEL_HELP)
@click.option("--detector", type=DETECTOR_CHOICES, default="blazeface-full", show_default=True, help="Face detector.")
@click.option("--fps", "sample_fps", type=float, help="Analyse this many frames per second; default: every frame.")
@click.option("--detect-every", type=click.IntRange(min=1), default=None, metavar="K",
              help="Run the face detector on every K-th analysed frame and carry faces to the frames between; "
                   "1: every frame. Default: about every 0.2 s (6 frames at 30 fps).")
@click.option("--batch-size", type=int, default=256, show_default=True, help="Faces per classifier call.")
@click.option("--mirror", is_flag=True, help="Average each face with its mirror image (slower, a little more accurate).")
@click.option("--smooth", "smooth_s", type=float, default=0.0, show_default=True,
              help="Also write per-track probabilities smoothed over this many seconds (happy_smooth, ...).")
@engine_option
@click.option("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else a local Ray).")
@click.option("--resume", is_flag=True, help="Keep the videos OUT (or an interrupted run) finished; do the rest.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
@friendly_errors
def analyze(paths, out, model_path, detector, sample_fps, detect_every, batch_size, mirror, smooth_s, engine, address,
            resume, overwrite):
    """Per-frame, per-face emotion timelines for videos and folders of videos (PATHS: files, folders, URIs).

    Exit status: 0 when every video was analysed (a damaged file whose first part decodes is analysed that far,
    status "partial"), 2 when some failed (OUT.videos.parquet says why), 1 on a usage error.
    """
    from fervid.pipeline.job import AnalyzeConfig, analyze as run_analysis

    config = AnalyzeConfig(model_path=model_path, detector=detector, sample_fps=sample_fps,
                           detect_every=detect_every, batch_size=batch_size, mirror=mirror, smooth_s=smooth_s,
                           engine=engine, address=address, resume=resume, overwrite=overwrite)
    with progress_on_terminal() as show:
        summary = run_analysis(paths, out, config, progress=show)
    click.echo(summary.line())
    sys.exit(2 if summary.videos_failed else 0)


# Shared by the "timelines -> answers" commands below, so the three agree on what smoothing means.
smooth_option = click.option("--smooth", "smooth_s", type=float, default=0.5, show_default=True,
                             help="Centred moving-average window over each face track, seconds; 0: raw.")
max_gap_option = click.option("--max-gap", "max_gap_s", type=float, default=0.5, show_default=True,
                              help="A face missed for up to this many seconds keeps its track id.")
# How much face an answer needs (fervid.pipeline.summary.Evidence), shared by summarize and evaluate --videos.
min_seen_option = click.option("--min-seen", "min_seen_s", type=float, default=0.5, show_default=True,
                               help="A face track gets an answer only when seen this many seconds, or in half "
                                    "its video (a photo); a video only through such tracks.")


def _prepared(timelines, smooth_s, max_gap_s):
    """Read a timelines file and add track ids and smoothed columns: the input of summarize, plot and annotate."""
    from fervid.pipeline.summary import prepare
    from fervid.pipeline.tables import read_timelines
    from fervid.pipeline.tracks import TrackConfig

    return prepare(read_timelines(timelines), smooth_s, TrackConfig(max_gap_s=max_gap_s))


@main.command()
@click.argument("timelines", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Per-track table (.csv or .parquet); OUT-stem.segments.* and OUT-stem.videos.* go beside it.")
@smooth_option
@max_gap_option
@min_seen_option
@friendly_errors
def summarize(timelines, out, smooth_s, max_gap_s, min_seen_s):
    """Per face track and per video: seconds seen, dominant emotion (none for a face seen too briefly: no_answer
    says why), share of time per emotion, emotion segments."""
    from fervid.pipeline.summary import Evidence, summary_paths, write_summary
    from fervid.pipeline.tables import read_videos

    summary_paths(out)  # a bad --out name fails before the work
    evidence = Evidence(min_seconds=min_seen_s)  # a bad value fails before the work too
    tables = write_summary(_prepared(timelines, smooth_s, max_gap_s), out, read_videos(timelines), evidence)
    for (name, path), table in zip(summary_paths(out).items(), tables.values()):
        click.echo(f"{name}: {len(table)} rows -> {path}")


@main.command()
@click.argument("timelines", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Image to write (.png, .svg, .pdf).")
@click.option("--video", default=None, help="video_id, path or file name; needed when TIMELINES holds several.")
@click.option("--max-tracks", type=int, default=8, show_default=True, help="Rows to draw; the longest-seen tracks.")
@smooth_option
@max_gap_option
@friendly_errors
def plot(timelines, out, video, max_tracks, smooth_s, max_gap_s):
    """Per face track, the seven emotion probabilities over time with a ribbon of the dominant one."""
    from fervid.pipeline.plot import plot_timelines
    from fervid.pipeline.tables import read_videos

    click.echo(plot_timelines(_prepared(timelines, smooth_s, max_gap_s), out, video, max_tracks,
                              read_videos(timelines)))


@main.command()
@click.argument("video", type=click.Path(dir_okay=False))
@click.option("--timelines", required=True, type=click.Path(dir_okay=False), help="Timelines made from VIDEO.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Annotated video to write (.mp4).")
@smooth_option
@max_gap_option
@friendly_errors
def annotate(video, timelines, out, smooth_s, max_gap_s):
    """Draw each face's box, track id, emotion and confidence on every frame of VIDEO."""
    from fervid.pipeline.annotate import annotate_video

    result = annotate_video(video, _prepared(timelines, smooth_s, max_gap_s), out)
    click.echo(f"{result.frames} frames ({result.frames_with_boxes} with faces) -> {result.out}")


@main.command()
@click.argument("timelines", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="HTML page to write (one file).")
@click.option("--videos-dir", default=None, type=click.Path(file_okay=False),
              help="Where the videos are now, when they moved since the analysis (matched by name and content).")
@click.option("--thumbnail-videos", type=int, default=100, show_default=True,
              help="Videos whose faces are shown as thumbnails (each is a decode and a detection).")
@click.option("--detail-videos", type=int, default=2000, show_default=True,
              help="Videos with a section of per-track timelines; every video stays in the table.")
@smooth_option
@max_gap_option
@friendly_errors
def report(timelines, out, videos_dir, thumbnail_videos, detail_videos, smooth_s, max_gap_s):
    """One self-contained HTML page of a run: status, the collection, and per video its tracks and faces."""
    from fervid.console import filtered_stderr
    from fervid.pipeline.report import ReportConfig, write_report

    config = ReportConfig(smooth_s=smooth_s, max_gap_s=max_gap_s, videos_dir=videos_dir,
                          thumbnail_videos=thumbnail_videos, detail_videos=detail_videos)
    with filtered_stderr():  # LiteRT's note for the detector that finds the thumbnails' faces again
        result = write_report(timelines, out, config)
    click.echo(result.line())


if __name__ == "__main__":
    main()
