"""Measure the face tracker (``fervid.pipeline.tracks``): id switches and fragments where the answer is known.

Run: python benchmarks/tracks.py [VIDEO_FOLDER]   (default ../shared/data/videos; about a minute here)

1. rows: ``track_eval.SCENARIOS`` written straight as timeline rows, 20 random draws each (jitter, flicker);
2. clips: the same paths with real faces (cut from three sample clips) pasted on a plain background, written
   as mp4, decoded and run through the real BlazeFace detector; each detection is matched to the pasted face
   nearest it. A face pasted later covers an earlier one, so crossings include real occlusion;
3. stage_multi_face.mp4 has no ground truth: its track count and lengths are printed for a look by eye
   (``fervid annotate`` draws the ids).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fervid.pipeline.detect import DEFAULT_DETECTOR, find_faces, make_detector
from fervid.pipeline.track_eval import LONG_GAP, SCENARIOS, SyntheticFace, score_tracks, synthetic_timelines
from fervid.pipeline.tracks import assign_tracks

FACE_SOURCES = ("man_single_face.mp4", "woman_talking.mp4", "woman_outdoor.mp4")
HEAD_MARGIN = 0.4  # paste the head with this share of the face box around it, so the detector sees a face
FPS, SIZE_WH = 25.0, (640, 360)


def face_crops(folder: Path, detector) -> list[np.ndarray]:
    """One head image per source clip: the first detected face, with hair and chin around it."""
    crops = []
    for name in FACE_SOURCES:
        capture = cv2.VideoCapture(str(folder / name))
        for _ in range(30):
            ok, frame = capture.read()
            boxes = find_faces(frame, detector, 0.0).boxes if ok else []
            if len(boxes):
                x, y, w, h = (int(v) for v in boxes[0])
                grow = int(HEAD_MARGIN * max(w, h))
                crops.append(frame[max(0, y - grow):y + h + grow, max(0, x - grow):x + w + grow].copy())
                break
        capture.release()
    return crops


def write_clip(path: Path, faces: list[SyntheticFace], crops: list[np.ndarray], seed: int = 0) -> None:
    """Paste ``crops[i % 3]`` along ``faces[i]``'s path; a missed span or flicker frame leaves the face out."""
    rng = np.random.default_rng(seed)
    background = np.tile(np.linspace(60, 140, SIZE_WH[0], dtype=np.uint8)[None, :, None], (SIZE_WH[1], 1, 3))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE_WH)
    for frame_index in range(int(max(face.end_s for face in faces) * FPS)):
        time_s, image = frame_index / FPS, background.copy()
        for number, face in enumerate(faces):
            hidden = any(a <= time_s < b for a, b in face.missed) or rng.random() < face.miss_rate
            if not face.start_s <= time_s < face.end_s or hidden:
                continue
            side = int(face.size * (1 + 2 * HEAD_MARGIN))
            head = cv2.resize(crops[number % len(crops)], (side, side))
            cx, cy = (face.centre[k] + face.velocity[k] * (time_s - face.start_s) for k in (0, 1))
            x0, y0 = int(cx - side / 2), int(cy - side / 2)
            # Clip the paste to the frame: faces enter and leave at the edges.
            left, top = max(0, -x0), max(0, -y0)
            right, bottom = min(side, SIZE_WH[0] - x0), min(side, SIZE_WH[1] - y0)
            if right > left and bottom > top:
                image[y0 + top:y0 + bottom, x0 + left:x0 + right] = head[top:bottom, left:right]
        writer.write(image)
    writer.release()


def true_id(faces: list[SyntheticFace], time_s: float, box) -> int:
    """The pasted face nearest a detected box at ``time_s`` (within half its size), or -1."""
    x, y, w, h = box
    centre = np.array([x + w / 2, y + h / 2])
    distance = [np.linalg.norm(centre - np.add(face.centre, np.multiply(face.velocity, time_s - face.start_s)))
                / face.size if face.start_s <= time_s < face.end_s else np.inf for face in faces]
    return int(np.argmin(distance)) if min(distance) < 0.5 else -1


def detect_and_label(path: Path, faces: list[SyntheticFace], detector) -> pd.DataFrame:
    """Detector rows for the clip, each with the pasted face nearest it as ``true_id`` (-1: none near)."""
    capture, rows, frame_index = cv2.VideoCapture(str(path)), [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        time_s = frame_index / FPS
        for x, y, w, h in find_faces(image, detector, 0.0).boxes:
            rows.append(dict(video_id=path.stem, frame_index=frame_index, timestamp_s=time_s, x=x, y=y, w=w, h=h,
                             true_id=true_id(faces, time_s, (x, y, w, h))))
        frame_index += 1
    capture.release()
    return pd.DataFrame(rows)


def main(folder: Path) -> None:
    cases = {**SCENARIOS, "one-second gap": LONG_GAP}
    print("| scenario | rows: fragments / switches (20 draws) | clip: detections | faces | tracks | fragments "
          "| switches | false alarms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    detector = make_detector(DEFAULT_DETECTOR)
    crops = face_crops(folder, detector)
    with tempfile.TemporaryDirectory() as temporary:
        for name, faces in cases.items():
            scores = [score_tracks(assign_tracks(synthetic_timelines(faces, seed=seed))) for seed in range(20)]
            clip = Path(temporary) / f"{len(name)}.mp4"
            write_clip(clip, faces, crops)
            rows = detect_and_label(clip, faces, detector)
            found = rows[rows["true_id"] >= 0]
            score = score_tracks(assign_tracks(found))
            print(f"| {name} | {sum(s.fragments for s in scores)} / {sum(s.switches for s in scores)} | {len(rows)} "
                  f"| {score.faces} | {score.tracks} | {score.fragments} | {score.switches} | {len(rows) - len(found)} |")
    stage = folder / "stage_multi_face.mp4"
    if stage.is_file():
        capture, rows, index = cv2.VideoCapture(str(stage)), [], 0
        fps = capture.get(cv2.CAP_PROP_FPS)
        while (frame := capture.read())[0]:
            rows += [dict(video_id="stage", frame_index=index, timestamp_s=index / fps, x=x, y=y, w=w, h=h)
                     for x, y, w, h in find_faces(frame[1], detector, 0.0).boxes]
            index += 1
        tracked = assign_tracks(pd.DataFrame(rows))
        lengths = tracked.groupby("track_id")["timestamp_s"].agg(["min", "max", "size"]).round(2)
        print(f"\nstage_multi_face.mp4: {len(tracked)} detections, {len(lengths)} tracks\n{lengths.T.to_string()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
         / "videos")
