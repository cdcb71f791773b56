"""From a face in a frame to the answer, measured on labelled real faces: detector x crop x answer rule.

Run: .venv/bin/python benchmarks/video_accuracy.py [--model PATH.keras] [--val-limit N] [--template]
     (about 10 minutes on 2 idle cores; --template only measures FER2013_KEYPOINTS)

Material (``../shared/data``, dev only: tune on principle, not on these):
- ``labelled-video``: 12 clips with one label each; the answer is the product's per-video answer
  (``fervid.pipeline.summary.video_answers``) on a timeline built here from the same detector, crop and model;
- ``labelled-faces``: 280 KDEF photos; the answer is the same rule on the one-frame "video";
- FER2013 ``val`` faces upscaled and pasted into 640x360 frames (as ``crop_margin.py``): accuracy on the faces the
  detector finds, so the crop rules are also scored on the model's own kind of face.

The classifier brings every crop to the model's input normalization (the shipped model equalizes), so a "FER2013
match" rule measures that finishing on top of it.

One plain process (no Ray): each frame is decoded and detected once per detector, then every crop rule cuts its
crops from the same detections, and every answer rule reads the same probabilities.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from fervid.model.labels import FER2013_LABELS
from fervid.model.predict import make_classifier
from fervid.pipeline.align import FER2013_KEYPOINTS, aligned_crops, level_crops, match_fer2013
from fervid.pipeline.detect import DETECTORS, FRAMING, clip_boxes, crop_faces, make_detector
from fervid.pipeline.summary import ANSWER_FACES, ANSWER_METHODS, prepare, video_answers
from fervid.pipeline.video import probe, read_range

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crop_margin import FACE_PX, frame_with  # noqa: E402  (the pasted-FER2013 frames, shared with that script)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
INDEX = {name: i for i, name in enumerate(FER2013_LABELS)}
ALIGN_POINTS = 4  # the first four of BlazeFace's six keypoints; the ear tragions are often hidden or guessed


def decode(path: Path) -> tuple[list[np.ndarray], list[float]]:
    """Every frame (BGR) and its time, decoded as the product decodes videos and photos."""
    frames = list(read_range(str(path), -math.inf, math.inf, probe(str(path)).fps))
    return [frame.image for frame in frames], [frame.timestamp_s for frame in frames]


def detections(detector, frame: np.ndarray):
    """Boxes, scores and keypoints (None for Haar, which finds none) of one frame."""
    boxes, scores, keypoints = detector.detect(frame)
    return boxes, scores, None if np.isnan(keypoints).any() else keypoints


# Crop rules: frame, detector name, boxes (N, 4), keypoints (N, 6, 2) or None -> uint8 (N, 48, 48) or None when the
# rule needs keypoints the detector does not give.
def crop_box(frame, name, boxes, keypoints, interpolation=None, blur=0.0, square=False):
    import cv2

    height, width = frame.shape[:2]
    left, top, right, bottom = FRAMING[name]
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if square:  # the framed box grown on its shorter side to a square, about the same centre
        x0, y0 = boxes[:, 0] - left * boxes[:, 2], boxes[:, 1] - top * boxes[:, 3]
        w, h = boxes[:, 2] * (1 + left + right), boxes[:, 3] * (1 + top + bottom)
        side = np.maximum(w, h)
        framed = np.stack([x0 - (side - w) / 2, y0 - (side - h) / 2, side, side], axis=1)
        cut = clip_boxes(framed, width, height)
    else:
        cut = clip_boxes(boxes, width, height, FRAMING[name])
    if interpolation is None and not blur:
        return crop_faces(frame, cut)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    crops = np.empty((len(cut), 48, 48), np.uint8)
    for i, (x, y, w, h) in enumerate(cut):
        face = cv2.resize(gray[y:y + h, x:x + w], (48, 48), interpolation=interpolation or cv2.INTER_AREA)
        crops[i] = cv2.GaussianBlur(face, (0, 0), blur) if blur else face
    return crops


def finished(rule):
    """The rule's crops through ``match_fer2013``, as the product finishes them."""
    def cut(*args):
        crops = rule(*args)
        return None if crops is None else match_fer2013(crops)
    return cut


def crop_level(frame, name, boxes, keypoints):
    """The box framing, turned about the box centre so the eyes are level (``align.level_crops``)."""
    return None if keypoints is None else level_crops(frame, boxes, keypoints, FRAMING[name])


def crop_aligned(frame, name, boxes, keypoints):
    return None if keypoints is None else aligned_crops(frame, keypoints, FER2013_KEYPOINTS[name])


def sharpness(crops: np.ndarray) -> float:
    """Median variance of the Laplacian: how much fine detail the 48x48 faces carry."""
    import cv2

    return float(np.median([cv2.Laplacian(face, cv2.CV_64F).var() for face in crops])) if len(crops) else 0.0


def measure_template(val_images: np.ndarray) -> None:
    """Median BlazeFace keypoints of FER2013 val faces, in 48x48 pixels: ``align.FER2013_KEYPOINTS``."""
    rng = np.random.default_rng(0)
    for name in ("blazeface-full", "blazeface-short"):
        detector, points = make_detector(name), []
        for face in val_images:
            frame, corner = frame_with(face, rng)
            boxes, scores, keypoints = detections(detector, frame)
            if len(boxes):
                best = int(np.argmax(scores))
                points.append((keypoints[best, :ALIGN_POINTS] - corner) * 48 / FACE_PX)
        median = np.median(np.array(points), axis=0)
        # Training flips faces, so the model sees both sides alike: the template is the median and its mirror
        # image averaged (x -> 48 - x with the two eyes swapped).
        mirrored = np.stack([48 - median[[1, 0, 2, 3], 0], median[[1, 0, 2, 3], 1]], axis=1)
        print(f"{name}: {len(points)} of {len(val_images)} val faces; median keypoints (x, y) in 48x48: "
              + ", ".join(f"({x:.1f}, {y:.1f})" for x, y in median) + "; symmetric: "
              + ", ".join(f"({x:.2f}, {y:.2f})" for x, y in (median + mirrored) / 2))


def score_rule(rule, name, items, found, classifier):
    """A timeline table (one row per face, with probabilities, material and label) of every item, and the
    crops' sharpness; None when the rule needs keypoints the detector does not give."""
    tables, all_crops = [], []
    for (material, file, label, frames, times), per_frame in zip(items, found):
        for index, (frame, (boxes, scores, keypoints)) in enumerate(zip(frames, per_frame)):
            if not len(boxes):
                continue
            crops = rule(frame, name, boxes, keypoints)
            if crops is None:
                return None
            all_crops.append(crops)
            tables.append(pd.DataFrame(dict(
                material=material, video_id=file, video_path=file, label=label, frame_index=index,
                timestamp_s=times[index], face_index=np.arange(len(boxes)), x=boxes[:, 0], y=boxes[:, 1],
                w=boxes[:, 2], h=boxes[:, 3], det_score=scores)))
    timeline = pd.concat(tables, ignore_index=True)
    crops = np.concatenate(all_crops)
    timeline[list(FER2013_LABELS)] = classifier.predict(crops)
    return timeline, sharpness(crops)


def score_val(rule, name, pasted, val_found, val_labels, classifier) -> tuple[float, int]:
    """Accuracy on the pasted FER2013 val faces the detector found (its best box each), and how many."""
    crops, kept = [], []
    for (boxes, scores, keypoints), frame, label in zip(val_found, pasted, val_labels):
        if len(boxes):
            best = int(np.argmax(scores))
            crops.append(rule(frame, name, boxes[best:best + 1],
                              None if keypoints is None else keypoints[best:best + 1]))
            kept.append(label)
    predicted = classifier.predict(np.concatenate(crops)).argmax(1)
    return float(np.mean(predicted == np.array(kept))), len(kept)


def main() -> None:
    import cv2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="artifact; default: the shipped model")
    parser.add_argument("--val-limit", type=int, default=1000, help="FER2013 val faces pasted (random sample)")
    parser.add_argument("--template", action="store_true", help="only measure FER2013_KEYPOINTS")
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    args = parser.parse_args()

    from fervid.model.data import load_dataset

    val = load_dataset(DATA / "fer2013-packed" / "val.npz")
    order = np.random.default_rng(0).permutation(len(val.labels))[:args.val_limit]
    val_images, val_labels = val.images[order], val.labels[order]
    if args.template:
        measure_template(val.images)
        return

    clips = pd.read_csv(DATA / "labelled-video" / "labels.csv")
    photos = pd.read_csv(DATA / "labelled-faces" / "labels.csv")
    items = []  # (material, file, label, frames, times)
    for row in clips.itertuples():
        frames, times = decode(DATA / "labelled-video" / row.file)
        items.append(("clips", row.file, row.label, frames, times))
    for row in photos.itertuples():
        # Not cv2.imread: its JPEG decoder differs from FFmpeg's by about 0.75 grey levels a pixel, enough to flip a
        # few borderline photos away from the product's answers.
        frames, times = decode(DATA / "labelled-faces" / row.file)
        items.append(("photos", row.file, row.label, frames, times))
    rng = np.random.default_rng(1)
    pasted = [frame_with(face, rng)[0] for face in val_images]

    classifier = make_classifier(args.model, "litert-int8")
    contrast = float(np.median(val.images.reshape(len(val.images), -1).std(axis=1)))
    print(f"FER2013 val, median over the 48x48 faces: detail (Laplacian variance) {sharpness(val.images):.0f} "
          f"(align.FER2013_DETAIL), contrast (grey-level std) {contrast:.1f} (align.FER2013_CONTRAST)")
    rules = {"box (FRAMING, INTER_AREA), as before": crop_box,
             "box, INTER_LINEAR": lambda *a: crop_box(*a, interpolation=cv2.INTER_LINEAR),
             "box, blur 0.6": lambda *a: crop_box(*a, blur=0.6),
             "box + FER2013 match": finished(crop_box),
             "square box + FER2013 match": finished(lambda *a: crop_box(*a, square=True)),
             "box, eyes level (the product's crop, crop version 3)": crop_level,
             "box, eyes level + FER2013 match (crop version 2)": finished(crop_level),
             "aligned to FER2013 keypoints + FER2013 match": finished(crop_aligned)}
    raw = float(np.mean(classifier.predict(val.images).argmax(1) == val.labels))
    matched = float(np.mean(classifier.predict(match_fer2013(val.images)).argmax(1) == val.labels))
    print(f"FER2013 val, the 48x48 faces themselves: {raw:.4f}; every face through match_fer2013: {matched:.4f}")
    results = []
    for name in args.detectors.split(","):
        detector = make_detector(name)
        found = [[detections(detector, frame) for frame in item[3]] for item in items]
        val_found = [detections(detector, frame) for frame in pasted]
        for rule_name, rule in rules.items():
            scored = score_rule(rule, name, items, found, classifier)
            if scored is None:
                print(f"{name}: {rule_name} needs keypoints; skipped")
                continue
            timeline, sharp = scored
            val_accuracy, val_count = score_val(rule, name, pasted, val_found, val_labels, classifier)
            for smooth_s in (0.0, 0.5, 1.0):
                prepared = prepare(timeline, smooth_s)
                labels = prepared.drop_duplicates("video_id").set_index("video_id")
                for method in ANSWER_METHODS:
                    for faces in ANSWER_FACES:
                        answers = video_answers(prepared, None, method, faces)
                        right = answers == labels["label"].reindex(answers.index)
                        material = labels["material"].reindex(answers.index)
                        results.append(dict(
                            detector=name, crop=rule_name, smooth=smooth_s, answer=method, faces=faces,
                            clips=int(right[material == "clips"].sum()),
                            photos=round(float(right[material == "photos"].sum() / len(photos)), 4),
                            val=round(val_accuracy, 4), val_found=val_count, sharpness=round(sharp)))
    table = pd.DataFrame(results)
    table.to_csv("/tmp/video_accuracy.csv", index=False)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 500)
    print(f"clips: right of {len(clips)}; photos: share of {len(photos)} right (no face = wrong); val: accuracy on "
          f"the pasted FER2013 val faces the detector found (of {len(val_images)})")
    default = table[(table.smooth == 0.5) & (table.answer == "share") & (table.faces == "all")]
    print("\nCrop rules (answer: share of frames over all faces, smooth 0.5 s):")
    print(default[["detector", "crop", "clips", "photos", "val", "val_found", "sharpness"]].to_string(index=False))
    print("\nAnswer rules (mean over crop rules and detectors):")
    print(table.groupby(["smooth", "answer", "faces"])[["clips", "photos"]].mean().round(3).to_string())
    print("\nAll rows:")
    print(table.round(4).to_string(index=False))


if __name__ == "__main__":
    main()
