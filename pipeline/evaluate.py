"""Is fervid's answer right for labelled videos? ``fervid evaluate --videos LABELS.csv``.

The CSV has a ``file`` column (a video or a photo, relative to the CSV) and a ``label`` column (one of the model's
labels). Every readable file goes through the real analysis (``analyze``: detector, crop, classifier, tracks,
smoothing) and the product's per-video answer (``summary.video_answers``, the ``dominant`` of ``fervid
summarize``), which is scored against the label. A row that cannot be scored (an unknown label, a missing file, a
video that fails, a clip without a face) is reported in ``clips`` with the reason and never stops the others; a
clip without a face, or one that fails to decode, counts as a wrong answer, since the user gets no answer.

    report = evaluate_videos("labels.csv", AnalyzeConfig(detector="haar"), smooth_s=0.5)
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from fervid.errors import FervidError
from fervid.model.evaluate import classification_report, per_class_lines

from .job import AnalyzeConfig, analyze
from .schema import EMOTION_COLUMNS, STATUSES_WITH_ROWS
from .summary import DEFAULT_ANSWER, DEFAULT_ANSWER_FACES, prepare, video_answers
from .tables import read_timelines, read_videos

NO_ANSWER = "(none)"  # the answer of a clip in which no face was found


def read_labels(labels_csv: str | os.PathLike) -> pd.DataFrame:
    """``file``, ``label`` and the file's absolute ``path``; a usage error when the CSV itself is unusable."""
    labels_csv = Path(labels_csv)
    if not labels_csv.is_file():
        raise FervidError(f"{labels_csv}: no such labels file (a CSV with the columns file and label)")
    try:
        table = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise FervidError(f"{labels_csv}: not a readable CSV ({error})") from None
    missing = [name for name in ("file", "label") if name not in table.columns]
    if missing:
        raise FervidError(f"{labels_csv}: expected the columns file and label; missing {', '.join(missing)} "
                          f"(found {', '.join(table.columns) or 'none'})")
    if table.empty:
        raise FervidError(f"{labels_csv}: no rows to score")
    table = table[["file", "label"]].copy()
    table["label"] = table["label"].str.strip().str.lower()
    table["path"] = [os.path.abspath(labels_csv.parent / name) for name in table["file"]]
    return table


def _problem(row) -> str | None:
    """Why a labels row cannot be analysed, or None."""
    if row.label not in EMOTION_COLUMNS:
        return f"unknown label {row.label!r}; expected one of {', '.join(EMOTION_COLUMNS)}"
    if not row.file:
        return "empty file name"
    if not Path(row.path).is_file():
        return f"{row.path}: no such file"
    return None


def evaluate_videos(labels_csv: str | os.PathLike, config: AnalyzeConfig = AnalyzeConfig(), *,
                    smooth_s: float = 0.5, method: str = DEFAULT_ANSWER, faces: str = DEFAULT_ANSWER_FACES,
                    progress=None) -> dict:
    """Accuracy, per-class figures and confusion matrix of the per-video answer, and one row per clip."""
    table = read_labels(labels_csv)
    problems = [_problem(row) for row in table.itertuples()]  # a list: pandas would turn None into NaN
    usable = table[[problem is None for problem in problems]]
    answers, videos = pd.Series(dtype=object), pd.DataFrame()
    if len(usable):
        with tempfile.TemporaryDirectory(prefix="fervid-evaluate-") as folder:
            out = Path(folder) / "timelines.parquet"
            run = replace(config, resume=False, overwrite=False)
            analyze(sorted(set(usable["path"])), out, run, progress=progress)
            videos = read_videos(out).set_index("video_path")
            timelines = read_timelines(out)
            if len(timelines):
                by_id = video_answers(prepare(timelines, smooth_s), videos.reset_index(), method, faces)
                answers = videos["video_id"].map(by_id)
    clips = []
    for row, problem in zip(table.itertuples(), problems):
        clip = dict(file=row.file, label=row.label, answer=None, faces=0, frames=0, status=None, note=problem)
        if problem is None:
            video = videos.loc[row.path]
            clip.update(status=video["status"], faces=int(video["faces"]), frames=int(video["frames_total"]),
                        note=video["error"] if isinstance(video["error"], str) else None)
            answer = answers.get(row.path)
            clip["answer"] = answer if isinstance(answer, str) else NO_ANSWER
            if video["status"] in STATUSES_WITH_ROWS and clip["answer"] == NO_ANSWER:
                clip["note"] = "no face found"
        clips.append(clip)
    return _report(clips, config, smooth_s, method, faces, labels_csv)


def _report(clips: list[dict], config: AnalyzeConfig, smooth_s: float, method: str, faces: str,
            labels_csv) -> dict:
    scored = [clip for clip in clips if clip["answer"] is not None]
    answered = [clip for clip in scored if clip["answer"] != NO_ANSWER]
    index = {name: i for i, name in enumerate(EMOTION_COLUMNS)}
    report = classification_report(np.array([index[c["label"]] for c in answered], np.int64),
                                   np.array([index[c["answer"]] for c in answered], np.int64), EMOTION_COLUMNS)
    right = sum(clip["answer"] == clip["label"] for clip in scored)
    # Clips without an answer count as wrong: accuracy is over every clip that could be analysed.
    report.update(accuracy=round(right / len(scored), 4) if scored else 0.0, n=len(scored), right=right,
                  unanswered=len(scored) - len(answered), not_scored=len(clips) - len(scored),
                  data=str(labels_csv), model=config.model_path or "shipped default", detector=config.detector,
                  sample_fps=config.sample_fps, mirror=config.mirror, smooth_s=smooth_s, answer=method,
                  answer_faces=faces, clips=clips)
    return report


def format_video_report(report: dict) -> str:
    lines = [f"accuracy {report['accuracy']:.4f}: {report['right']} of {report['n']} clips right "
             f"({report['unanswered']} without a face, {report['not_scored']} not scored); detector "
             f"{report['detector']}, answer {report['answer']} over {report['answer_faces']} faces, "
             f"smooth {report['smooth_s']} s",
             f"{'file':<40}{'label':>10}{'answer':>10}{'faces':>7}{'frames':>8}  note"]
    for clip in report["clips"]:
        mark = "" if clip["answer"] is None else " " if clip["answer"] == clip["label"] else "x"
        lines.append(f"{clip['file'][:39]:<40}{clip['label'][:9]:>10}{(clip['answer'] or '-')[:9]:>10}"
                     f"{clip['faces']:>7}{clip['frames']:>8} {mark} {clip['note'] or ''}".rstrip())
    return "\n".join(lines + per_class_lines(report, "   (clips with an answer)"))
