"""How far past the detector's box to cut the 48x48 crop, per detector (``fervid.pipeline.detect.FRAMING``).

Run: python benchmarks/crop_margin.py [--detector NAME] [--model PATH.keras] [--limit N]
     (about 1.5 minutes on 2 cores for BlazeFace, 4 for Haar)

The model learnt FER2013's framing: loose above the brows, tight under the chin. A detector's box sits
somewhere inside that frame, and a crop that grows the box by the same share on every side reproduces it
badly. So: each FER2013 ``val`` face is upscaled to 192x192 and pasted into a 640x360 frame, found by the real
detector, and the median box position inside the pasted face gives the margins (left, top, right, bottom, as
shares of the box) that give back the FER2013 frame. Then the classifier's accuracy on crops cut by the real crop
code, with those margins and with equal margins on every side, against its accuracy on the untouched 48x48
faces (the ceiling, on the same faces: those the detector found).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fervid.model.data import load_dataset
from fervid.model.predict import EmotionClassifier
from fervid.pipeline.detect import DEFAULT_DETECTOR, DETECTORS, FRAMING, clip_boxes, crop_faces, make_detector

VAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fer2013" / "val"
EVEN_MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
FACE_PX, FRAME = 192, (360, 640)


def frame_with(face: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A BGR frame with the face upscaled at a random place, on the grey of the face's own border; and where."""
    import cv2

    border = np.concatenate([face[0], face[-1], face[:, 0], face[:, -1]])
    frame = np.full(FRAME, int(np.median(border)), np.uint8)
    y, x = rng.integers(0, FRAME[0] - FACE_PX), rng.integers(0, FRAME[1] - FACE_PX)
    frame[y:y + FACE_PX, x:x + FACE_PX] = cv2.resize(face, (FACE_PX, FACE_PX), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), np.array([x, y])


def fer2013_margins(boxes: np.ndarray) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) margins, in shares of the box, that grow the median box to the whole face image;
    ``boxes`` are x, y, w, h in units of the pasted face (0..1)."""
    x, y, w, h = np.median(boxes, axis=0)
    return x / w, y / h, (1 - x - w) / w, (1 - y - h) / h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR)
    parser.add_argument("--model", default=None, help="artifact; default: the shipped model")
    parser.add_argument("--limit", type=int, default=None, help="use N val faces (a random sample)")
    args = parser.parse_args()

    data = load_dataset(VAL)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data.labels))[:args.limit]  # val is sorted by class: sample across all of them
    images, labels = data.images[order], data.labels[order]
    detector = make_detector(args.detector)
    found, frames, boxes, relative = [], [], [], []
    for face in images:
        frame, corner = frame_with(face, rng)
        raw, scores = detector(frame)
        found.append(len(raw) > 0)
        if len(raw):
            box = raw[np.argmax(scores)]
            frames.append(frame)
            boxes.append(box)
            relative.append([(box[0] - corner[0]) / FACE_PX, (box[1] - corner[1]) / FACE_PX,
                             box[2] / FACE_PX, box[3] / FACE_PX])
    found = np.array(found)
    measured = fer2013_margins(np.array(relative))
    classifier = EmotionClassifier(args.model)
    kept = labels[found]
    ceiling = float(np.mean(classifier.predict(images[found]).argmax(1) == kept))
    print(f"{args.detector} found a face in {found.sum()} of {len(images)} val faces")
    print("margins that give back the FER2013 frame (left, top, right, bottom): "
          + ", ".join(f"{m:.3f}" for m in measured) + f"; in use (FRAMING): {FRAMING[args.detector]}")
    print(f"accuracy on the original 48x48 faces (ceiling): {ceiling:.4f}")
    print("| margins (left, top, right, bottom) | accuracy on detector crops | vs ceiling |")
    print("| --- | --- | --- |")
    candidates = {f"FRAMING[{args.detector!r}]": FRAMING[args.detector],
                  **{f"{m:.2f} on every side": (m,) * 4 for m in EVEN_MARGINS}}
    for name, margins in candidates.items():
        crops = np.concatenate([crop_faces(frame, clip_boxes(box[None], FRAME[1], FRAME[0], margins))
                                for frame, box in zip(frames, boxes)])
        accuracy = float(np.mean(classifier.predict(crops).argmax(1) == kept))
        print(f"| {name} {tuple(round(m, 3) for m in margins)} | {accuracy:.4f} | {accuracy / ceiling:.3f}x |")
    print("Large margins reach past the pasted face into flat grey, which real frames do not have; they are "
          "penalised here more than they would be on video.")


if __name__ == "__main__":
    main()
