"""The bad-input matrix of issue #6: builds every case as a real file in one folder, beside good clips, so one
``fervid analyze`` run covers them all (a Ray run costs 10-30 s here; one per case would cost minutes).

Shared by ``tests/reliability`` (assertions) and ``benchmarks/reliability.py`` (the table in docs/reliability.md), so
the two can never describe different inputs. Only OpenCV and the standard library are used: this machine has no
``ffmpeg`` binary, so every file is written with ``cv2.VideoWriter``, ``wave`` or by patching bytes.
"""

from __future__ import annotations

import os
import shutil
import struct
import warnings
import wave
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fervid.model.artifact import ArtifactInfo
from fervid.model.labels import FER2013_LABELS
from fervid.model.network import NetworkConfig

OK, PARTIAL, ERROR, NOT_LISTED = "ok", "partial", "error", "not listed"
CANNOT_OPEN = "FFmpeg cannot open it as a video"
SAMPLE = "man_single_face.mp4"  # 72 frames, 640x360, moov atom at the end
SAMPLE_FRAMES = 72
VFR_SAMPLE = "face_then_no_face.mov"  # variable frame rate
VFR_FRAMES = 169
GOOD_CLIPS = {"good/man_single_face.mp4": SAMPLE_FRAMES, "good/woman_phone.mp4": 115}


@dataclass(frozen=True)
class Case:
    name: str
    path: str  # relative to the matrix folder
    status: str  # OK, PARTIAL, ERROR, or NOT_LISTED (the folder listing skips it; it gets no row)
    message: str | None = None  # a substring of the videos-table error (ERROR and PARTIAL cases)
    frames: int | None = None  # frames_total expected for OK and PARTIAL cases, when known exactly
    note: str = ""  # why this outcome is the right one


CASES = (
    Case("zero-byte file", "zero.mp4", ERROR, "empty file (0 bytes)"),
    *(Case(f"mp4 truncated at {p}%", f"truncated_{p}.mp4", ERROR, CANNOT_OPEN,
           note="the sample's index (moov) is at the end, so any cut loses it") for p in (10, 50, 90)),
    Case("avi truncated at 50% (index lost, frames readable)", "truncated_50.avi", PARTIAL, "truncated or damaged",
         frames=36, note="the 36 frames before the cut are analysed; the header declares 72, so it is flagged "
                         "partial, not passed off as whole"),
    Case("random bytes named .mp4", "random.mp4", ERROR, CANNOT_OPEN),
    Case("text file named .avi", "text.avi", ERROR, CANNOT_OPEN),
    Case("still image .png (passed explicitly)", "still.png", OK, frames=1,
         note="FFmpeg reads an image as a one-frame video; it is analysed like one"),
    Case(".jpg renamed .mp4", "photo.mp4", OK, frames=1, note="FFmpeg probes the content, not the name"),
    Case("audio only (WAV named .mp4)", "audio.mp4", ERROR, "it holds no video stream"),
    Case("0-frame video", "zero_frames.mp4", ERROR, CANNOT_OPEN, note="OpenCV's writer leaves no playable track"),
    Case("1-frame video", "one_frame.mp4", OK, frames=1),
    Case("4K video (3840x2160, 3 frames)", "uhd_4k.mp4", OK, frames=3),
    Case("rotation metadata (90 degrees)", "rotated.mp4", OK, frames=3,
         note="tkhd matrix patched into an OpenCV-written mp4; OpenCV turns the frames upright"),
    Case("variable frame rate", VFR_SAMPLE, OK, frames=VFR_FRAMES),
    Case("spaces, quote and non-ASCII in the path", "vidéos d'été/clip ü.mp4", OK, frames=SAMPLE_FRAMES),
    Case("per cent sign in the name", "100% clip_%d.mp4", OK, frames=SAMPLE_FRAMES,
         note="FFmpeg's image-sequence syntax must not be applied to a plain file"),
    Case("dangling symlink", "gone.mp4", ERROR, "No such file: a broken symlink"),
    Case("named pipe (FIFO) named .mp4", "pipe.mp4", ERROR, "not a regular file",
         note="open() on a FIFO blocks until a writer comes: it is refused before opening"),
    Case("video under a symlinked folder", "linked library/clip.mp4", OK, frames=SAMPLE_FRAMES,
         note="symlinked folders are followed, each real folder once"),
    Case("video beside a symlink loop", "loop/inside.mp4", OK, frames=1,
         note="loop/self links to its own folder: listed once, no hang"),
    Case("folder named .mp4", "folder.mp4", NOT_LISTED, note="a folder is searched, not opened"),
    Case("shell syntax in the name: $(...)", "$(touch pwned).mp4", ERROR, CANNOT_OPEN,
         note="a plain (bad) file; no command runs"),
    Case("shell syntax in the name: ; rm", "; rm -rf x;.mp4", ERROR, CANNOT_OPEN),
)
LOOP = "loop/self"  # a symlink to its own folder: listing must neither hang nor crash


def sample_frames(clips: Path, count: int, name: str = SAMPLE) -> list[np.ndarray]:
    import cv2

    capture = cv2.VideoCapture(str(clips / name), cv2.CAP_FFMPEG)
    frames = [capture.read()[1] for _ in range(count)]
    capture.release()
    return frames


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0, fourcc: str = "mp4v") -> Path:
    """MPEG-4 Part 2 by default (the one encoder this OpenCV build always has; no H.264); ``frames`` may be
    empty. MJPG in an .avi keeps every frame decodable on its own, so a cut file still plays up to the cut."""
    import cv2

    height, width = frames[0].shape[:2] if frames else (48, 64)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write {fourcc} here")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def rotate_90(path: Path) -> None:
    """Set the video track's display matrix (tkhd) to a 90-degree rotation, as phones write it."""
    data = bytearray(path.read_bytes())
    box = data.find(b"tkhd")
    version = data[box + 4]
    # After 'tkhd': version/flags (4), times and track id (20 for v0, 32 for v1), reserved (8), layer,
    # alternate group, volume, reserved (8): then nine 32-bit matrix entries.
    matrix = box + 4 + 4 + (32 if version else 20) + 8 + 8
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))


def write_wav(path: Path, seconds: float = 1.0, rate: int = 8000) -> Path:
    tone = (np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 440 / rate) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        sound.writeframes(tone.tobytes())
    return path


def build(folder: Path, clips: Path) -> list[Path]:
    """Every case of ``CASES`` plus ``GOOD_CLIPS`` under ``folder``; returns the extra paths to pass explicitly
    (``.png`` is not a video extension, so a folder listing would skip it)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good").mkdir()
    for relative in GOOD_CLIPS:
        shutil.copy(clips / Path(relative).name, folder / relative)
    sample = (clips / SAMPLE).read_bytes()
    frames = sample_frames(clips, 3)
    (folder / "zero.mp4").write_bytes(b"")
    for percent in (10, 50, 90):
        (folder / f"truncated_{percent}.mp4").write_bytes(sample[: len(sample) * percent // 100])
    avi = write_video(folder / "whole.avi", sample_frames(clips, SAMPLE_FRAMES), fps=30.0, fourcc="MJPG")
    data = avi.read_bytes()
    avi.unlink()
    (folder / "truncated_50.avi").write_bytes(data[: len(data) // 2])
    (folder / "random.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 100_000, np.uint8).tobytes())
    (folder / "text.avi").write_text("this is not a video\n" * 100)
    cv2.imwrite(str(folder / "still.png"), frames[0])
    cv2.imwrite(str(folder / "photo.jpg"), frames[0])
    (folder / "photo.jpg").rename(folder / "photo.mp4")
    write_wav(folder / "audio.mp4")
    write_video(folder / "zero_frames.mp4", [])
    write_video(folder / "one_frame.mp4", frames[:1])
    write_video(folder / "uhd_4k.mp4", [cv2.resize(f, (3840, 2160), interpolation=cv2.INTER_LINEAR) for f in frames])
    rotate_90(write_video(folder / "rotated.mp4", frames))
    shutil.copy(clips / VFR_SAMPLE, folder / VFR_SAMPLE)
    (folder / "vidéos d'été").mkdir()
    shutil.copy(clips / SAMPLE, folder / "vidéos d'été" / "clip ü.mp4")
    shutil.copy(clips / SAMPLE, folder / "100% clip_%d.mp4")
    (folder / "gone.mp4").symlink_to(folder / "deleted-before-the-run.mp4")
    (folder / "folder.mp4").mkdir()
    for name in ("$(touch pwned).mp4", "; rm -rf x;.mp4"):
        (folder / name).write_text("echo pwned\n")
    os.mkfifo(folder / "pipe.mp4")
    library = folder.parent / f"{folder.name}-library"  # outside the folder, reached only through the link
    library.mkdir()
    shutil.copy(clips / SAMPLE, library / "clip.mp4")
    (folder / "linked library").symlink_to(library, target_is_directory=True)
    (folder / "loop").mkdir()
    shutil.copy(folder / "one_frame.mp4", folder / "loop" / "inside.mp4")
    (folder / LOOP).symlink_to(folder / "loop", target_is_directory=True)
    return [folder / "still.png"]


# Broken model files (the artifact checks are tested in tests/model/test_artifact.py; these are the CLI's end).
def truncated_model(model: Path, folder: Path) -> Path:
    path = folder / "truncated.keras"
    path.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    return path


def nine_label_model(model: Path, folder: Path) -> Path:
    path = folder / "nine_labels.keras"
    path.write_bytes(model.read_bytes())
    with zipfile.ZipFile(path, "a") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": the later fervid.json is the one read
        archive.writestr("fervid.json", ArtifactInfo(labels=tuple("abcdefghi"), network=NetworkConfig(9)).to_json())
    return path


def lambda_model(model: Path, folder: Path) -> Path:
    """Valid metadata around a graph with a Python lambda: only Keras's safe mode (a full load) refuses it.
    ``model`` is unused: the same signature as the other makers, so tests can parametrize over them."""
    import keras

    path = folder / "lambda.keras"
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda t: t * 2)(inputs)
    keras.saving.save_model(keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(
        keras.layers.Flatten()(x))), path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("fervid.json", ArtifactInfo(labels=FER2013_LABELS, network=NetworkConfig()).to_json())
    return path



def by_name(folder: Path) -> dict[str, Case]:
    """Cases keyed by the absolute path fervid reports for them."""
    return {os.path.join(folder, case.path): case for case in CASES}
