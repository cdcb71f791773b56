"""Is fervid's answer right for labelled videos? ``fervid evaluate --videos LABELS.csv``.

The CSV has a ``file`` column (a video or a photo, relative to the CSV) and a ``label`` column (one of the model's
labels). Every readable file goes through the real analysis (``analyze``: detector, crop, classifier, tracks,
smoothing) and the product's per-video answer (``summary.video_answers``, the ``dominant`` of ``fervid
summarize``), which is scored against the label. A row that cannot be scored (an unknown label, a missing file, a
video that fails) is reported in ``clips`` with the reason and never stops the others. A clip without an answer (no
face found, or too little of one: ``summary.Evidence``) or one that fails to decode counts as a wrong answer,
since the user gets no answer; the report counts them as ``unanswered``.

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
from .summary import DEFAULT_ANSWER, DEFAULT_ANSWER_FACES, Evidence, prepare, video_verdicts
from .tables import read_timelines, read_videos

NO_ANSWER = "(none)"  # the answer of a clip without one: no face found, or too little evidence


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


def problem_with(row, labels: tuple[str, ...] = EMOTION_COLUMNS) -> str | None:
    """Why a labels row cannot be analysed (scored against, or trained on, ``labels``), or None."""
    if row.label not in labels:
        return f"unknown label {row.label!r}; expected one of {', '.join(labels)}"
    if not row.file:
        return "empty file name"
    if not Path(row.path).is_file():
        return f"{row.path}: no such file"
    return None


def evaluate_videos(labels_csv: str | os.PathLike, config: AnalyzeConfig = AnalyzeConfig(), *,
                    smooth_s: float = 0.5, method: str = DEFAULT_ANSWER, faces: str = DEFAULT_ANSWER_FACES,
                    evidence: Evidence = Evidence(), progress=None) -> dict:
    """Accuracy, per-class figures and confusion matrix of the per-video answer, and one row per clip."""
    table = read_labels(labels_csv)
    problems = [problem_with(row) for row in table.itertuples()]  # a list: pandas would turn None into NaN
    usable = table[[problem is None for problem in problems]]
    verdicts, videos = pd.DataFrame(columns=["dominant", "no_answer"]), pd.DataFrame()
    if len(usable):
        with tempfile.TemporaryDirectory(prefix="fervid-evaluate-") as folder:
            out = Path(folder) / "timelines.parquet"
            run = replace(config, resume=False, overwrite=False)
            analyze(sorted(set(usable["path"])), out, run, progress=progress)
            videos = read_videos(out).set_index("video_path")
            timelines = read_timelines(out)
            if len(timelines):
                verdicts = video_verdicts(prepare(timelines, smooth_s), videos.reset_index(), method, faces, evidence)
    clips = []
    for row, problem in zip(table.itertuples(), problems):
        clip = dict(file=row.file, label=row.label, answer=None, faces=0, frames=0, status=None, note=problem)
        if problem is None:
            video = videos.loc[row.path]
            clip.update(status=video["status"], faces=int(video["faces"]), frames=int(video["frames_total"]),
                        note=video["error"] if isinstance(video["error"], str) else None)
            verdict = verdicts.loc[video["video_id"]] if video["video_id"] in verdicts.index else None
            clip["answer"] = verdict["dominant"] if verdict is not None and verdict["dominant"] else NO_ANSWER
            if video["status"] in STATUSES_WITH_ROWS and clip["answer"] == NO_ANSWER:
                clip["note"] = verdict["no_answer"] if verdict is not None else "no face found"
        clips.append(clip)
    return _report(clips, config, smooth_s, method, faces, evidence, labels_csv)


def _report(clips: list[dict], config: AnalyzeConfig, smooth_s: float, method: str, faces: str, evidence: Evidence,
            labels_csv) -> dict:
    scored = [clip for clip in clips if clip["answer"] is not None]
    answered = [clip for clip in scored if clip["answer"] != NO_ANSWER]
    index = {name: i for i, name in enumerate(EMOTION_COLUMNS)}
    report = classification_report(np.array([index[c["label"]] for c in answered], np.int64),
                                   np.array([index[c["answer"]] for c in answered], np.int64), EMOTION_COLUMNS)
    right = sum(clip["answer"] == clip["label"] for clip in scored)
    # Clips without an answer count as wrong: accuracy and mean per-class recall are over every clip that could be
    # analysed (the confusion matrix and per-class table over the clips with an answer).
    recalls = [np.mean([c["answer"] == c["label"] for c in scored if c["label"] == name])
               for name in EMOTION_COLUMNS if any(c["label"] == name for c in scored)]
    report.update(accuracy=round(right / len(scored), 4) if scored else 0.0, n=len(scored), right=right,
                  mean_recall=round(float(np.mean(recalls)), 4) if recalls else 0.0,
                  unanswered=len(scored) - len(answered), not_scored=len(clips) - len(scored),
                  data=str(labels_csv), model=config.model_path or "shipped default", detector=config.detector,
                  sample_fps=config.sample_fps, detect_every=config.detect_every, mirror=config.mirror,
                  smooth_s=smooth_s, answer=method, answer_faces=faces, min_seen_s=evidence.min_seconds, clips=clips)
    return report


def format_video_report(report: dict) -> str:
    lines = [f"accuracy {report['accuracy']:.4f}, mean per-class recall {report['mean_recall']:.4f}: "
             f"{report['right']} of {report['n']} clips right "
             f"({report['unanswered']} unanswered, {report['not_scored']} not scored); detector "
             f"{report['detector']}, answer {report['answer']} over {report['answer_faces']} faces, "
             f"smooth {report['smooth_s']} s",
             f"{'file':<40}{'label':>10}{'answer':>10}{'faces':>7}{'frames':>8}  note"]
    for clip in report["clips"]:
        mark = "" if clip["answer"] is None else " " if clip["answer"] == clip["label"] else "x"
        lines.append(f"{clip['file'][:39]:<40}{clip['label'][:9]:>10}{(clip['answer'] or '-')[:9]:>10}"
                     f"{clip['faces']:>7}{clip['frames']:>8} {mark} {clip['note'] or ''}".rstrip())
    return "\n".join(lines + per_class_lines(report, "   (clips with an answer)"))
