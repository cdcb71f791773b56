"""Face datasets for training and evaluation: class folders, the original ``fer2013.csv``, packed ``.npz``, and CSVs
of per-face votes (FER+) whose images come from a folder or from an ``.npz`` of pixels.

Everything here is numpy + OpenCV, never TensorFlow, so training also runs on a machine that only has JAX.

Policy for bad files (documented in docs/training.md, "Bad training inputs"):
- an image OpenCV cannot decode is skipped and counted; the caller reports the count and the first names;
- a malformed CSV row stops loading with the line number, because a broken row means a broken file;
- images that are not 48x48 grayscale are converted (to gray, then resized) and counted.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fervid.errors import FervidError

from .labels import FER2013_LABELS, INPUT_SIZE

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# The Usage column of fer2013.csv; PublicTest is the validation split, PrivateTest the held-out test.
CSV_SPLITS = ("Training", "PublicTest", "PrivateTest")
# Vote columns that name no expression (FER+, Barsoum et al. 2016): a face with more of these votes than for any
# label has no usable vote distribution. Other extra columns (FER+'s contempt) are not labels: their votes drop out.
NO_EXPRESSION_VOTES = ("unknown", "not_face")


@dataclass(frozen=True)
class FaceDataset:
    """Faces as uint8 (N, 48, 48) plus integer labels indexing ``classes``."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str
    converted: int = 0  # images that were not 48x48 grayscale and were converted
    skipped: tuple[str, ...] = field(default=())  # "path: reason" for every unreadable image
    # Per-face vote counts over ``classes`` (a votes CSV), float32 (N, classes); a row of zeros where the face has
    # no usable votes (most of them said "unknown" or "not a face"). None: one label per face, nothing more.
    votes: np.ndarray | None = None
    # Where each face came from (a photo or a video file), for faces cut from media: folds can then go by file.
    files: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.images.ndim != 3 or self.images.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"Expected images of shape (N, 48, 48). Received {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if self.votes is not None and self.votes.shape != (len(self.labels), len(self.classes)):
            raise ValueError(f"Expected votes of shape {(len(self.labels), len(self.classes))}. "
                             f"Received {self.votes.shape}")
        if self.files is not None and len(self.files) != len(self.labels):
            raise ValueError(f"{len(self.files)} file names but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(n) for name, n in zip(self.classes, counts)}

    def subset(self, index: np.ndarray) -> "FaceDataset":
        votes = None if self.votes is None else self.votes[index]
        files = None if self.files is None else tuple(np.asarray(self.files, dtype=object)[index])
        return FaceDataset(self.images[index], self.labels[index], self.classes, self.source, votes=votes,
                           files=files)

    def has_votes(self) -> np.ndarray:
        """bool (N,): the faces with a usable vote distribution (all of them when there are no votes at all)."""
        return np.ones(len(self), bool) if self.votes is None else self.votes.sum(axis=1) > 0

    def vote_shares(self) -> np.ndarray:
        """float32 (N, classes): each face's votes as shares (zeros where it has none); one-hot labels without votes."""
        if self.votes is None:
            return np.eye(len(self.classes), dtype=np.float32)[self.labels]
        return (self.votes / np.maximum(self.votes.sum(axis=1, keepdims=True), 1)).astype(np.float32)

    def limit_per_class(self, limit: int, seed: int = 0) -> "FaceDataset":
        """At most ``limit`` images of each class, drawn at random (a quick sample for smoke runs)."""
        rng = np.random.default_rng(seed)
        keep = [rng.permutation(np.flatnonzero(self.labels == c))[:limit] for c in range(len(self.classes))]
        return self.subset(np.sort(np.concatenate(keep)))

    def summary(self) -> str:
        text = f"{len(self)} images in {len(self.classes)} classes from {self.source}"
        if self.converted:
            text += f"; {self.converted} converted to 48x48 grayscale"
        if self.skipped:
            shown = "; ".join(self.skipped[:3]) + ("; ..." if len(self.skipped) > 3 else "")
            text += f"; skipped {len(self.skipped)} unreadable: {shown}"
        return text


def to_face(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """Any decoded image -> (48x48 uint8 grayscale, whether it had to be converted)."""
    import cv2

    converted = False
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
        converted = True
    if image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        converted = True
    if image.shape != (INPUT_SIZE, INPUT_SIZE):
        image = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
        converted = True
    return image, converted


def load_dataset(path: str | os.PathLike, classes: tuple[str, ...] | None = None,
                 usage: str | None = None, images: str | os.PathLike | None = None) -> FaceDataset:
    """Load a class-folder tree, a ``fer2013.csv`` (optionally one ``usage`` split), a packed ``.npz`` or a votes CSV.

    ``classes`` fixes the label order (a model's labels); by default it is the sorted class-folder names,
    or FER2013's order for the CSVs. A folder whose name is not in ``classes`` is an error. ``images``: where a
    votes CSV's ``file`` names are found (see ``_load_votes``).
    """
    path = Path(path)
    if not path.exists():
        raise FervidError(f"{path}: no such file or folder")
    if path.is_dir():
        return _load_folder(path, classes)
    if is_labelled_media_csv(path):
        raise FervidError(f"{path}: a CSV of labelled photos and clips, not of faces: its faces must be cut by "
                          "fervid's detector first (`fervid train` does it; in Python, "
                          "fervid.pipeline.labelled_faces.cut_labelled_faces)")
    if path.suffix.lower() == ".csv":
        if "file" in csv_header(path):
            return _load_votes(path, classes, images)
        return _load_csv(path, classes, usage)
    if path.suffix.lower() == ".npz":
        return _load_packed(path, classes)
    raise FervidError(f"{path}: expected a folder of class folders, a fer2013 .csv, a votes .csv or a packed .npz")


def _load_folder(root: Path, classes: tuple[str, ...] | None) -> FaceDataset:
    import cv2

    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise FervidError(f"{root}: no class folders found (expected {root}/<class>/*.jpg, e.g. {root}/happy/)")
    names = tuple(p.name for p in folders)
    classes = tuple(classes) if classes else names
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise FervidError(f"{root}: class folders {unknown} are not among the expected classes {list(classes)}")

    files, labels = [], []
    for folder in folders:
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise FervidError(f"{folder}: class folder has no images ({', '.join(IMAGE_SUFFIXES)})")
        files += found
        labels += [classes.index(folder.name)] * len(found)
    images, kept, skipped, converted = _decode_faces(
        (str(file), cv2.imread(str(file), cv2.IMREAD_UNCHANGED)) for file in files)
    if not images:
        raise FervidError(f"{root}: none of the images could be read")
    return FaceDataset(np.stack(images), np.asarray(labels, np.int64)[kept], classes, str(root), converted,
                       tuple(skipped))


def _decode_faces(decoded) -> tuple[list[np.ndarray], list[int], list[str], int]:
    """``(name, image or None)`` pairs -> faces, the indices kept, "name: reason" for the unreadable, conversions."""
    images, kept, skipped, converted = [], [], [], 0
    for i, (name, image) in enumerate(decoded):
        if image is None or image.size == 0:
            skipped.append(f"{name}: not a readable image")
            continue
        face, was_converted = to_face(image)
        converted += was_converted
        images.append(face)
        kept.append(i)
    return images, kept, skipped, converted


def csv_header(path: Path) -> list[str]:
    with open(path, newline="") as handle:
        return [name.strip() for name in next(csv.reader(handle), [])]


def is_labelled_media_csv(path: str | os.PathLike) -> bool:
    """A CSV of ``file`` and ``label`` columns (photos and clips to cut faces from, ``fervid evaluate --videos``'
    format), not a face set of its own."""
    path = Path(path)
    return path.suffix.lower() == ".csv" and path.is_file() and {"file", "label"} <= set(csv_header(path))


def csv_has_usage(path: Path) -> bool:
    return "Usage" in csv_header(path)


def _image_reader(source: Path):
    """``name -> image or None`` for a votes CSV's ``file`` names: files under a folder, or the rows of an ``.npz``
    that pairs ``<split>_file`` name arrays with ``<split>_images`` uint8 (N, 48, 48) arrays (FER2013's original
    pixels are published that way beside the FER+ votes)."""
    import cv2

    if source.is_dir():
        return lambda name: cv2.imread(str(source / name), cv2.IMREAD_UNCHANGED)
    try:
        with np.load(source, allow_pickle=False) as packed:
            arrays = {key: packed[key] for key in packed.files}
        found = {str(name): (arrays[key[:-len("_file")] + "_images"], i)
                 for key in arrays if key.endswith("_file") for i, name in enumerate(arrays[key])}
    except Exception as error:  # zip, key or format problems all mean the same to the user
        raise FervidError(f"{source}: not an .npz of <split>_file and <split>_images arrays ({error})") from None
    if not found:
        raise FervidError(f"{source}: no <split>_file arrays inside (found {', '.join(arrays)})")
    return lambda name: found[name][0][found[name][1]] if name in found else None


def _load_votes(path: Path, classes: tuple[str, ...] | None, images: str | os.PathLike | None) -> FaceDataset:
    """A CSV of ``file`` plus one vote-count column per label (any order, named by label), like FER+'s.

    ``file`` is relative to ``images`` (a folder; default: the CSV's own folder) or a name in an ``.npz`` of pixels.
    A ``fer2013_label`` column, when there, gives each face its single label (FER2013's); otherwise the label is
    the majority vote and faces without usable votes are left out. Votes of extra columns are dropped; a face
    whose ``unknown`` or ``not_face`` votes outnumber those of every label keeps no votes (Barsoum et al.).
    """
    classes = tuple(classes) if classes else FER2013_LABELS
    source = Path(images) if images is not None else path.parent
    if not source.exists():
        raise FervidError(f"{source}: no such folder or .npz for the images of {path}")
    read = _image_reader(source)
    header = csv_header(path)
    missing = [name for name in classes if name not in header]
    if missing:
        raise FervidError(f"{path}: a votes CSV needs a file column and one vote column per label; missing "
                          f"{', '.join(missing)} (header is {', '.join(header)})")
    extra = [name for name in NO_EXPRESSION_VOTES if name in header]
    files, labels, votes, none_votes = [], [], [], []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            try:
                votes.append([float(row[name]) for name in classes])
                none_votes.append(max([float(row[name]) for name in extra], default=0.0))
            except (TypeError, ValueError):
                raise FervidError(f"{path}, line {reader.line_num}: vote counts must be numbers") from None
            label = (row.get("fer2013_label") or "").strip().lower()
            if "fer2013_label" in header and label not in classes:
                raise FervidError(f"{path}, line {reader.line_num}: fer2013_label {label!r} is not one of "
                                  f"{', '.join(classes)}")
            labels.append(classes.index(label) if label else -1)
            files.append(row["file"])
    if not files:
        raise FervidError(f"{path}: no rows")
    votes = np.asarray(votes, np.float32)
    if (votes < 0).any():
        raise FervidError(f"{path}: vote counts must not be negative")
    votes[(votes.max(axis=1) < np.asarray(none_votes)) | (votes.sum(axis=1) == 0)] = 0
    labels = np.asarray(labels, np.int64)
    if "fer2013_label" not in header:
        labels = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -1)
    keep = np.flatnonzero(labels >= 0)
    faces, kept, skipped, converted = _decode_faces((f"{source}/{files[i]}", read(files[i])) for i in keep)
    if not faces:
        raise FervidError(f"{path}: none of the images could be read from {source}")
    return FaceDataset(np.stack(faces), labels[keep][kept], classes, str(path), converted, tuple(skipped),
                       votes[keep][kept])


def _load_csv(path: Path, classes: tuple[str, ...] | None, usage: str | None) -> FaceDataset:
    """The Kaggle file: columns ``emotion,pixels[,Usage]``; ``emotion`` indexes FER2013's label order."""
    classes = tuple(classes) if classes else FER2013_LABELS
    if usage is not None and usage not in CSV_SPLITS:
        raise FervidError(f"usage must be one of {CSV_SPLITS}. Received usage={usage!r}")
    images, labels = [], []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or ())
        if missing:
            raise FervidError(f"{path}: missing column(s) {sorted(missing)}; header is {reader.fieldnames}")
        if usage is not None and "Usage" not in reader.fieldnames:
            raise FervidError(f"{path}: no Usage column to select {usage} rows by")
        for row in reader:
            line = reader.line_num
            try:
                label = int(row["emotion"])
                pixels = np.array(row["pixels"].split(), dtype=np.float64)
            except (ValueError, AttributeError):
                raise FervidError(f"{path}, line {line}: emotion must be an integer and pixels "
                                  f"space-separated numbers") from None
            if not 0 <= label < len(classes):
                raise FervidError(f"{path}, line {line}: emotion {label} is outside 0..{len(classes) - 1}")
            if pixels.size != INPUT_SIZE * INPUT_SIZE or pixels.min() < 0 or pixels.max() > 255:
                raise FervidError(f"{path}, line {line}: expected 2304 pixel values in 0..255, "
                                  f"found {pixels.size}")
            if usage is not None and row.get("Usage") != usage:
                continue  # checked above all the same: a broken row anywhere means a broken file
            images.append(pixels.reshape(INPUT_SIZE, INPUT_SIZE).astype(np.uint8))
            labels.append(label)
    if not images:
        raise FervidError(f"{path}: no rows" + (f" with Usage={usage}" if usage else ""))
    return FaceDataset(np.stack(images), np.asarray(labels, np.int64), classes, str(path))


def _load_packed(path: Path, classes: tuple[str, ...] | None) -> FaceDataset:
    """One ``.npz`` of concatenated JPEG bytes (``jpeg``, ``offsets``, ``labels``, ``classes``), or of ready faces
    (``faces`` uint8 (N, 48, 48), ``labels``, ``classes``, ``files``: what ``save_faces`` writes)."""
    import cv2

    try:
        with np.load(path, allow_pickle=False) as packed:
            arrays = {key: packed[key] for key in packed.files}
        labels, packed_classes = arrays["labels"], tuple(str(c) for c in arrays["classes"])
        if "faces" not in arrays:
            jpeg, offsets = arrays["jpeg"], arrays["offsets"]
    except Exception as error:  # zip, key or format problems all mean the same to the user
        raise FervidError(f"{path}: not a packed face dataset ({error})") from None
    classes = tuple(classes) if classes else packed_classes
    remap = np.array([classes.index(c) if c in classes else -1 for c in packed_classes])
    if (remap < 0).any():
        raise FervidError(f"{path}: classes {packed_classes} do not fit the expected {list(classes)}")
    if "faces" in arrays:
        return FaceDataset(arrays["faces"], remap[labels].astype(np.int64), classes, str(path),
                           files=tuple(str(f) for f in arrays.get("files", ())) or None)
    images, kept, skipped, converted = _decode_faces(
        (f"{path}[{i}]", cv2.imdecode(jpeg[offsets[i]:offsets[i + 1]], cv2.IMREAD_UNCHANGED))
        for i in range(len(labels)))
    return FaceDataset(np.stack(images), remap[labels[kept]].astype(np.int64), classes, str(path), converted,
                       tuple(skipped))


def save_faces(dataset: FaceDataset, path: str | os.PathLike) -> Path:
    """Write ``dataset`` as a lossless ``.npz`` that ``load_dataset`` reads back (faces, labels, classes, files):
    how faces cut from photos and videos are kept between a run and its ``--resume``, or between folds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.npz")
    np.savez(partial, faces=dataset.images, labels=dataset.labels, classes=np.array(dataset.classes),
             files=np.array(dataset.files or (), dtype=str))
    os.replace(partial, path)
    return path


def write_synthetic_faces(root: str | os.PathLike, per_class: int = 24, classes: tuple[str, ...] = FER2013_LABELS,
                          seed: int = 0) -> Path:
    """Write a tiny, learnable class-folder dataset (``root/train``, ``root/val``) for smoke runs and tests.

    Each class is a stripe pattern of its own frequency under noise, so a few epochs visibly lower the loss
    without any real data at hand.
    """
    import cv2

    root = Path(root)
    rng = np.random.default_rng(seed)
    grid = np.arange(INPUT_SIZE, dtype=np.float64)
    for split, count in (("train", per_class), ("val", max(2, per_class // 4))):
        for label, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                phase = rng.uniform(0, 2 * np.pi)
                stripes = np.sin(grid[:, None] * (label + 1) * np.pi / INPUT_SIZE * 2 + phase)
                image = 127 + 80 * stripes + rng.normal(0, 20, (INPUT_SIZE, INPUT_SIZE))
                cv2.imwrite(str(folder / f"{split}_{i:04d}.png"), np.clip(image, 0, 255).astype(np.uint8))
    return root
