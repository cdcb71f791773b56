"""Detection on every K-th frame (``--detect-every K``) against detecting every frame: the same faces, where they are,
the answers, the tracks and the detector's time.

Run: python benchmarks/keyframes.py [--every 2,3,4,6,default]   (about 5 minutes on 2 idle cores; ``default``: the
detector about every ``DETECT_INTERVAL_S`` as ``fervid analyze`` runs it, K from each clip's frame rate)

Over the sample clips and the dev clips (``labelled-video``), decoded once, in one process:
- *faces kept*: of the faces found by detecting every frame, the share with a carried face on the same frame
  (IoU >= 0.5); *extra*: carried faces with no detected face there, per 100 detected;
- *IoU*: median and 5th percentile of the best overlap of each detected face with the carried ones;
- *tracks*: ``assign_tracks`` over the sample clips' rows: tracks, and tracks shorter than 0.5 s (fragments);
- *dev clips right*: the answer of ``fervid evaluate --videos`` (crops cut by the product's ``cut_faces``, int8
  classifier, share of frames smoothed 0.5 s) on the 12 dev clips, and how many answers changed;
- *pasted faces*: ``benchmarks/tracks.py``'s clips with known identities (faces crossing, leaving, hidden):
  fragments and switches of the tracks;
- *detector ms/frame*: the detector's time over every frame (the rest of the pipeline costs the same);
- *across cuts*: each sample clip's last second joined to the next clip's first (a cut, 7 of them, scaled to one
  size): detected faces not kept within a second of the cut, with the shot-change check and without it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fervid.pipeline import keyframes
from fervid.pipeline.detect import DEFAULT_DETECTOR, FRAMING, cut_faces, make_detector
from fervid.pipeline.keyframes import DETECT_INTERVAL_S, box_iou, detections_per_frame, keyframe_step
from fervid.pipeline.sources import list_videos
from fervid.pipeline.track_eval import LONG_GAP, SCENARIOS, score_tracks
from fervid.pipeline.tracks import assign_tracks
from fervid.pipeline.video import Frame

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detectors import DATA, answers, load_set  # noqa: E402
from tracks import FPS, face_crops, true_id, write_clip  # noqa: E402
from video_accuracy import decode  # noqa: E402

SHORT_TRACK_S = 0.5


class Timed:
    """The detector, timing its calls."""

    def __init__(self, detector):
        self.detector, self.seconds = detector, 0.0

    def __call__(self, image):
        started = time.perf_counter()
        found = self.detector.detect(image)
        self.seconds += time.perf_counter() - started
        return found


def carried(detect, images: list[np.ndarray], times: list[float], every: int | None) -> list:
    """Each frame's faces with the detector on every ``every``-th frame (None: ``fervid analyze``'s default, K from
    the clip's frame rate)."""
    frames = [Frame.from_bgr(i, t, image) for i, (image, t) in enumerate(zip(images, times))]
    fps = 1 / float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    return [found for _, found, _ in detections_per_frame(frames, detect, keyframe_step(every, fps))]


def rows(name: str, images: list, times: list, found: list) -> pd.DataFrame:
    """Timeline-like rows of one clip's faces (as ``cut_faces`` clips and orders them)."""
    parts = []
    for index, (image, detections) in enumerate(zip(images, found)):
        boxes = cut_faces(image, detections, FRAMING[DEFAULT_DETECTOR]).boxes
        parts += [dict(video_id=name, frame_index=index, timestamp_s=times[index], x=x, y=y, w=w, h=h)
                  for x, y, w, h in boxes]
    return pd.DataFrame(parts, columns=["video_id", "frame_index", "timestamp_s", "x", "y", "w", "h"])


def compare(reference: list[list], given: list[list]) -> dict:
    """Faces kept, extra faces, IoU of detected faces with carried ones (over every clip's frames)."""
    best, extra, total = [], 0, 0
    for clip_reference, clip_given in zip(reference, given):
        for (ref_boxes, *_), (boxes, *_) in zip(clip_reference, clip_given):
            iou = box_iou(ref_boxes, boxes)
            best += list(iou.max(axis=1)) if iou.size else [0.0] * len(ref_boxes)
            extra += int((iou.max(axis=0) < 0.5).sum()) if iou.size else len(boxes)
            total += len(ref_boxes)
    best = np.array(best)
    return dict(kept=float((best >= 0.5).mean()), extra=100 * extra / max(total, 1),
                median=float(np.median(best)), p5=float(np.percentile(best, 5)))


def pasted_tracks(every: int | None, detector, crops) -> tuple[int, int]:
    """Fragments and switches over benchmarks/tracks.py's pasted-face clips."""
    fragments = switches = 0
    with tempfile.TemporaryDirectory() as temporary:
        for number, faces in enumerate({**SCENARIOS, "one-second gap": LONG_GAP}.values()):
            clip = Path(temporary) / f"{number}.mp4"
            write_clip(clip, faces, crops)
            images, _ = decode(clip)
            times = [i / FPS for i in range(len(images))]
            table = rows("clip", images, times, carried(detector.detect, images, times, every))
            table["true_id"] = [true_id(faces, row.timestamp_s, (row.x, row.y, row.w, row.h))
                                for row in table.itertuples()]
            score = score_tracks(assign_tracks(table[table["true_id"] >= 0]))
            fragments, switches = fragments + score.fragments, switches + score.switches
    return fragments, switches


def joined_at_cuts(sample: dict) -> list[tuple[list, list]]:
    """Each sample clip's last second followed by the next clip's first (in name order, the last by the first),
    the first clip's frames scaled to the second's size: one cut in the middle of each."""
    import cv2

    clips = [images for images, _ in sample.values()]
    joined = []
    for before, after in zip(clips, clips[1:] + clips[:1]):
        size = after[0].shape[1::-1]
        images = [cv2.resize(image, size) for image in before[-30:]] + after[:30]
        joined.append((images, [i / 30 for i in range(len(images))]))
    return joined


def lost_across_cuts(detect, joined: list, reference: list, every: int | None, check: bool) -> int:
    """Faces of ``reference`` (detected in every frame of the joined clips) not kept (IoU < 0.5) by detection every
    ``every`` frames."""
    saved = keyframes.SHOT_CHANGE
    keyframes.SHOT_CHANGE = saved if check else float("inf")
    try:
        given = [carried(detect, images, times, every) for images, times in joined]
    finally:
        keyframes.SHOT_CHANGE = saved
    return round((1 - compare(reference, given)["kept"]) * faces_in(reference))


def faces_in(found: list[list]) -> int:
    return sum(len(detections[0]) for clip in found for detections in clip)


def main() -> None:
    from fervid.model.predict import make_classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", default="2,3,4,6,default",
                        help="comma-separated K to compare with K = 1; default: fervid analyze's default")
    args = parser.parse_args()
    settings = [1, *(None if k == "default" else int(k) for k in args.every.split(","))]

    detector, classifier = make_detector(DEFAULT_DETECTOR), make_classifier(None, "litert-int8")
    sample = {Path(p).name: decode(Path(p)) for p in list_videos([DATA / "videos"])}
    dev = load_set(DATA / "labelled-video")
    crops = face_crops(DATA / "videos", detector)
    print(f"{len(sample)} sample clips ({sum(len(f) for f, _ in sample.values())} frames), {len(dev)} dev clips "
          f"({sum(len(item[2]) for item in dev)} frames)")
    print("| detect every | faces kept | extra per 100 | IoU median / 5th pct | sample tracks (< 0.5 s) "
          "| dev clips right (changed) | pasted faces: fragments / switches | detector ms/frame "
          "| across cuts: faces lost with / without the shot-change check |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    joined = joined_at_cuts(sample)
    cut_reference = [carried(detector.detect, images, times, 1) for images, times in joined]
    reference = None
    for every in settings:
        timed = Timed(detector)
        found_sample = [carried(timed, images, times, every) for images, times in sample.values()]
        found_dev = [carried(timed, item[2], item[3], every) for item in dev]
        frames = sum(len(f) for f in found_sample) + sum(len(f) for f in found_dev)
        tracked = pd.concat([assign_tracks(rows(name, images, times, found)) for (name, (images, times)), found
                             in zip(sample.items(), found_sample)])
        lengths = tracked.groupby(["video_id", "track_id"])["timestamp_s"].agg(lambda t: t.max() - t.min())
        given = answers(DEFAULT_DETECTOR, dev, found_dev, classifier)
        if reference is None:
            reference = dict(found=found_sample + found_dev, answers=given)
        overlap = compare(reference["found"], found_sample + found_dev)
        right = sum(given.get(file) == label for file, label, *_ in dev)
        changed = sum(given.get(file) != reference["answers"].get(file) for file, *_ in dev)
        fragments, switches = pasted_tracks(every, detector, crops)
        with_check = lost_across_cuts(detector.detect, joined, cut_reference, every, check=True)
        without_check = lost_across_cuts(detector.detect, joined, cut_reference, every, check=False)
        label = f"default ({DETECT_INTERVAL_S:g} s)" if every is None else every
        print(f"| {label} | {overlap['kept']:.4f} | {overlap['extra']:.2f} | {overlap['median']:.3f} / "
              f"{overlap['p5']:.3f} | {len(lengths)} ({int((lengths < SHORT_TRACK_S).sum())}) | {right} of {len(dev)} "
              f"({changed}) | {fragments} / {switches} | {1000 * timed.seconds / frames:.2f} | "
              f"{with_check} / {without_check} of {faces_in(cut_reference)} |", flush=True)


if __name__ == "__main__":
    main()
