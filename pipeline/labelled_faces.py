"""Labelled photos and clips -> the 48x48 faces fervid's own analysis feeds the model, for training on them.

``fervid train --data labels.csv`` takes the CSV ``fervid evaluate --videos`` scores (``file``, ``label``; paths
relative to the CSV; photos and videos alike). Every file goes through the analysis' own CPU stage
(``fervid.pipeline.crops.detect_range``: the decoder, the default detector, its FER2013 framing and the level
crop), so the model trains on exactly the crops ``analyze`` will give it, not on a dataset's own framing (SFEW's
aligned faces are framed unlike FER2013's, and so are a user's frames). The file's label goes to its main face:
the track seen longest, the rule of the per-video answer (``fervid.pipeline.summary.main_faces``); in a clip, to
every sampled frame of that track.

A row that cannot give faces (an unknown label, a missing or unreadable file, no face found) is one line naming
the file and why, and the other files still give theirs. This module lives in the pipeline, not in
``fervid.model``, because the model package never imports the pipeline; the faces it cuts reach training as a
plain face set (``fervid.model.data.save_faces``).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from fervid.errors import FervidError
from fervid.model.data import FaceDataset
from fervid.model.labels import FER2013_LABELS

from .crops import SUMMARY_FACE_INDEX, detect_range, plan_video
from .detect import DEFAULT_DETECTOR, FRAMING
from .evaluate import problem_with, read_labels
from .summary import Evidence, main_faces
from .tracks import assign_tracks

# Frames a second of a clip whose faces are kept: frames closer than 0.2 s show nearly the same face, and the
# default analysis detects about that often too (fervid.pipeline.keyframes.DETECT_INTERVAL_S).
SAMPLE_FPS = 5.0


def _main_face_rows(rows: dict[str, np.ndarray], row_s: float) -> np.ndarray:
    """Indices of the rows of the file's main face: its track seen longest (then the larger face)."""
    table = pd.DataFrame(dict(video_id=rows["video_id"], frame_index=rows["frame"], timestamp_s=rows["timestamp_s"],
                              x=rows["x"], y=rows["y"], w=rows["w"], h=rows["h"], row_s=row_s))
    return main_faces(assign_tracks(table)).index.to_numpy()


def faces_of_file(path: str, detector: str = DEFAULT_DETECTOR, sample_fps: float | None = SAMPLE_FPS,
                  evidence: Evidence = Evidence()) -> np.ndarray:
    """uint8 (N, 48, 48): the main face of a photo (N = 1) or of a clip (one per sampled frame it is seen in).

    Raises FervidError naming the file when it cannot be read, or shows no face with the evidence a per-video answer
    needs (a detector's false alarm in a frame or two of a clip without faces is not a face to learn from).
    """
    tasks = plan_video(path, frames_per_range=2**31)
    batch = {key: np.array([value]) for key, value in tasks[0].items()}
    chunks = list(detect_range(batch, detector=detector, sample_fps=sample_fps, margins=FRAMING[detector],
                               detect_every=1))
    summary = json.loads(chunks[-1]["summary"][0])  # the range summary row comes last
    if summary["error"]:
        raise FervidError(summary["error"])
    faces = [chunk for chunk in chunks if len(chunk["face_index"]) and chunk["face_index"][0] != SUMMARY_FACE_INDEX]
    if not faces:
        raise FervidError(f"{path}: no face found")
    rows = {key: np.concatenate([chunk[key] for chunk in faces]) for key in faces[0]}
    fps = summary["fps"] or SAMPLE_FPS
    row_s = 1 / min(fps, sample_fps or fps)
    main = _main_face_rows(rows, row_s)
    duration_s = (summary["last_timestamp_s"] or 0.0) + 1 / fps
    too_little = evidence.reason(len(main) * row_s, min(1.0, len(main) * row_s / duration_s))
    if too_little:
        raise FervidError(f"{path}: no face seen long enough ({too_little})")
    return rows["crop"][main]


def cut_labelled_faces(labels_csv: str | os.PathLike, *, classes: tuple[str, ...] = FER2013_LABELS,
                       detector: str = DEFAULT_DETECTOR, sample_fps: float | None = SAMPLE_FPS,
                       log=print) -> FaceDataset:
    """Every usable row's main face(s), labelled; each row that gives none is one ``log`` line naming its file."""
    table = read_labels(labels_csv)
    images, labels, files, left_out = [], [], [], 0
    for row in table.itertuples():
        problem = problem_with(row, classes)
        if problem is None:
            try:
                faces = faces_of_file(row.path, detector, sample_fps)
            except FervidError as error:
                problem = str(error)
        if problem is not None:
            left_out += 1
            log(f"{labels_csv}: left out {row.file}: {problem.removeprefix(row.path + ': ')}")
            continue
        images.append(faces)
        labels += [classes.index(row.label)] * len(faces)
        files += [row.file] * len(faces)
    if not images:
        raise FervidError(f"{labels_csv}: no file gave a labelled face ({left_out} left out)")
    log(f"{labels_csv}: {len(labels)} faces from {len(table) - left_out} files ({left_out} left out)")
    return FaceDataset(np.concatenate(images), np.asarray(labels, np.int64), tuple(classes), str(labels_csv),
                       files=tuple(files))
