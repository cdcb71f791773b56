"""One self-contained HTML page to look at a whole run: ``fervid report TIMELINES --out report.html``.

    write_report("timelines.parquet", "report.html", ReportConfig(videos_dir="moved/videos/"))

The page holds, top to bottom: the run (when, how many videos ok / partial / failed, frames, faces, the settings
recorded in the Parquet metadata); the failed and partial files with their messages; how the collection splits
between the seven expressions (face-frames, and videos by their answer); a sortable, filterable table of every
video; then one section per video with a timeline per face track (the smoothed probabilities over time, the
colours of ``fervid plot``) and a few thumbnails per track: the 48x48 crop the model saw, cut again from the
source frame by the product's own ``cut_faces``, beside the frame around it.

Every number comes from ``fervid.pipeline.summary`` with ``fervid summarize``'s defaults, so the page and the
summary tables agree. It is one file that opens offline: no script, style sheet or font from elsewhere, charts
as inline SVG, images as data URIs.

Scale (measured on 1,001 videos, ``benchmarks/report.py``): the table costs about 0.4 KB a video and a track's
timeline about 2.7 KB, so the page keeps every video in the table and a section for the first ``detail_videos``
(2,000 by default: about 8 MB). Thumbnails are the costly part (a seek, a decode and a detection per frame, and
about 7 KB of images each), so only the first ``thumbnail_videos`` sections get them; the page says what it left
out and why, as it does for a video it could not find or decode.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fervid import __version__
from fervid.errors import FervidError

from .plot import EMOTION_HEX, emotion_bgr
from .schema import (EMOTION_COLUMNS, SMOOTH_COLUMNS, STATUS_ERROR, STATUS_OK, STATUS_PARTIAL, STATUSES_WITH_ROWS,
                     TRACK_COLUMN, videos_path)
from .smooth import EMOTION_SMOOTH
from .summary import emotion_segments, prepare, track_summary, video_summary
from .tables import read_timelines, read_videos
from .tracks import TrackConfig

NO_ANSWER = "no answer"  # a video or track whose evidence was too thin for an answer (``dominant`` missing)
NO_FACES, FAILED = "no faces", "failed"  # the other two groups of the collection's videos
GROUP_HEX = {NO_ANSWER: "#bbbbbb", NO_FACES: "#e5e5e5", FAILED: "#222222"}
TIMELINE_POINTS = 100  # points per probability line: enough for a 360-pixel chart, small for 10,000 videos


@dataclass(frozen=True)
class ReportConfig:
    smooth_s: float = 0.5  # as `fervid summarize`, so the answers are its answers
    max_gap_s: float = 0.5  # as `fervid summarize`
    videos_dir: str | None = None  # where to look (by file name) for videos moved since the analysis
    max_tracks: int = 4  # per video: the longest-seen tracks get a timeline and thumbnails
    thumbnails_per_track: int = 3  # frames spread over the track's time
    thumbnail_videos: int = 100  # sections with thumbnails (each frame is a seek, a decode and a detection)
    detail_videos: int = 2000  # sections with timelines (~3 KB a track); every video stays in the table

    def __post_init__(self):
        for name in ("max_tracks", "thumbnails_per_track", "thumbnail_videos", "detail_videos"):
            if getattr(self, name) < 0:
                raise FervidError(f"{name} must be 0 or more; received {getattr(self, name)}")


@dataclass(frozen=True)
class ReportResult:
    out: Path
    videos: int
    detailed: int  # videos with a section
    thumbnails: int  # face thumbnails shown
    not_shown: list[str] = field(default_factory=list)  # what the page could not show, and why

    def line(self) -> str:
        size = self.out.stat().st_size / 1e6
        text = (f"{self.videos} videos, {self.detailed} with timelines, {self.thumbnails} face thumbnails; "
                f"{size:.1f} MB -> {self.out}")
        return text + (f" ({len(self.not_shown)} things not shown: see the page)" if self.not_shown else "")


def write_report(timelines: str | os.PathLike, out: str | os.PathLike,
                 config: ReportConfig = ReportConfig()) -> ReportResult:
    """Write the report of the run ``timelines`` (``fervid analyze``'s output) to ``out``, through a temporary name
    renamed into place, so an interrupted report never looks complete."""
    out = Path(out)
    if not out.parent.is_dir():
        raise FervidError(f"{out.parent}: the output folder does not exist")
    if config.videos_dir is not None and not Path(config.videos_dir).is_dir():
        raise FervidError(f"{config.videos_dir}: no such folder (--videos-dir)")
    run = _Run.load(Path(timelines), config)
    page, result = _Page(run, config).render()
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return ReportResult(out=out, **result)


def answer_of(row: pd.Series | dict) -> tuple[str | None, str | None]:
    """(answer, reason): the ``dominant`` emotion, or None with the ``no_answer`` reason when there is none."""
    dominant = row.get("dominant")
    if isinstance(dominant, str) and dominant:
        return dominant, None
    reason = row.get("no_answer")
    return None, reason if isinstance(reason, str) and reason else "too little evidence"


@dataclass
class _Run:
    """A run read back: its tables, summaries and settings, and one record per video in the table's order."""

    path: Path
    prepared: pd.DataFrame
    videos: pd.DataFrame | None
    tracks: pd.DataFrame
    per_video: pd.DataFrame  # video_summary, indexed by video_id
    segments: pd.DataFrame
    settings: dict
    engine: str | None
    entries: list[dict]
    # Row positions, found by one groupby each rather than a scan of the whole table per video.
    positions: dict = field(default_factory=dict)  # video_id -> rows of prepared
    track_positions: dict = field(default_factory=dict)  # video_id -> rows of tracks
    segment_positions: dict = field(default_factory=dict)  # (video_id, track_id) -> rows of segments

    def rows_of(self, video_id) -> pd.DataFrame:
        return self.prepared.iloc[self.positions.get(video_id, [])]

    @classmethod
    def load(cls, path: Path, config: ReportConfig) -> _Run:
        import pyarrow.parquet as pq

        from .output import ENGINE_KEY, SETTINGS_KEY

        timelines = read_timelines(path)
        videos = read_videos(path)
        if timelines.empty and (videos is None or videos.empty):
            raise FervidError(f"{path}: no rows and no videos table beside it ({videos_path(path).name}): "
                              "nothing to report")
        metadata = pq.read_schema(path).metadata or {}
        prepared = prepare(timelines, config.smooth_s, TrackConfig(max_gap_s=config.max_gap_s))
        prepared = prepared.sort_values(["video_id", TRACK_COLUMN, "timestamp_s"], kind="stable", ignore_index=True)
        tracks, segments = track_summary(prepared, videos), emotion_segments(prepared, videos)
        per_video = video_summary(prepared, videos)
        run = cls(path=path, prepared=prepared, videos=videos, tracks=tracks, per_video=per_video.set_index("video_id"),
                  segments=segments,
                  settings=json.loads(metadata.get(SETTINGS_KEY, b"{}")),
                  engine=metadata.get(ENGINE_KEY, b"").decode() or None, entries=[])
        run.positions = prepared.groupby("video_id", sort=False).indices
        run.track_positions = run.tracks.groupby("video_id", sort=False).indices
        run.segment_positions = run.segments.groupby(["video_id", TRACK_COLUMN], sort=False).indices
        run.entries = run._entries()
        return run

    def _entries(self) -> list[dict]:
        """One record per video: the videos table's rows (or, without one, the timelines' videos), failed first,
        then partial, then the rest, each by path."""
        if self.videos is not None:
            rows = self.videos.to_dict("records")
        else:
            first = self.prepared.drop_duplicates("video_id")
            rows = [dict(video_id=row.video_id, video_path=row.video_path, status=None) for row in first.itertuples()]
        rank = {STATUS_ERROR: 0, STATUS_PARTIAL: 1}
        rows.sort(key=lambda row: (rank.get(row.get("status"), 2), str(row["video_path"])))
        entries = []
        for number, row in enumerate(rows):
            video_id = row.get("video_id")
            summary = self.per_video.loc[video_id] if video_id in self.per_video.index else None
            answer, reason = answer_of(summary) if summary is not None else (None, None)
            if row.get("status") == STATUS_ERROR:
                group, note = FAILED, row.get("error") or "failed"
            elif summary is None:
                group, note = NO_FACES, "no faces found"
            else:
                group, note = answer or NO_ANSWER, reason
            if row.get("status") == STATUS_PARTIAL:
                note = "; ".join(filter(None, [row.get("error"), note]))
            entries.append(dict(row, anchor=f"v{number}", name=Path(str(row["video_path"])).name, group=group,
                                answer=answer, note=note, summary=summary,
                                share=float(summary[f"share_{answer}"]) if answer else None))
        return entries

    def counts(self) -> dict[str, int]:
        statuses = [entry.get("status") for entry in self.entries]
        with_rows = [entry for entry in self.entries if entry.get("status") in STATUSES_WITH_ROWS]
        return dict(videos=len(self.entries), ok=statuses.count(STATUS_OK), partial=statuses.count(STATUS_PARTIAL),
                    failed=statuses.count(STATUS_ERROR),
                    frames=int(sum(entry["frames_total"] for entry in with_rows)) if self.videos is not None else -1,
                    faces=len(self.prepared), tracks=len(self.tracks))


class _Page:
    """Renders a ``_Run`` to HTML text, gathering what it could not show on the way."""

    def __init__(self, run: _Run, config: ReportConfig):
        self.run, self.config = run, config
        self.not_shown: list[str] = []
        self.thumbnails = 0

    def render(self) -> tuple[str, dict]:
        with_faces = [entry for entry in self.run.entries if entry["summary"] is not None]
        detailed = with_faces[:self.config.detail_videos]
        if len(with_faces) > len(detailed):
            self.not_shown.append(f"timelines for {len(with_faces) - len(detailed):,} of {len(with_faces):,} videos "
                                  f"with faces: the page keeps the first {len(detailed):,} in the table's order "
                                  "(detail_videos, --detail-videos)")
        if len(detailed) > self.config.thumbnail_videos:
            self.not_shown.append(f"face thumbnails for {len(detailed) - self.config.thumbnail_videos:,} of "
                                  f"{len(detailed):,} videos: only the first {self.config.thumbnail_videos:,} get them "
                                  "(thumbnail_videos, --thumbnail-videos)")
        sections = [self._section(entry, thumbnails=number < self.config.thumbnail_videos)
                    for number, entry in enumerate(detailed)]
        body = [self._header(), self._problems(), self._collection(), self._table(), _legend(),
                "<h2>Per video</h2>", *sections]
        # What could not be shown is only known now, after the sections: it goes just under the header.
        body.insert(1, self._not_shown())
        page = (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
                f"<title>fervid report: {_text(self.run.path.name)}</title><style>{_CSS}</style></head>"
                f"<body>{''.join(body)}<script>{_SCRIPT}</script></body></html>\n")
        return page, dict(videos=len(self.run.entries), detailed=len(detailed), thumbnails=self.thumbnails,
                          not_shown=self.not_shown)

    def _header(self) -> str:
        run, counts = self.run, self.run.counts()
        made = datetime.datetime.fromtimestamp(run.path.stat().st_mtime, datetime.UTC)
        now = datetime.datetime.now(datetime.UTC)
        frames = f"{counts['frames']:,} frames" if counts["frames"] >= 0 else "frames unknown"
        facts = [f"{counts['videos']:,} videos: <b>{counts['ok']:,} ok</b>, {counts['partial']:,} partial (damaged), "
                 f"<b>{counts['failed']:,} failed</b>" if run.videos is not None else
                 f"{counts['videos']:,} videos with faces (no videos table beside it: statuses, failed files and "
                 "frame counts unknown)",
                 f"{frames}; {counts['faces']:,} faces (one face in one analysed frame); {counts['tracks']:,} tracks"]
        settings = run.settings
        sample_fps = settings.get("sample_fps")
        rows = [("analysed", f"{made:%Y-%m-%d %H:%M} UTC (the timelines file's time)"),
                ("detector", settings.get("detector")),
                ("frames analysed", f"{sample_fps:g} a second (--fps)" if sample_fps else "every frame"),
                ("faces detected", _detection_rule(settings)),
                ("crop", f"version {settings.get('crop')}, margins {settings.get('margins')}"),
                ("classifier engine", f"{settings.get('engine')} (ran: {run.engine or 'not recorded'})"
                 + (", mirrored" if settings.get("mirror") else "")),
                ("model", _model_name(settings.get("model"))),
                ("smoothing", f"{settings.get('smooth_s', 0):g} s in the file; this page and its answers: "
                              f"{self.config.smooth_s:g} s, tracks linked across gaps up to {self.config.max_gap_s:g} s"
                              " (as fervid summarize)"),
                ("report", f"written {now:%Y-%m-%d %H:%M} UTC by fervid {__version__}")]
        if not settings:
            rows.insert(1, ("settings", "not recorded in the file's metadata (not written by fervid analyze?)"))
        table = "".join(f"<tr><th>{_text(name)}</th><td>{_text(value)}</td></tr>" for name, value in rows)
        return (f"<h1>fervid report: {_text(run.path.name)}</h1><p class=path>{_text(run.path.absolute())}</p>"
                f"<p class=facts>{'<br>'.join(facts)}</p><table class=settings>{table}</table>")

    def _not_shown(self) -> str:
        if not self.not_shown:
            return ""
        items = "".join(f"<li>{_text(line)}</li>" for line in self.not_shown)
        return f"<div class=warn><b>Not shown on this page:</b><ul>{items}</ul></div>"

    def _problems(self) -> str:
        bad = [entry for entry in self.run.entries if entry.get("status") in (STATUS_ERROR, STATUS_PARTIAL)]
        if not bad:
            return "<h2>Failed and partial files</h2><p>None.</p>" if self.run.videos is not None else ""
        items = "".join(f"<li><span class='status {_text(entry['status'])}'>{_text(entry['status'])}</span> "
                        f"<a href='#{entry['anchor']}'>{_text(entry['name'])}</a>: {_text(entry.get('error'))}</li>"
                        for entry in bad)
        return f"<h2>Failed and partial files ({len(bad)})</h2><ul class=problems>{items}</ul>"

    def _collection(self) -> str:
        frames = self.run.prepared[EMOTION_SMOOTH].value_counts()
        frame_bars = [(name, int(frames.get(name, 0)), EMOTION_HEX[name]) for name in EMOTION_COLUMNS]
        groups = pd.Series([entry["group"] for entry in self.run.entries]).value_counts()
        video_bars = [(name, int(groups.get(name, 0)), EMOTION_HEX.get(name) or GROUP_HEX[name])
                      for name in (*EMOTION_COLUMNS, NO_ANSWER, NO_FACES, FAILED)]
        return ("<h2>The collection</h2><div class=charts>"
                f"<figure>{_bars(frame_bars)}<figcaption>Face-frames by smoothed expression</figcaption></figure>"
                f"<figure>{_bars(video_bars)}<figcaption>Videos by their answer (as fervid summarize gives it)"
                "</figcaption></figure></div>")

    def _table(self) -> str:
        head = "".join(f"<th>{name}</th>" for name in ("video", "status", "duration s", "frames", "faces", "tracks",
                                                        "face seconds", "answer", "share", "note"))
        rows = []
        for entry in self.run.entries:
            summary = entry["summary"]
            tracks = int(summary["tracks"]) if summary is not None else 0
            face_s = float(summary["face_seconds"]) if summary is not None else 0.0
            answer = entry["answer"] or (NO_ANSWER if entry["group"] == NO_ANSWER else "")
            colour = EMOTION_HEX.get(entry["answer"] or "", "transparent")
            status = entry.get("status") or "?"
            name = _text(entry["name"])
            cells = [f"<td data-sort='{name}'><a href='#{entry['anchor']}'>{name}</a></td>",
                     f"<td><span class='status {_text(status)}'>{_text(status)}</span></td>",
                     _number_cell(entry.get("duration_s"), "{:.1f}"), _number_cell(entry.get("frames_total"), "{:,}"),
                     _number_cell(entry.get("faces", len(self.run.positions.get(entry["video_id"], []))), "{:,}"),
                     _number_cell(tracks, "{:,}"), _number_cell(face_s, "{:.1f}"),
                     f"<td class=answer><i style='background:{colour}'></i>{_text(answer)}</td>",
                     _number_cell(entry["share"], "{:.0%}"), f"<td class=note>{_text(entry['note'])}</td>"]
            rows.append(f"<tr data-anchor={entry['anchor']} data-video-id='{_text(entry.get('video_id'))}'>"
                        f"{''.join(cells)}</tr>")
        return (f"<h2>Videos ({len(rows):,})</h2><p><input id=filter type=search placeholder='filter: a name, "
                "status, answer or message' size=50> <span id=shown></span> Click a column to sort.</p>"
                f"<table id=videos><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")

    def _section(self, entry: dict, thumbnails: bool) -> str:
        run, config = self.run, self.config
        tracks = run.tracks.iloc[run.track_positions.get(entry["video_id"], [])]
        shown = tracks.sort_values(["seconds", TRACK_COLUMN], ascending=[False, True]).head(config.max_tracks)
        shown = shown.sort_values(TRACK_COLUMN)
        rows = run.rows_of(entry["video_id"])
        end_s = float(entry.get("duration_s") or 0) or float(rows["timestamp_s"].max()) + 1e-3
        picks = {track_id: _picks(rows[rows[TRACK_COLUMN] == track_id], config.thumbnails_per_track)
                 for track_id in shown[TRACK_COLUMN]} if thumbnails and config.thumbnails_per_track else {}
        images, problem = self._thumbnail_images(entry, rows, picks)
        summary = entry["summary"]
        answer = entry["answer"] or f"{NO_ANSWER} ({entry['note']})"
        video_share = f" {entry['share']:.0%}" if entry["answer"] else ""
        more = f"; showing the {len(shown)} longest-seen of {len(tracks)}" if len(tracks) > len(shown) else ""
        parts = [f"<section id={entry['anchor']}><h3>{_text(entry['name'])} <span class='status "
                 f"{_text(entry.get('status') or '?')}'>{_text(entry.get('status') or '?')}</span></h3>",
                 f"<p class=path>{_text(entry['video_path'])}</p>",
                 f"<p>{len(rows):,} faces, {_plural(int(summary['tracks']), 'track')}{more}. Answer: "
                 f"<b>{_text(answer)}</b>{video_share}. Each timeline spans the video, 0 to {end_s:.1f} s.</p>"]
        if problem:
            parts.append(f"<p class=warn>Thumbnails not shown: {_text(problem)}</p>")
        for track in shown.itertuples():
            track_rows = rows[rows[TRACK_COLUMN] == track.track_id]
            segments = run.segments.iloc[run.segment_positions.get((entry["video_id"], track.track_id), [])]
            track_answer, reason = answer_of(track._asdict())
            share = float(getattr(track, f"share_{track_answer}")) if track_answer else None
            label = f"{track_answer} {share:.0%}" if track_answer else f"{NO_ANSWER} ({reason})"
            thumbs = "".join(images.get((track.track_id, t), "") for t in picks.get(track.track_id, []))
            parts.append(f"<div class=track data-track={track.track_id} data-seconds={track.seconds:.6g} "
                         f"data-answer='{_text(track_answer or NO_ANSWER)}' data-share={_number(share)}>"
                         f"<div class=label>track {track.track_id}<br>{track.seconds:.1f} s seen<br>"
                         f"<b>{_text(label)}</b></div>{_timeline_svg(track_rows, segments, end_s)}"
                         f"<div class=thumbs>{thumbs}</div></div>")
        return "".join(parts) + "</section>"

    def _thumbnail_images(self, entry: dict, rows: pd.DataFrame, picks: dict) -> tuple[dict, str | None]:
        """HTML of each picked (track, time): the crop the model saw and the frame around it; or why not."""
        if not picks:
            return {}, None
        source = _locate(str(entry["video_path"]), entry.get("video_id"), self.config.videos_dir)
        if source is None:
            problem = f"{entry['video_path']} is not there (moved? pass --videos-dir)"
            self.not_shown.append(f"thumbnails of {entry['name']}: {problem}")
            return {}, problem
        try:
            images = _thumbnails(source, rows, picks, self.run.settings, entry.get("fps"))
        except Exception as error:  # noqa: BLE001 - an unreadable video must not cost the rest of the page
            problem = f"{source}: {error}"
            self.not_shown.append(f"thumbnails of {entry['name']}: {problem}")
            return {}, problem
        self.thumbnails += len(images)
        return images, None


def _locate(video_path: str, video_id: str | None, videos_dir: str | None) -> str | None:
    """The video file: where it was analysed, or in ``videos_dir`` under its name when its content id matches."""
    from .sources import fingerprint

    if Path(video_path).is_file():
        return video_path
    if videos_dir is not None:
        candidate = Path(videos_dir) / Path(video_path).name
        if candidate.is_file() and (video_id is None or fingerprint(str(candidate)) == video_id):
            return str(candidate)
    return None


def _picks(track_rows: pd.DataFrame, count: int) -> list[float]:
    """``count`` timestamps spread over the track (its first, middle, last... rows)."""
    times = track_rows["timestamp_s"].to_numpy()
    return sorted({float(times[i]) for i in np.linspace(0, len(times) - 1, min(count, len(times))).round().astype(int)})


def _thumbnails(source: str, rows: pd.DataFrame, picks: dict, settings: dict, fps: float | None) -> dict:
    """Decode each picked frame, find its faces again with the run's detector and crop (``cut_faces``, the code
    that cut what the model saw), and render the track's crop and the frame around it."""
    import cv2

    from .crops import cached_detector
    from .detect import DEFAULT_DETECTOR, FRAMING, cut_faces
    from .video import probe, read_range

    detector_name = settings.get("detector") or DEFAULT_DETECTOR
    margins = tuple(settings.get("margins") or FRAMING[detector_name])
    detector = cached_detector(detector_name)
    fps = float(fps) if fps and fps > 0 else probe(source).fps
    half_frame = 0.25 / fps if fps > 0 else 1e-3
    images = {}
    for time_s in sorted({t for times in picks.values() for t in times}):
        frame = next(iter(read_range(source, time_s - half_frame, time_s + half_frame, fps)), None)
        if frame is None or frame.image is None:
            continue
        faces = cut_faces(frame.grey, detector.detect(frame.image), margins)  # as analyze cuts them: from grey
        for track_id, times in picks.items():
            if time_s not in times:
                continue
            row = rows[(rows[TRACK_COLUMN] == track_id) & (rows["timestamp_s"] == time_s)].iloc[0]
            box = np.array([row.x, row.y, row.w, row.h])
            match = _best_match(faces.boxes, box)
            crop = (f"<img class=crop src='{_data_uri(cv2.imencode('.png', faces.crops[match])[1], 'png')}' "
                    "alt='the 48x48 crop the model saw'>") if match is not None else \
                "<span class=crop>face not found again</span>"
            picture = frame.image.copy()
            thickness = max(2, picture.shape[1] // 200)
            cv2.rectangle(picture, (int(row.x), int(row.y)), (int(row.x + row.w), int(row.y + row.h)),
                          emotion_bgr(row[EMOTION_SMOOTH]), thickness)
            scale = 200 / picture.shape[1]
            picture = cv2.resize(picture, (200, max(1, round(picture.shape[0] * scale))), interpolation=cv2.INTER_AREA)
            jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 70])[1]
            images[(track_id, time_s)] = (
                f"<figure>{crop}<img class=frame src='{_data_uri(jpeg, 'jpeg')}' alt='the frame around it'>"
                f"<figcaption>{time_s:.1f} s, {_text(row[EMOTION_SMOOTH])}</figcaption></figure>")
    return images


def _best_match(boxes: np.ndarray, box: np.ndarray) -> int | None:
    """Index of the detected box that is the row's box (intersection over union above 0.9), or None."""
    if not len(boxes):
        return None
    x0 = np.maximum(boxes[:, 0], box[0])
    y0 = np.maximum(boxes[:, 1], box[1])
    x1 = np.minimum(boxes[:, 0] + boxes[:, 2], box[0] + box[2])
    y1 = np.minimum(boxes[:, 1] + boxes[:, 3], box[1] + box[3])
    overlap = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = boxes[:, 2] * boxes[:, 3] + box[2] * box[3] - overlap
    iou = overlap / np.maximum(union, 1)
    best = int(np.argmax(iou))
    return best if iou[best] > 0.9 else None


def _timeline_svg(track_rows: pd.DataFrame, segments: pd.DataFrame, end_s: float) -> str:
    """The seven smoothed probabilities of one track over the video's time, a ribbon of the dominant emotion above."""
    width, height, ribbon = 720, 120, 12  # user units; drawn at half size, so coordinates can be integers
    times = track_rows["timestamp_s"].to_numpy(np.float64)
    probabilities = track_rows[list(SMOOTH_COLUMNS)].to_numpy(np.float64)
    keep = np.unique(np.linspace(0, len(times) - 1, min(len(times), TIMELINE_POINTS)).round().astype(int))
    times, probabilities = times[keep], probabilities[keep]
    x = np.round(times / end_s * width).astype(int)
    y = np.round(height - 2 - probabilities * (height - ribbon - 6)).astype(int)
    # A gap in the track (face unseen) breaks the lines instead of drawing across it.
    step = np.median(np.diff(times)) if len(times) > 1 else 0
    starts = np.r_[True, np.diff(times) > 3 * step] if step > 0 else np.ones(len(times), bool)
    parts = [f"<svg viewBox='0 0 {width} {height}' width={width // 2} height={height // 2}>"
             f"<rect width={width} height={height} class=frame /><line x1=0 x2={width} y1={(height + ribbon) // 2 + 2} "
             f"y2={(height + ribbon) // 2 + 2} class=grid />"]
    for segment in segments.itertuples():
        left = round(segment.start_s / end_s * width)
        parts.append(f"<rect x={left} width={max(1, round(segment.end_s / end_s * width) - left)} height={ribbon} "
                     f"fill='{EMOTION_HEX[segment.emotion]}'><title>{_text(segment.emotion)} "
                     f"{segment.start_s:.1f}-{segment.end_s:.1f} s</title></rect>")
    runs = np.split(np.arange(len(x)), np.flatnonzero(starts)[1:])
    for column, name in enumerate(EMOTION_COLUMNS):
        # Moves relative to the last point ("l" and its implicit repeats): a third shorter than absolute points.
        path = "".join(f"M{x[run[0]]} {y[run[0], column]}l" + " ".join(
            f"{dx} {dy}" for dx, dy in zip(np.diff(x[run]), np.diff(y[run, column]))) if len(run) > 1 else
            f"M{x[run[0]] - 2} {y[run[0], column]}h4" for run in runs)
        parts.append(f"<path d='{path.replace(' -', '-')}' stroke='{EMOTION_HEX[name]}' />")
    return "".join(parts) + "</svg>"


def _bars(items: list[tuple[str, int, str]]) -> str:
    """A horizontal bar chart (SVG): label, count and share per item."""
    total = sum(count for _, count, _ in items) or 1
    widest = max((count for _, count, _ in items), default=0) or 1
    row, width = 22, 420
    parts = [f"<svg viewBox='0 0 {width} {row * len(items)}' width={width} height={row * len(items)}>"]
    for number, (label, count, colour) in enumerate(items):
        top = number * row
        parts.append(f"<text x=0 y={top + 15}>{_text(label)}</text><rect x=90 y={top + 3} height={row - 6} "
                     f"width={round(200 * count / widest)} fill='{colour}' stroke='#999' stroke-width=0.5 />"
                     f"<text x=300 y={top + 15}>{count:,} ({count / total:.0%})</text>")
    return "".join(parts) + "</svg>"


def _legend() -> str:
    items = "".join(f"<span><i style='background:{EMOTION_HEX[name]}'></i>{name}</span>" for name in EMOTION_COLUMNS)
    return f"<p class=legend>{items}</p>"


def _model_name(model_fingerprint: str | None) -> str:
    if not model_fingerprint:
        return "not recorded"
    from fervid.model.artifact import SHIPPED_MODELS, find_model

    from .sources import fingerprint

    for name in SHIPPED_MODELS:
        try:
            if fingerprint(str(find_model(name))) == model_fingerprint:
                return f"fingerprint {model_fingerprint} (fervid's shipped model {name!r})"
        except (FervidError, OSError):
            continue
    return f"fingerprint {model_fingerprint}"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _number(value) -> str:
    """A value for a data attribute: 6 significant digits, or -1 when there is none (sorts first)."""
    return "-1" if value is None or pd.isna(value) else f"{float(value):.6g}"


def _number_cell(value, pattern: str) -> str:
    """A table cell showing ``value`` rounded, with the unrounded value to sort by (and for tests to read)."""
    shown = "" if value is None or pd.isna(value) else pattern.format(value)
    return f"<td data-sort={_number(value)}>{shown}</td>"


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else html.escape(str(value))


def _data_uri(encoded: np.ndarray, kind: str) -> str:
    return f"data:image/{kind};base64,{base64.b64encode(encoded.tobytes()).decode()}"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.5em;margin-bottom:0}h2{margin-top:1.5em;border-bottom:1px solid #ddd}h3{margin-bottom:0}
.path{color:#777;font-size:12px;margin:0;word-break:break-all}
table.settings th{text-align:left;padding-right:1em;font-weight:normal;color:#666}
.warn{background:#fff4d6;padding:.3em .8em;border-left:4px solid #e0a800}
.status{padding:0 .4em;border-radius:3px;font-size:12px;background:#dfd}
.status.error{background:#c00;color:#fff}.status.partial{background:#f0b400}
.charts{display:flex;flex-wrap:wrap;gap:2em}figure{margin:0}svg text{font-size:13px}
#videos{border-collapse:collapse;width:100%;font-size:13px}
#videos th{position:sticky;top:0;background:#eee;cursor:pointer;text-align:left;padding:3px 6px}
#videos td{border-top:1px solid #eee;padding:2px 6px}#videos td[data-sort]{text-align:right}
#videos td:first-child{text-align:left}.note{color:#a00;font-size:12px}
i{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:middle}
.legend span{margin-right:1em}
section{border-top:1px solid #ddd;margin-top:1em}
.track{display:flex;align-items:center;gap:1em;margin:.5em 0}.track .label{width:9em;font-size:12px}
.track svg{flex:none}svg .frame{fill:#fafafa;stroke:#ccc}svg .grid{stroke:#ddd}
svg path{fill:none;stroke-width:3}
.thumbs{display:flex;gap:.5em}.thumbs figure{text-align:center;font-size:11px;color:#666}
img.crop{width:72px;height:72px;image-rendering:pixelated;display:block;margin:0 auto 2px}
img.frame{width:120px;display:block}span.crop{display:block;width:72px;font-size:11px}
"""

# Sort by a column (numbers by their data-sort value), filter rows by text; the filter also hides the videos'
# sections, so the page below shows only what the table shows.
_SCRIPT = """
const table = document.getElementById("videos"), body = table.tBodies[0], filter = document.getElementById("filter");
table.tHead.querySelectorAll("th").forEach((th, column) => th.onclick = () => {
  const up = th.dataset.up = th.dataset.up === "1" ? "0" : "1";
  const key = row => row.cells[column].dataset.sort ?? row.cells[column].textContent;
  const rows = [...body.rows].sort((a, b) => {
    const x = key(a), y = key(b), d = parseFloat(x) - parseFloat(y);
    return (isNaN(d) ? x.localeCompare(y) : d) * (up === "1" ? 1 : -1);
  });
  body.append(...rows);
});
filter.oninput = () => {
  const words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const row of body.rows) {
    const text = row.textContent.toLowerCase();
    row.hidden = !words.every(word => text.includes(word));
    shown += !row.hidden;
    const section = document.getElementById(row.dataset.anchor);
    if (section) section.hidden = row.hidden;
  }
  document.getElementById("shown").textContent = `${shown} of ${body.rows.length} shown.`;
};
"""


def _detection_rule(settings: dict) -> str:
    """How often the detector ran (``--detect-every``), as the run's settings record it."""
    every = settings.get("detect_every", 1)  # outputs made before the setting existed detected every frame
    if every is None:
        return (f"about every {settings.get('detect_interval_s')} s of analysed video, faces carried between "
                "(the default; column detected)")
    if every > 1:
        return f"every {every} analysed frames, faces carried between (--detect-every; column detected)"
    return "in every analysed frame"
