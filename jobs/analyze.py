"""``fervid analyze`` as a Ray job, for clusters: the CLI command itself (one set of flags, one library call),
plus ``--smoke-test``.

Submit (start the head from the activated environment; token auth is on by default in Ray 2.60):
    RAY_AUTH_MODE=token ray job submit --address http://HEAD:8265 --working-dir . -- \\
        python jobs/analyze.py s3://bucket/videos --out /shared/timelines.parquet --model /shared/fer2013.keras
Smoke test (the whole job on CPU on one short clip, the shipped model or an untrained one; about 30 s):
    python jobs/analyze.py --smoke-test
Flags and exit status are those of ``fervid analyze --help``: 0 all videos ok, 2 some failed, 1 usage error.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from fervid.cli import main as cli
from fervid.pipeline.smoke import model_or_untrained, short_clip


def main(argv: list[str]) -> None:
    if "--smoke-test" not in argv:
        cli(["analyze", *argv])
    argv = [arg for arg in argv if arg != "--smoke-test"]
    with tempfile.TemporaryDirectory(prefix="fervid-smoke-") as temporary:
        scratch = Path(temporary)
        model = [] if "--model" in argv else ["--model", model_or_untrained(None, scratch)]
        cli(["analyze", str(short_clip(scratch)), "--out", str(scratch / "smoke.parquet"), *model, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
