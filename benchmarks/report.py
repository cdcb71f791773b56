"""Time ``fervid report`` on a run of many videos, and weigh the page it writes.

Run: python benchmarks/report.py TIMELINES.parquet [--copies 143] [--work /tmp/report-bench]

Analysing 1,000 videos on 2 cores takes an hour, so the run is made from a real one: every video of TIMELINES (and
its videos table) is repeated ``--copies`` times under a new ``video_id`` and a new path, a symlink to the real
file, so the report finds and decodes the videos for its thumbnails as it would for real ones. The Parquet
metadata (the settings) is kept. Then the real ``fervid report`` command runs on it in its own process, timed
from start to exit, and the script prints the time, the page's size and its share per part.

    fervid analyze ../shared/data/videos --out /tmp/t.parquet
    python benchmarks/report.py /tmp/t.parquet --copies 143     # 7 clips x 143 = 1,001 videos
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fervid.pipeline.schema import videos_path


def repeat_run(timelines: Path, copies: int, work: Path) -> Path:
    """``work/t.parquet`` (+ videos table): each video of ``timelines`` ``copies`` times, as symlinked copies."""
    clips = work / "clips"
    clips.mkdir(parents=True)
    rows, videos = pq.read_table(timelines), pq.read_table(videos_path(timelines))
    repeated_rows, repeated_videos = [], []
    for copy in range(copies):
        new_path, new_id = {}, {}
        for path, video_id in zip(videos["video_path"].to_pylist(), videos["video_id"].to_pylist()):
            link = clips / f"{copy:04d}_{Path(path).name}"
            link.symlink_to(Path(path).resolve())
            new_path[path] = str(link)
            new_id[video_id] = hashlib.sha256(f"{video_id}/{copy}".encode()).hexdigest()[:16]

        def renamed(table: pa.Table) -> pa.Table:
            for column, mapping in (("video_path", new_path), ("video_id", new_id)):
                values = [mapping.get(value, value) for value in table[column].to_pylist()]
                table = table.set_column(table.schema.get_field_index(column), column,
                                         pa.array(values, table.schema.field(column).type))
            return table

        repeated_rows.append(renamed(rows))
        repeated_videos.append(renamed(videos))
    out = work / "t.parquet"
    combined = pa.concat_tables(repeated_rows)
    combined = combined.take(pc.sort_indices(combined, [("video_path", "ascending")]))
    pq.write_table(combined, out)
    pq.write_table(pa.concat_tables(repeated_videos), videos_path(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("timelines", type=Path)
    parser.add_argument("--copies", type=int, default=143)
    parser.add_argument("--work", type=Path, default=Path("/tmp/report-bench"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    timelines = repeat_run(args.timelines, args.copies, args.work)
    videos = pq.read_metadata(videos_path(timelines)).num_rows
    rows = pq.read_metadata(timelines).num_rows
    out = args.work / "report.html"
    fervid = Path(sys.executable).with_name("fervid")
    started = time.perf_counter()
    result = subprocess.run([str(fervid), "report", str(timelines), "--out", str(out)], capture_output=True,
                            text=True)
    seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"fervid report failed: {result.stderr.strip()}")
    page = out.read_text()
    size = len(page.encode())
    parts = {"images (data URIs)": sum(len(part.split("'", 1)[0]) for part in page.split("src='data:")[1:]),
             "timelines (SVG)": sum(len(part.split("</svg>", 1)[0]) for part in page.split("<svg")[1:]),
             "table": len(page.split("<table id=videos>", 1)[1].split("</table>", 1)[0])}
    print(f"{videos:,} videos, {rows:,} face rows: fervid report took {seconds:.1f} s (whole process), "
          f"page {size / 1e6:.1f} MB")
    for name, length in parts.items():
        print(f"  {name}: {length / 1e6:.1f} MB ({length / size:.0%})")
    print(f"  fervid: {result.stdout.strip()}")


if __name__ == "__main__":
    main()
