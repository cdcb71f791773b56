"""`fervid report`: the page's structure read back with the standard library's HTML parser, its numbers against
`fervid summarize`'s, no external URL, thumbnails cut by the product's own crop code, and bad inputs."""

from __future__ import annotations

import base64
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from fervid.cli import main
from fervid.errors import FervidError
from fervid.pipeline import report as report_module
from fervid.pipeline.align import CROP_VERSION
from fervid.pipeline.detect import DEFAULT_DETECTOR, FRAMING, cut_faces, make_detector
from fervid.pipeline.output import SETTINGS_KEY
from fervid.pipeline.report import ReportConfig, write_report
from fervid.pipeline.schema import EMOTION_COLUMNS, TIMELINE_SCHEMA, VIDEOS_SCHEMA, videos_path
from fervid.pipeline.video import probe, read_range

SETTINGS = dict(detector=DEFAULT_DETECTOR, sample_fps=None, margins=list(FRAMING[DEFAULT_DETECTOR]), smooth_s=0.0,
                mirror=False, engine="auto", crop=CROP_VERSION, model="0123456789abcdef")


class Page(HTMLParser):
    """What the tests read: the videos table's rows, the sections and their tracks, every src/href, the tags."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[dict] = []  # per <tr data-anchor>: its attributes and its cells' (data-sort, text)
        self.sections: dict[str, list[dict]] = {}  # section id -> its track divs' attributes
        self.links: list[str] = []
        self.tags: set[str] = set()
        self.images: list[tuple[str, str]] = []  # (class, src)
        self._cell = self._section = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        self.links += [attrs[name] for name in ("src", "href") if name in attrs]
        if tag == "img":
            self.images.append((attrs.get("class"), attrs["src"]))
        if tag == "tr" and "data-anchor" in attrs:
            self.rows.append(dict(attrs, cells=[]))
        elif tag == "td" and self.rows and self._section is None:
            self._cell = [attrs.get("data-sort"), ""]
            self.rows[-1]["cells"].append(self._cell)
        elif tag == "section":
            self._section = attrs["id"]
            self.sections[self._section] = []
        elif tag == "div" and "data-track" in attrs:
            self.sections[self._section].append(attrs)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def table(self) -> pd.DataFrame:
        columns = ("video", "status", "duration_s", "frames", "faces", "tracks", "face_seconds", "answer", "share",
                   "note")
        records = []
        for row in self.rows:
            record = {"anchor": row["data-anchor"]}
            for name, (sort, text) in zip(columns, row["cells"]):
                record[name], record[f"{name}_sort"] = text.strip(), float(sort) if name != "video" and sort else None
            records.append(record)
        return pd.DataFrame(records).set_index("video", drop=False).rename_axis(None)


def bars(text: str, caption: str) -> dict[str, int]:
    """The counts of the collection's bar chart whose caption starts with ``caption``."""
    figure = next(part for part in text.split("<figure>") if f"<figcaption>{caption}" in part)
    return {label: int(count.replace(",", "")) for label, count in
            re.findall(r"<text x=0 y=\d+>([^<]+)</text>.*?<text x=300 y=\d+>([\d,]+) ", figure)}


def probabilities(emotions: list[str]) -> np.ndarray:
    values = np.full((len(emotions), len(EMOTION_COLUMNS)), 0.02, np.float32)
    values[np.arange(len(emotions)), [EMOTION_COLUMNS.index(name) for name in emotions]] = 0.88
    return values


def face_rows(video: str, emotions: list[str], track_id: int = 0, step_s: float = 0.1, x: int = 10) -> pd.DataFrame:
    frame = pd.DataFrame(probabilities(emotions), columns=list(EMOTION_COLUMNS))
    return frame.assign(video_id=f"id-{video}", video_path=f"/nowhere/{video}.mp4",
                        frame_index=np.arange(len(emotions)), timestamp_s=step_s * np.arange(len(emotions)),
                        face_index=np.int32(track_id), track_id=np.int32(track_id), x=np.int32(x + 50 * track_id),
                        y=np.int32(10), w=np.int32(40), h=np.int32(40), det_score=np.float32(0.9), detected=True,
                        emotion=emotions, confidence=np.float32(0.88))


def videos_row(video: str, status: str = "ok", error: str | None = None, frames: int = 20, faces: int = 0) -> dict:
    return dict(video_id=None if status == "error" else f"id-{video}", video_path=f"/nowhere/{video}.mp4",
                status=status, error=error, duration_s=None if status == "error" else frames / 10, fps=10.0,
                width=320, height=240, frames_total=frames if status != "error" else 0,
                frames_analyzed=frames if status != "error" else 0, frames_with_faces=faces, faces=faces,
                seconds=0.1)


def write_run(folder: Path, rows: pd.DataFrame, videos: list[dict] | None, settings: dict = SETTINGS) -> Path:
    """A run as `fervid analyze` leaves it: the timeline and (unless None) the videos table, settings in both."""
    metadata = {SETTINGS_KEY: json.dumps(settings).encode()}
    out = folder / "t.parquet"
    table = pa.Table.from_pandas(rows[list(TIMELINE_SCHEMA.names)], schema=TIMELINE_SCHEMA, preserve_index=False)
    pq.write_table(table.replace_schema_metadata(metadata), out)
    if videos is not None:
        pq.write_table(pa.Table.from_pylist(videos, schema=VIDEOS_SCHEMA).replace_schema_metadata(metadata),
                       videos_path(out))
    return out


@pytest.fixture
def run(tmp_path) -> Path:
    """Five videos: two faces (happy, then sad; angry), one face, a damaged file read up to the damage, a failed
    file, and one without faces."""
    rows = pd.concat([face_rows("two", ["happy"] * 12 + ["sad"] * 8),
                      face_rows("two", ["angry"] * 6, track_id=1),
                      face_rows("one", ["surprise"] * 5 + ["fear"] * 2),
                      face_rows("damaged", ["neutral"] * 4)], ignore_index=True)
    videos = [videos_row("two", faces=26), videos_row("one", frames=7, faces=7),
              videos_row("damaged", "partial", "/nowhere/damaged.mp4: truncated or damaged: frames stop at 0.4 s",
                         frames=4, faces=4),
              videos_row("broken", "error", "/nowhere/broken.mp4: FFmpeg cannot open it as a video"),
              videos_row("empty", frames=30)]
    return write_run(tmp_path, rows, videos)


def summarize(timelines: Path, folder: Path) -> dict[str, pd.DataFrame]:
    result = CliRunner().invoke(main, ["summarize", str(timelines), "--out", str(folder / "s.csv")])
    assert result.exit_code == 0, result.output
    return {"tracks": pd.read_csv(folder / "s.csv"), "videos": pd.read_csv(folder / "s.videos.csv")}


def test_every_video_is_in_the_table_and_the_numbers_are_summarizes(run, tmp_path):
    result = CliRunner().invoke(main, ["report", str(run), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = Page((tmp_path / "r.html").read_text())
    table = page.table()
    assert sorted(table.index) == ["broken.mp4", "damaged.mp4", "empty.mp4", "one.mp4", "two.mp4"]
    assert list(table.index)[:2] == ["broken.mp4", "damaged.mp4"]  # failed, then partial files first
    assert table.loc["damaged.mp4", "note"].endswith("frames stop at 0.4 s")
    assert table.loc["broken.mp4", "note"].startswith("/nowhere/broken.mp4: FFmpeg cannot open")
    assert table.loc["empty.mp4", "note"] == "no faces found"

    summary = summarize(run, tmp_path)
    # summarize has a row for every video the report lists (issue 34); those without faces have no answer.
    assert sorted(Path(path).name for path in summary["videos"].video_path) == sorted(table.index)
    assert summary["videos"].loc[summary["videos"].tracks == 0, "dominant"].isna().all()
    for video in summary["videos"][summary["videos"].tracks > 0].itertuples():
        row = table.loc[Path(video.video_path).name]
        assert row["tracks_sort"] == video.tracks
        assert row["face_seconds_sort"] == pytest.approx(video.face_seconds, abs=1e-4)
        assert row["answer"] == video.dominant
        assert row["share_sort"] == pytest.approx(getattr(video, f"share_{video.dominant}"), abs=1e-4)

    # Sections for the videos with faces, one div per track, each with summarize's per-track numbers.
    assert set(page.sections) == set(table.loc[["damaged.mp4", "one.mp4", "two.mp4"], "anchor"])
    tracks = {(anchor, int(div["data-track"])): div for anchor, divs in page.sections.items() for div in divs}
    assert len(tracks) == len(summary["tracks"]) == 4
    for track in summary["tracks"].itertuples():
        div = tracks[(table.loc[Path(track.video_path).name, "anchor"], track.track_id)]
        assert float(div["data-seconds"]) == pytest.approx(track.seconds, abs=1e-4)
        assert div["data-answer"] == track.dominant
        assert float(div["data-share"]) == pytest.approx(getattr(track, f"share_{track.dominant}"), abs=1e-4)


def test_the_page_loads_nothing_from_elsewhere(run, tmp_path):
    out = write_report(run, tmp_path / "r.html").out
    text = out.read_text()
    page = Page(text)
    assert "http://" not in text and "https://" not in text and "//" not in "".join(page.links)
    assert all(link.startswith(("#", "data:image/")) for link in page.links)
    assert "link" not in page.tags and "iframe" not in page.tags
    assert text.count("<script>") == 1 and "<script src" not in text


def test_the_collection_and_the_header_count_every_video(run, tmp_path):
    text = write_report(run, tmp_path / "r.html").out.read_text()
    assert "5 videos: <b>3 ok</b>, 1 partial (damaged), <b>1 failed</b>" in text  # a video without faces is ok
    assert "61 frames; 37 faces" in text  # frames of the videos with rows (20 + 7 + 4 + 30); timeline rows
    assert "Failed and partial files (2)" in text
    assert bars(text, "Videos by their answer") == dict.fromkeys(EMOTION_COLUMNS, 0) | {
        "happy": 1, "surprise": 1, "neutral": 1, "no answer": 0, "no faces": 1, "failed": 1}
    assert bars(text, "Face-frames") == dict.fromkeys(EMOTION_COLUMNS, 0) | {
        "happy": 12, "sad": 8, "angry": 6, "surprise": 5, "fear": 2, "neutral": 4}
    assert "fingerprint 0123456789abcdef" in text and "blazeface-full" in text
    # The videos' sources are not there: the page says so instead of leaving the thumbnails out silently.
    assert "Not shown on this page" in text and "/nowhere/two.mp4 is not there" in text


def test_a_video_without_an_answer_is_shown_and_counted_as_such(run, tmp_path, monkeypatch):
    """``summary`` may leave ``dominant`` empty where the evidence is thin, with the reason in ``no_answer``."""
    real = report_module.video_summary

    def thin_evidence(*args, **kwargs):
        table = real(*args, **kwargs)
        one = table["video_id"] == "id-one"
        table["dominant"] = table["dominant"].where(~one, None)
        table["no_answer"] = np.where(one, "only 7 frames with a face", None)
        return table

    monkeypatch.setattr(report_module, "video_summary", thin_evidence)
    text = write_report(run, tmp_path / "r.html").out.read_text()
    table = Page(text).table()
    assert table.loc["one.mp4", "answer"] == "no answer"
    assert table.loc["one.mp4", "note"] == "only 7 frames with a face"
    assert "no answer (only 7 frames with a face)" in text
    # Counted as its own group, and the other videos keep theirs.
    assert bars(text, "Videos by their answer") == dict.fromkeys(EMOTION_COLUMNS, 0) | {
        "happy": 1, "neutral": 1, "no answer": 1, "no faces": 1, "failed": 1}


def test_an_answer_missing_without_a_reason_column_still_reads_no_answer():
    assert report_module.answer_of({"dominant": float("nan")}) == (None, "too little evidence")
    assert report_module.answer_of({"dominant": None, "no_answer": "2 frames"}) == (None, "2 frames")
    assert report_module.answer_of(pd.Series({"dominant": "happy", "no_answer": None})) == ("happy", None)


def test_a_run_where_every_video_failed_still_gets_its_page(tmp_path):
    videos = [videos_row("a", "error", "/nowhere/a.mp4: empty file (0 bytes)"), videos_row("b", "error", "boom")]
    text = write_report(write_run(tmp_path, face_rows("x", []), videos), tmp_path / "r.html").out.read_text()
    assert "Failed and partial files (2)" in text and "/nowhere/a.mp4: empty file (0 bytes)" in text
    assert bars(text, "Videos by their answer")["failed"] == 2 and len(Page(text).sections) == 0


def test_without_a_videos_table_the_page_says_what_it_cannot_know(run, tmp_path):
    videos_path(run).unlink()
    text = write_report(run, tmp_path / "r.html").out.read_text()
    assert "no videos table beside it" in text
    assert sorted(Page(text).table()["video"]) == ["damaged.mp4", "one.mp4", "two.mp4"]


@pytest.mark.parametrize("content, message", [
    (None, "no such timelines file"),
    (b"", "not a readable Parquet file"),
    (b"video_id,emotion\nx,happy\n", "not a readable Parquet file"),
    ("no columns", "lacks the column(s)"),
    ("no rows", "no rows and no videos table"),
])
def test_bad_timelines_are_one_line_errors_and_leave_no_page(tmp_path, content, message):
    path = tmp_path / "t.parquet"
    if content == "no columns":
        pq.write_table(pa.table({"a": [1]}), path)
    elif content == "no rows":
        write_run(tmp_path, face_rows("x", []), None)
    elif content is not None:
        path.write_bytes(content)
    result = CliRunner().invoke(main, ["report", str(path), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and message in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_bad_options_are_one_line_errors(run, tmp_path):
    with pytest.raises(FervidError, match="the output folder does not exist"):
        write_report(run, tmp_path / "missing" / "r.html")
    with pytest.raises(FervidError, match="no such folder"):
        write_report(run, tmp_path / "r.html", ReportConfig(videos_dir=str(tmp_path / "gone")))
    with pytest.raises(FervidError, match="max_tracks must be 0 or more"):
        ReportConfig(max_tracks=-1)


def test_an_interrupted_write_leaves_the_old_page_whole(run, tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    out.write_text("the old report")
    real = Path.write_text

    def half_then_full_disk(self, text, *args, **kwargs):
        real(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_full_disk)
    with pytest.raises(OSError):
        write_report(run, out)
    monkeypatch.undo()
    assert out.read_text() == "the old report"
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_detail_and_thumbnails_stop_at_their_limits_and_say_so(run, tmp_path):
    result = write_report(run, tmp_path / "r.html", ReportConfig(detail_videos=1, thumbnail_videos=0))
    page = Page(result.out.read_text())
    assert result.detailed == 1 and len(page.sections) == 1 and len(page.table()) == 5
    assert any("timelines for 2 of 3 videos" in line for line in result.not_shown)


def test_thumbnails_are_the_crops_the_model_saw(videos, tmp_path):
    """A real clip through the real detector (no model: the probabilities are made up): the page's crops are the
    crops ``fervid analyze`` cuts of those frames (``cut_faces`` on the grey picture), and its frames show the
    video."""
    clip = videos / "man_single_face.mp4"
    info = probe(str(clip))
    detector, margins = make_detector(DEFAULT_DETECTOR), FRAMING[DEFAULT_DETECTOR]
    rows, crops = [], {}
    for frame in read_range(str(clip), -math.inf, math.inf, info.fps):
        faces = cut_faces(frame.grey, detector.detect(frame.image), margins)
        for (x, y, w, h), score, crop in zip(faces.boxes, faces.scores, faces.crops):
            rows.append(dict(frame_index=frame.index, timestamp_s=frame.timestamp_s, x=x, y=y, w=w, h=h,
                             det_score=score, detected=True))
            crops[round(frame.timestamp_s, 6)] = crop
    emotions = ["neutral" if row["timestamp_s"] < 1 else "happy" for row in rows]
    timeline = pd.DataFrame(rows).assign(
        video_id="id-clip", video_path=str(clip), face_index=np.int32(0), track_id=np.int32(0),
        emotion=emotions, confidence=np.float32(0.88), **dict(zip(EMOTION_COLUMNS, probabilities(emotions).T)))
    video = videos_row("clip", frames=len(rows), faces=len(rows)) | dict(
        video_path=str(clip), fps=info.fps, duration_s=float(timeline["timestamp_s"].max()) + 1 / info.fps)
    result = write_report(write_run(tmp_path, timeline, [video]), tmp_path / "r.html")
    page = Page(result.out.read_text())
    shown = [src for kind, src in page.images if kind == "crop"]
    assert result.thumbnails == len(shown) == 3 and not result.not_shown
    picked = np.linspace(0, len(rows) - 1, 3).round().astype(int)
    for src, row in zip(shown, picked):
        png = np.frombuffer(base64.b64decode(src.split(",", 1)[1]), np.uint8)
        assert np.array_equal(cv2.imdecode(png, cv2.IMREAD_GRAYSCALE), crops[round(rows[row]["timestamp_s"], 6)])
    frames = [src for kind, src in page.images if kind == "frame"]
    assert len(frames) == 3 and all(src.startswith("data:image/jpeg;base64,") for src in frames)


def test_a_moved_video_is_found_in_videos_dir_by_name_and_content(videos, tmp_path):
    clip = videos / "man_single_face.mp4"
    from fervid.pipeline.sources import fingerprint

    found = report_module._locate(f"/old/place/{clip.name}", fingerprint(str(clip)), str(videos))
    assert found == str(videos / clip.name)
    assert report_module._locate(f"/old/place/{clip.name}", "another-file", str(videos)) is None
    assert report_module._locate(f"/old/place/{clip.name}", fingerprint(str(clip)), None) is None
