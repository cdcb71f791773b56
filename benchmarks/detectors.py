"""Measure the face detectors: on the sample clips (share of frames with a face, false alarms, ms per frame), on
close faces made from the dev material (faces found, ms per frame, right answers), on small faces (video-call
galleries and far faces made from the same clips), which face sizes each finds, and BlazeFace through LiteRT (the
product) against the same files through ``cv2.dnn`` (how fervid ran them before).

Run: python benchmarks/detectors.py [--videos FOLDER] [--cache FOLDER] [--skip-engines] [--only-small-faces]
                                    [--looks full:0.7,full:0.5 ...] [--tiles 0.44:0.05:0.125:0.6 ...]
     (about 15 minutes on 2 idle cores; the close-face material is made on the first run)

Every detector of ``DETECTORS``, and the default as it was before it had closer looks at frames without a face or
with one too close (``blazeface-full, one look``), before its short-range look (``blazeface-full, two looks``) and
before its farther look at small faces (``blazeface-full, no farther look``), side by side in one process; frames
are decoded before timing,
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
Small faces (``small_faces``): the sample and dev clips, each letterboxed into its tile, tiled into 1080p galleries of
3x3 to 6x6 (``GALLERIES``; ``GALLERY_FRAMES`` frames, each tile a different clip, clips repeating in the larger
galleries), and far faces: each clip with a face shrunk so that its face box is ``FAR_FACE_PX`` high, pasted into a
1080p frame of the title card (a real picture without a face). A tile-frame (far face: a frame) counts where the
default before its farther look finds a face in the clip's own frame at its own size. Printed per detector: the
share of those with a face found (a box centred in the tile), the share of found boxes that span two tiles (more
than ``SPANNING`` of the box outside the tile its centre falls in), false faces per frame (boxes centred in a tile,
or outside the far face, with no face there), and frames/s. The galleries are also written once into
``--cache``/``small-faces-v1`` (lossless FFV1), so ``fervid analyze`` runs on them too.
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
from fervid.pipeline.detect import (BLAZEFACE, DETECTORS, FRAMING, BlazeFaceDetector, Look, Tiles,
                                    blazeface_anchors, blazeface_input, clip_boxes, cut_faces, decode_blazeface,
                                    make_detector, tflite_path)
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
NEAR_ONLY = "blazeface-full, no farther look"  # the default before its farther look (BlazeFaceSpec.farther_look)
GALLERIES = (3, 4, 5, 6)  # n x n tiles
GALLERY_SIZE, GALLERY_FRAMES = (1920, 1080), 60
# Far faces: the face box's height in the 1080p frame, 1/40, 1/30 and 1/20 of its shorter side; every FAR_EVERY-th
# of a clip's first GALLERY_FRAMES frames.
FAR_FACE_PX, FAR_EVERY = (27, 36, 54), 3
UPSCALED_EVERY = 10  # the sample clips scaled up to 1080p, every 10th frame: what the farther look costs on them
SPANNING = 0.2  # a box with more than this share of its area outside the tile its centre falls in spans two tiles
ENLARGED_PER_CLASS, ENLARGED_SIZE, ENLARGED_SEED = 15, (144, 180), 7
SMOOTH_S = 0.5  # as fervid evaluate --videos
# The framings table: face box height / the frame's shorter side; frames landscape (16:9), square (a face-cropped
# dataset) and portrait (a phone held upright); every 4th dev photo, so Haar's rows take a minute, not four.
FACE_SHARES = (0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
FRAME_SIZES = ((640, 360), (360, 360), (360, 640), (1920, 1080))
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


def parse_tiles(text: str) -> Tiles:
    """``0.44:0.05:0.125:0.6`` -> a farther look at that scale, overlap, "small" share and least score (``Tiles``),
    the default's ``min_gain``."""
    scale, overlap, small, min_score = (float(part) for part in text.split(":"))
    return Tiles(scale, overlap, BLAZEFACE["blazeface-full"].farther_look.min_gain, small, min_score)


def detectors(variants: tuple[str, ...] = (), tiles: tuple[str, ...] = ()) -> dict:
    """Every detector by name, after the default as it was before its closer looks, before its short-range look and
    before its farther look; then the default with each of ``variants`` as its closer looks (``parse_looks``) and
    each of ``tiles`` as its farther look (``parse_tiles``), to compare."""
    full = BLAZEFACE["blazeface-full"]
    found = {BEFORE: BlazeFaceDetector("blazeface-full", closer_looks=False, farther_look=False),
             TWO_LOOKS: BlazeFaceDetector("blazeface-full", closer_looks=full.closer_looks[:1], farther_look=False),
             NEAR_ONLY: BlazeFaceDetector("blazeface-full", farther_look=False)}
    found |= {name: make_detector(name) for name in DETECTORS}
    for variant in variants:
        found[f"blazeface-full, closer looks {variant}"] = BlazeFaceDetector("blazeface-full", parse_looks(variant))
    for variant in tiles:
        found[f"blazeface-full, farther look {variant}"] = BlazeFaceDetector("blazeface-full",
                                                                             farther_look=parse_tiles(variant))
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


def close_faces(sets: dict[str, list], classifier, compare: dict) -> None:
    """Faces found (photos: share of photos with a face; clips: share of frames), right answers, ms per frame."""
    print("\nClose faces. found: share of photos (clips: of frames) with a face; right: answers right (no face = "
          "wrong); ms/frame over every set")
    print("| detector | " + " | ".join(f"{name} found / right" for name in sets) + " | ms/frame | x before |")
    print("| --- |" + " --- |" * (len(sets) + 2))
    speeds = {}
    for name, detector in detectors(**compare).items():
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


def framings(photos: list, compare: dict) -> None:
    """Which face sizes each detector finds: dev photos placed in landscape, square and portrait frames, the face box
    at each share of the frame's shorter side (1.0: the face fills the frame's height, or its width)."""
    photos = photos[::FRAMING_PHOTOS_EVERY]
    reference = BlazeFaceDetector("blazeface-full", closer_looks=False)
    boxes = [best_box(reference.detect(frames[0])) for _, _, frames, _ in photos]
    print(f"\nFramings covered: share of {len(photos)} dev photos (every {FRAMING_PHOTOS_EVERY}th) with a face found, "
          "the face box placed at this share of the frame's shorter side")
    print("| detector | frame | " + " | ".join(f"{share:g}" for share in FACE_SHARES) + " |")
    print("| --- | --- |" + " --- |" * len(FACE_SHARES))
    for width, height in FRAME_SIZES:
        frames = {share: [placed(p[2][0], box, share, (width, height)) for p, box in zip(photos, boxes)]
                  for share in FACE_SHARES}
        for name, detector in detectors(**compare).items():
            found, _ = run(detector, frames)
            print(f"| {name} | {width}x{height} | " + " | ".join(f"{share_with_faces(f):.2f}" for f in found) + " |")


def sample_clips(clips: dict[str, list], compare: dict) -> None:
    print("Sample clips: share of frames with a face (no_face_title_card: false alarms)")
    print("| detector | " + " | ".join(clips) + " | ms/frame | x before |")
    print("| --- |" + " --- |" * (len(clips) + 2))
    speeds = {}
    for name, detector in detectors(**compare).items():
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


# --- small faces: video-call galleries and far faces made from the sample and dev clips -----------------------

def gallery_sources(clips: dict[str, list]) -> dict[str, list[np.ndarray]]:
    """The sample clips and the dev clips, each its first ``GALLERY_FRAMES`` frames (a shorter clip repeats)."""
    sources = dict(clips) | {Path(row.file).name: decode(DATA / "labelled-video" / row.file)[0]
                             for row in pd.read_csv(DATA / "labelled-video" / "labels.csv").itertuples()}
    return {name: [frames[t % len(frames)] for t in range(GALLERY_FRAMES)] for name, frames in sources.items()}


def paste(canvas: np.ndarray, frame: np.ndarray, rect: tuple[int, int, int, int]) -> None:
    """``frame`` scaled into ``rect`` (x, y, w, h) of ``canvas``."""
    x, y, w, h = rect
    canvas[y:y + h, x:x + w] = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)


def letterboxed(frame: np.ndarray, tile: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Where ``frame`` lies, kept whole and centred, in ``tile`` (x, y, w, h)."""
    x, y, w, h = tile
    scale = min(w / frame.shape[1], h / frame.shape[0])
    width, height = round(frame.shape[1] * scale), round(frame.shape[0] * scale)
    return x + (w - width) // 2, y + (h - height) // 2, width, height


def gallery(n: int, first: int) -> tuple[list[tuple[int, int, int, int]], list[int]]:
    """The n x n tiles (x, y, w, h) of a ``GALLERY_SIZE`` frame, row by row, and the source shown in each (from
    ``first`` on, in turn)."""
    width, height = GALLERY_SIZE[0] // n, GALLERY_SIZE[1] // n
    tiles = [(col * width, row * height, width, height) for row in range(n) for col in range(n)]
    return tiles, list(range(first, first + n * n))


def far_faces(sources: dict, boxes: dict[str, float], background: np.ndarray) -> dict[int, tuple[list, list]]:
    """Per ``FAR_FACE_PX``: frames (every ``FAR_EVERY``-th of each clip with a face, the clip shrunk so its median
    face box is that high, pasted at a seeded place into ``background``) and, per frame, (source, t, rect)."""
    rng, sets = np.random.default_rng(0), {}
    for px in FAR_FACE_PX:
        frames, where = [], []
        for name, height in boxes.items():
            first = sources[name][0]
            scale = px / height
            w, h = round(first.shape[1] * scale), round(first.shape[0] * scale)
            rect = (int(rng.integers(0, GALLERY_SIZE[0] - w)), int(rng.integers(0, GALLERY_SIZE[1] - h)), w, h)
            for t in range(0, GALLERY_FRAMES, FAR_EVERY):
                frame = background.copy()
                paste(frame, sources[name][t], rect)
                frames.append(frame)
                where.append((name, t, rect))
        sets[px] = (frames, where)
    return sets


def tile_scores(found: list, layouts: list[list[tuple[str, int, tuple]]], has_face: dict) -> np.ndarray:
    """Per frame's (source, t, rect) regions: counts (regions with a face, of them found, boxes, boxes spanning two
    regions, false boxes). A box belongs to the region its centre falls in; outside every region it is false."""
    counts = np.zeros(5)
    for (boxes, _, _), regions in zip(found, layouts):
        rects = np.array([rect for *_, rect in regions], float).reshape(-1, 4)
        faces = np.array([has_face[name][t] for name, t, _ in regions], bool)
        centres = boxes[:, :2] + boxes[:, 2:] / 2
        low_corner, high_corner = rects[None, :, :2], rects[None, :, :2] + rects[None, :, 2:]
        inside = ((centres[:, None] >= low_corner) & (centres[:, None] < high_corner)).all(axis=2)
        owner = np.where(inside.any(axis=1), inside.argmax(axis=1), -1)
        low = np.maximum(boxes[:, :2], rects[owner, :2])
        high = np.minimum(boxes[:, :2] + boxes[:, 2:], rects[owner, :2] + rects[owner, 2:])
        outside = 1 - np.clip(high - low, 0, None).prod(axis=1) / np.maximum(boxes[:, 2:].prod(axis=1), 1e-9)
        real = (owner >= 0) & faces[owner]
        counts += [faces.sum(), len(set(owner[real])), len(boxes), (real & (outside > SPANNING)).sum(), (~real).sum()]
    return counts


def small_faces(clips: dict[str, list], cache: Path, compare: dict) -> None:
    """Galleries and far faces (module docstring): found, spanning, false faces per frame, frames/s per detector."""
    sources = gallery_sources(clips)
    reference = BlazeFaceDetector("blazeface-full", farther_look=False)  # today's default, at the clip's own size
    seen = {name: [reference.detect(frame) for frame in frames] for name, frames in sources.items()}
    has_face = {name: [len(boxes) > 0 for boxes, _, _ in found] for name, found in seen.items()}
    names, sets, first = list(sources), {}, 0
    for n in GALLERIES:
        tiles, shown = gallery(n, first)
        first += n * n
        layout = [(names[k % len(names)], tile) for k, tile in zip(shown, tiles)]
        frames, layouts = [], []
        for t in range(GALLERY_FRAMES):
            frame = np.zeros((GALLERY_SIZE[1], GALLERY_SIZE[0], 3), np.uint8)
            regions = []
            for name, tile in layout:
                paste(frame, sources[name][t], letterboxed(sources[name][t], tile))
                regions.append((name, t, tile))
            frames.append(frame)
            layouts.append(regions)
        sets[f"{n}x{n}"] = (frames, layouts)
    write_galleries(cache / "small-faces-v1", {name: frames for name, (frames, _) in sets.items()})
    median_box = {name: float(np.median([boxes[np.argmax(scores), 3] for boxes, scores, _ in found if len(boxes)]))
                  for name, found in seen.items() if sum(has_face[name]) > len(found) / 2}
    background = cv2.resize(clips["no_face_title_card.mp4"][0], GALLERY_SIZE, interpolation=cv2.INTER_LINEAR)
    for px, (frames, where) in far_faces(sources, median_box, background).items():
        sets[f"far {px} px"] = (frames, [[region] for region in where])
    print(f"\nSmall faces: {len(sources)} sample and dev clips in 1080p galleries ({GALLERY_FRAMES} frames) and far "
          f"(the face box {', '.join(map(str, FAR_FACE_PX))} px high in a 1080p frame); found: share of tile-frames "
          f"with a face where one is found in the tile; spanning: share of found faces whose box spans two tiles; "
          f"false: boxes in no face's tile, per frame; 1080p sample clips: every {UPSCALED_EVERY}th frame of the "
          "sample clips scaled up to 1080p, share with a face and ms/frame")
    upscaled = {name: [cv2.resize(frame, (round(frame.shape[1] * 1080 / frame.shape[0]), 1080))
                       for frame in frames[::UPSCALED_EVERY]] for name, frames in clips.items()}
    print("| detector | " + " | ".join(f"{name} found" for name in sets)
          + " | galleries spanning | galleries false/frame | far false/frame | galleries frames/s | far frames/s"
          + " | 1080p sample clips with a face | 1080p sample clips ms/frame |")
    print("| --- |" + " --- |" * (len(sets) + 7))
    rows = {name: d for name, d in detectors(**compare).items()
            if name in (NEAR_ONLY, "blazeface-full") or "farther look" in name}
    for name, detector in rows.items():
        scores, speeds = {}, []
        for kind in ("galleries", "far"):  # timed apart
            chosen = {key: value for key, value in sets.items() if (kind == "far") == key.startswith("far")}
            found, ms = run(detector, {key: frames for key, (frames, _) in chosen.items()})
            scores |= {key: tile_scores(per_set, layouts, has_face)
                       for (key, (_, layouts)), per_set in zip(chosen.items(), found)}
            speeds.append(1000 / ms)
        found, ms = run(detector, upscaled)
        with_face = np.mean([len(boxes) > 0 for per_clip in found for boxes, _, _ in per_clip])
        galleries = sum(scores[f"{n}x{n}"] for n in GALLERIES)
        far = sum(value for key, value in scores.items() if key.startswith("far"))
        print(f"| {name} | " + " | ".join(f"{value[1] / value[0]:.3f}" for value in scores.values())
              + f" | {galleries[3] / max(galleries[2] - galleries[4], 1):.4f}"
              + f" | {galleries[4] / (GALLERY_FRAMES * len(GALLERIES)):.3f}"
              + f" | {far[4] / sum(len(frames) for key, (frames, _) in sets.items() if key.startswith('far')):.3f}"
              + f" | {speeds[0]:.1f} | {speeds[1]:.1f} | {with_face:.3f} | {ms:.1f} |")


def write_galleries(folder: Path, galleries: dict[str, list[np.ndarray]]) -> None:
    """The galleries as lossless 1080p videos (``gallery-NxN.mkv``), once, so ``fervid analyze`` runs on them."""
    if folder.is_dir():
        return
    write_set(folder, [(f"gallery-{name}", "", frames, 30.0) for name, frames in galleries.items()])


def main() -> None:
    from fervid.model.predict import make_classifier
    from fervid.model.tflite import cache_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=DATA / "videos", help="the sample clips")
    parser.add_argument("--cache", type=Path, default=None, help="close-face and gallery material (made once)")
    parser.add_argument("--skip-engines", action="store_true", help="leave out cv2.dnn against LiteRT")
    parser.add_argument("--looks", action="append", default=[],
                        help="closer looks of the default to compare, e.g. full:0.7,full:0.5 (repeatable)")
    parser.add_argument("--tiles", action="append", default=[],
                        help="farther looks of the default to compare, SCALE:OVERLAP:SMALL:MIN_SCORE (Tiles), repeatable")
    parser.add_argument("--only-small-faces", action="store_true", help="only the galleries and far faces")
    args = parser.parse_args()
    compare = dict(variants=tuple(args.looks), tiles=tuple(args.tiles))
    cache = args.cache or cache_dir() / "close-faces-v1"

    clips = {Path(path).name: decode(Path(path))[0] for path in list_videos([args.videos])}
    small_faces(clips, cache, compare)
    if args.only_small_faces:
        return
    sample_clips(clips, compare)
    make_close_faces(cache)
    make_enlarged_faces(cache)
    sets = {"photos": load_set(DATA / "labelled-faces")}
    sets |= {f"photos cut {round(100 * m)}%": load_set(cache / f"photos-cut-{round(100 * m):02d}") for m in CUT_MARGINS}
    sets["fer2013-enlarged"] = load_set(cache / "fer2013-enlarged")
    sets["clips"] = load_set(DATA / "labelled-video")
    sets |= {f"clips cut {round(100 * m)}%": load_set(cache / f"clips-cut-{round(100 * m):02d}") for m in CUT_MARGINS}
    close_faces(sets, make_classifier(None, "litert-int8"), compare)
    framings(sets["photos"], compare)
    if not args.skip_engines:
        engines(clips)


if __name__ == "__main__":
    main()
