"""Measure the face detectors: on the sample clips (share of frames with a face, false alarms, ms per frame), on
close faces made from the dev material (faces found, ms per frame, right answers), which face sizes each finds,
and BlazeFace through LiteRT (the product) against the same files through ``cv2.dnn`` (how fervid ran them before).

Run: python benchmarks/detectors.py [--videos FOLDER] [--cache FOLDER] [--skip-engines]
                                    [--looks full:0.7,full:0.5 ...]
     (about 10 minutes on 2 idle cores; the close-face material is made on the first run)

Every detector of ``DETECTORS``, and the default as it was before it had closer looks at frames without a face or
with one too close (``blazeface-full, one look``) and before its short-range look (``blazeface-full, two looks``),
side by side in one process; frames are decoded before timing,
so only detection is timed. The engine comparison alternates the engines over ``ROUNDS`` rounds and reports
medians; the two engines share the input (``blazeface_input``), the decoding, the threshold and NMS
(``fervid.pipeline.detect``); only the network differs.

Close faces (webcam close-ups, face-cropped datasets): the dev photos (``labelled-faces``, 280 KDEF portraits) and
dev clips (``labelled-video``, 12 clips) cut to the face box of the default detector's first look (the best box of
a photo; for a clip one box, the median of its frames' best boxes) grown by 0%, 10% and 25% on every side, written
once into ``--cache`` (default ``$FERVID_CACHE/close-faces-v1``; photos as PNG, clips as lossless FFV1 ``.mkv``),
each set with a ``labels.csv``, so ``fervid evaluate --videos CACHE/photos-cut-00/labels.csv`` scores it through the
product too. Beside them, as face-cropped datasets ship faces (SFEW 2.0's aligned faces: 143x181, the face filling
the image), ``ENLARGED_PER_CLASS`` FER2013 val faces a class enlarged to ``ENLARGED_SIZE`` (``fer2013-enlarged``).
Answers go through the product's path: ``cut_faces`` (the detector's boxes cut with its FRAMING, turned level),
the int8 classifier, and ``video_answers`` (share of frames, smoothed 0.5 s), the answer of
``fervid evaluate --videos``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fervid.model.labels import FER2013_LABELS
from fervid.pipeline.detect import (BLAZEFACE, DETECTORS, FRAMING, BlazeFaceDetector, Look, blazeface_anchors,
                                    blazeface_input, clip_boxes, cut_faces, decode_blazeface, make_detector,
                                    tflite_path)
from fervid.pipeline.sources import list_videos
from fervid.pipeline.summary import prepare, video_answers
from fervid.pipeline.video import probe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_accuracy import decode  # noqa: E402  (frames and times, opened as the product opens them)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
ROUNDS = 3
CUT_MARGINS = (0.0, 0.10, 0.25)  # around the face box, a share of its width and height on every side
BEFORE = "blazeface-full, one look"  # the default as it was: no closer look (BlazeFaceSpec.closer_looks)
TWO_LOOKS = "blazeface-full, two looks"  # the default before its short-range look
ENLARGED_PER_CLASS, ENLARGED_SIZE, ENLARGED_SEED = 15, (144, 180), 7
SMOOTH_S = 0.5  # as fervid evaluate --videos
# The framings table: face box height / the frame's shorter side; frames landscape (16:9), square (a face-cropped
# dataset) and portrait (a phone held upright); every 4th dev photo, so Haar's rows take a minute, not four.
FACE_SHARES = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
FRAME_SIZES = ((640, 360), (360, 360), (360, 640))
FRAMING_PHOTOS_EVERY = 4


class Cv2DnnBlazeFace:
    """The detector before LiteRT: the same ``.tflite`` run by ``cv2.dnn`` (one thread, as the product's)."""

    def __init__(self, name: str):
        self.spec = BLAZEFACE[name]
        self.net = cv2.dnn.readNetFromTFLite(str(tflite_path(self.spec.file_name)))
        self.anchors = blazeface_anchors(self.spec)

    def detect(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rgb, side, corner = blazeface_input(frame_bgr, self.spec.input_size)
        self.net.setInput(cv2.dnn.blobFromImage(rgb, 1 / 127.5, mean=(127.5,) * 3))
        outputs = [np.asarray(o).reshape(len(self.anchors), -1)
                   for o in self.net.forward(self.net.getUnconnectedOutLayersNames())]
        raw_boxes = next(o for o in outputs if o.shape[1] == 16)
        raw_scores = next(o for o in outputs if o.shape[1] == 1)[:, 0]
        return decode_blazeface(raw_boxes, raw_scores, self.anchors, self.spec.input_size, side, corner)


def run(detector, clips: dict[str, list]) -> tuple[list[list], float]:
    """Each clip's detections (boxes, scores, keypoints) frame by frame, and ms per frame over all clips."""
    detector.detect(next(iter(clips.values()))[0])  # the first call allocates: not timed
    found, seconds = [], 0.0
    for images in clips.values():
        started = time.perf_counter()
        found.append([detector.detect(image) for image in images])
        seconds += time.perf_counter() - started
    return found, 1000 * seconds / sum(len(images) for images in clips.values())


def share_with_faces(found: list) -> float:
    return sum(len(boxes) > 0 for boxes, _, _ in found) / len(found)


def parse_looks(text: str) -> tuple[Look, ...]:
    """``full:0.7,short:0.8`` -> closer looks of blazeface-full then blazeface-short at those fills."""
    looks = []
    for item in text.split(","):
        model, fill = item.split(":")
        looks.append(Look(f"blazeface-{model}", float(fill)))
    return tuple(looks)


def detectors(variants: tuple[str, ...] = ()) -> dict:
    """Every detector by name, after the default as it was before its closer looks and before its short-range look;
    then the default with each of ``variants`` as its closer looks (``parse_looks``), to compare."""
    full = BLAZEFACE["blazeface-full"]
    found = {BEFORE: BlazeFaceDetector("blazeface-full", closer_looks=False),
             TWO_LOOKS: BlazeFaceDetector("blazeface-full", closer_looks=full.closer_looks[:1])}
    found |= {name: make_detector(name) for name in DETECTORS}
    for variant in variants:
        found[f"blazeface-full, closer looks {variant}"] = BlazeFaceDetector("blazeface-full", parse_looks(variant))
    return found


def framing(name: str):
    """The FRAMING of a row of ``detectors``: its detector's."""
    return FRAMING[name.split(",")[0]]


# --- close faces: the dev material cut to the face box ----------------------------------------------------------

def best_box(found) -> np.ndarray | None:
    boxes, scores, _ = found
    return boxes[int(np.argmax(scores))] if len(boxes) else None


def cut(frame: np.ndarray, box: np.ndarray, margin: float) -> np.ndarray:
    """The frame cut to ``box`` grown by ``margin`` on every side, clipped to the frame, trimmed to even sides (video
    codecs want them)."""
    x, y, w, h = clip_boxes(box[None], frame.shape[1], frame.shape[0], margin)[0]
    return frame[y:y + h - h % 2, x:x + w - w % 2]


def write_set(folder: Path, rows: list[tuple[str, str, list[np.ndarray], float]]) -> None:
    """Files (one image: PNG; more: FFV1 .mkv at ``fps``) and their labels.csv, into ``folder`` via a temporary
    name, so a set that exists is complete."""
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    names = []
    for stem, label, frames, fps in rows:
        if len(frames) == 1:
            names.append(f"{stem}.png")
            cv2.imwrite(str(partial / names[-1]), frames[0])
            continue
        names.append(f"{stem}.mkv")
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(partial / names[-1]), cv2.VideoWriter_fourcc(*"FFV1"), fps, (width, height))
        for frame in frames:
            writer.write(frame)
        writer.release()
    pd.DataFrame(dict(file=names, label=[row[1] for row in rows])).to_csv(partial / "labels.csv", index=False)
    partial.rename(folder)


def make_close_faces(cache: Path) -> None:
    """``photos-cut-NN`` and ``clips-cut-NN`` under ``cache`` (NN: the margin in %), unless they are there."""
    wanted = [m for m in CUT_MARGINS if not all((cache / f"{kind}-cut-{round(100 * m):02d}").is_dir()
                                                for kind in ("photos", "clips"))]
    if not wanted:
        return
    print(f"making the close-face material in {cache} (once)", file=sys.stderr)
    reference = BlazeFaceDetector("blazeface-full", closer_looks=False)  # the first look's box on the full image
    for kind, folder in (("photos", DATA / "labelled-faces"), ("clips", DATA / "labelled-video")):
        items = []
        for row in pd.read_csv(folder / "labels.csv").itertuples():
            frames, _ = decode(folder / row.file)
            boxes = [box for box in (best_box(reference.detect(frame)) for frame in frames) if box is not None]
            if boxes:  # the default finds a face in every dev photo and clip
                fps = probe(str(folder / row.file)).fps
                items.append((Path(row.file).stem, row.label, frames, np.median(boxes, axis=0), fps))
        for margin in wanted:
            write_set(cache / f"{kind}-cut-{round(100 * margin):02d}",
                      [(stem, label, [cut(f, box, margin) for f in frames], fps)
                       for stem, label, frames, box, fps in items])


def make_enlarged_faces(cache: Path) -> None:
    """``fer2013-enlarged`` under ``cache``, unless it is there: ``ENLARGED_PER_CLASS`` FER2013 val faces of each
    label (drawn with ``ENLARGED_SEED``) enlarged to ``ENLARGED_SIZE``, saved as PNG."""
    folder = cache / "fer2013-enlarged"
    if folder.is_dir():
        return
    rng, rows = np.random.default_rng(ENLARGED_SEED), []
    for label in FER2013_LABELS:
        files = sorted((DATA / "fer2013" / "val" / label).glob("*.jpg"))
        for path in rng.choice(files, ENLARGED_PER_CLASS, replace=False):
            gray = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), ENLARGED_SIZE, interpolation=cv2.INTER_CUBIC)
            rows.append((f"{label}_{path.stem}", label, [cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)], 0.0))
    write_set(folder, rows)


def load_set(folder: Path) -> list[tuple[str, str, list[np.ndarray], list[float]]]:
    """(file, label, frames, times) of every file of a labels.csv, decoded as the product decodes it."""
    rows = pd.read_csv(folder / "labels.csv").itertuples()
    return [(row.file, row.label, *decode(folder / row.file)) for row in rows]


def answers(name: str, items: list, found: list[list], classifier) -> pd.Series:
    """Each file's answer as ``fervid evaluate --videos`` gives it (files without a face are missing)."""
    tables, crops = [], []
    for (file, _, frames, times), per_frame in zip(items, found):
        for index, (frame, detections) in enumerate(zip(frames, per_frame)):
            faces = cut_faces(frame, detections, framing(name))
            if len(faces.boxes):
                crops.append(faces.crops)
                tables.append(pd.DataFrame(dict(
                    video_id=file, video_path=file, frame_index=index, timestamp_s=times[index],
                    face_index=np.arange(len(faces.boxes), dtype=np.int32), x=faces.boxes[:, 0],
                    y=faces.boxes[:, 1], w=faces.boxes[:, 2], h=faces.boxes[:, 3], det_score=faces.scores)))
    if not tables:
        return pd.Series(dtype=object)
    timeline = pd.concat(tables, ignore_index=True)
    timeline[list(FER2013_LABELS)] = classifier.predict(np.concatenate(crops))
    return video_answers(prepare(timeline, SMOOTH_S))


def close_faces(sets: dict[str, list], classifier, variants: tuple[str, ...]) -> None:
    """Faces found (photos: share of photos with a face; clips: share of frames), right answers, ms per frame."""
    print("\nClose faces. found: share of photos (clips: of frames) with a face; right: answers right (no face = "
          "wrong); ms/frame over every set")
    print("| detector | " + " | ".join(f"{name} found / right" for name in sets) + " | ms/frame | x before |")
    print("| --- |" + " --- |" * (len(sets) + 2))
    speeds = {}
    for name, detector in detectors(variants).items():
        found, speeds[name] = run(detector, {set_name: [f for item in items for f in item[2]]
                                             for set_name, items in sets.items()})
        cells = []
        for (set_name, items), per_set in zip(sets.items(), found):
            bounds = np.cumsum([0] + [len(item[2]) for item in items])
            given = answers(name, items, [per_set[a:b] for a, b in zip(bounds[:-1], bounds[1:])], classifier)
            right = sum(given.get(file) == label for file, label, *_ in items)
            cells.append(f"{share_with_faces(per_set):.3f} / {right} of {len(items)}")
        print(f"| {name} | " + " | ".join(cells) + f" | {speeds[name]:.2f} | {speeds[name] / speeds[BEFORE]:.2f}x |")


def placed(photo: np.ndarray, box: np.ndarray, face_share: float, size: tuple[int, int]) -> np.ndarray:
    """A frame of ``size`` (width, height) with the photo scaled so that the face box is ``face_share`` of the
    frame's shorter side, the box centred, the photo's edges repeated beyond it."""
    width, height = size
    scale = face_share * min(size) / box[3]
    centre = box[:2] + box[2:] / 2
    matrix = np.array([[scale, 0, width / 2 - scale * centre[0]], [0, scale, height / 2 - scale * centre[1]]])
    return cv2.warpAffine(photo, matrix, size, flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def framings(photos: list, variants: tuple[str, ...]) -> None:
    """Which face sizes each detector finds: dev photos placed in landscape, square and portrait frames, the face box
    at each share of the frame's shorter side (1.0: the face fills the frame's height, or its width)."""
    photos = photos[::FRAMING_PHOTOS_EVERY]
    reference = BlazeFaceDetector("blazeface-full", closer_looks=False)
    boxes = [best_box(reference.detect(frames[0])) for _, _, frames, _ in photos]
    print(f"\nFramings covered: share of {len(photos)} dev photos (every {FRAMING_PHOTOS_EVERY}th) with a face found, "
          "the face box placed at this share of the frame's shorter side")
    print("| detector | frame | " + " | ".join(f"{share:.2f}" for share in FACE_SHARES) + " |")
    print("| --- | --- |" + " --- |" * len(FACE_SHARES))
    for width, height in FRAME_SIZES:
        frames = {share: [placed(p[2][0], box, share, (width, height)) for p, box in zip(photos, boxes)]
                  for share in FACE_SHARES}
        for name, detector in detectors(variants).items():
            found, _ = run(detector, frames)
            print(f"| {name} | {width}x{height} | " + " | ".join(f"{share_with_faces(f):.2f}" for f in found) + " |")


def sample_clips(clips: dict[str, list], variants: tuple[str, ...]) -> None:
    print("Sample clips: share of frames with a face (no_face_title_card: false alarms)")
    print("| detector | " + " | ".join(clips) + " | ms/frame | x before |")
    print("| --- |" + " --- |" * (len(clips) + 2))
    speeds = {}
    for name, detector in detectors(variants).items():
        found, speeds[name] = run(detector, clips)
        print(f"| {name} | " + " | ".join(f"{share_with_faces(f):.3f}" for f in found)
              + f" | {speeds[name]:.2f} | {speeds[name] / speeds[BEFORE]:.2f}x |")


def engines(clips: dict[str, list]) -> None:
    print("\n| BlazeFace, one look | cv2.dnn ms/frame | LiteRT ms/frame | LiteRT / cv2.dnn |")
    print("| --- | --- | --- | --- |")
    cv2.setNumThreads(1)  # one thread, as the product's LiteRT interpreters (after the Haar rows: it uses threads)
    for name in BLAZEFACE:
        # Rounds that alternate the engines, so a change in the machine's speed (a shared host) hits both alike.
        rounds = [(run(Cv2DnnBlazeFace(name), clips)[1], run(BlazeFaceDetector(name, closer_looks=False), clips)[1])
                  for _ in range(ROUNDS)]
        old, new = (float(np.median(times)) for times in zip(*rounds))
        ratio = float(np.median([lite / dnn for dnn, lite in rounds]))
        print(f"| {name} | {old:.2f} | {new:.2f} | {ratio:.2f}x |")


def main() -> None:
    from fervid.model.predict import make_classifier
    from fervid.model.tflite import cache_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=DATA / "videos", help="the sample clips")
    parser.add_argument("--cache", type=Path, default=None, help="close-face material (made once)")
    parser.add_argument("--skip-engines", action="store_true", help="leave out cv2.dnn against LiteRT")
    parser.add_argument("--looks", action="append", default=[],
                        help="closer looks of the default to compare, e.g. full:0.7,full:0.5 (repeatable)")
    args = parser.parse_args()
    variants = tuple(args.looks)
    cache = args.cache or cache_dir() / "close-faces-v1"

    clips = {Path(path).name: decode(Path(path))[0] for path in list_videos([args.videos])}
    sample_clips(clips, variants)
    make_close_faces(cache)
    make_enlarged_faces(cache)
    sets = {"photos": load_set(DATA / "labelled-faces")}
    sets |= {f"photos cut {round(100 * m)}%": load_set(cache / f"photos-cut-{round(100 * m):02d}") for m in CUT_MARGINS}
    sets["fer2013-enlarged"] = load_set(cache / "fer2013-enlarged")
    sets["clips"] = load_set(DATA / "labelled-video")
    sets |= {f"clips cut {round(100 * m)}%": load_set(cache / f"clips-cut-{round(100 * m):02d}") for m in CUT_MARGINS}
    close_faces(sets, make_classifier(None, "litert-int8"), variants)
    framings(sets["photos"], variants)
    if not args.skip_engines:
        engines(clips)


if __name__ == "__main__":
    main()
