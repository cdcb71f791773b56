"""Which Ray to join: the one named (``--address`` or ``RAY_ADDRESS``), else the local cluster Ray recorded if it
still answers, else a fresh local Ray. Shared by ``fervid analyze`` (``fervid.pipeline.job.connect``) and
``fervid train --workers N`` (``fervid.model.distributed``).

``ray.init(address=None)`` joins the cluster whose address ``ray start`` wrote to ``ray_current_cluster`` in Ray's
temp folder (``$RAY_TMPDIR/ray``, default ``/tmp/ray``). A Ray that died without cleaning up (OOM kill, ``kill -9``,
a container restart) leaves that record behind, and ``ray.init`` then retries the dead address for ever, printing a
GCS warning every few seconds (seen for 12 minutes). So the record is checked first, with a plain TCP connection.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable

# A live GCS accepts a connection at once; a dead one on this host refuses it at once; a host that is gone never
# answers, and this bounds the wait for it.
RECORD_ANSWER_S = 3.0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ray_address(address: str | None, notice: Callable[[str], None] = _stderr) -> str | None:
    """What to pass to ``ray.init(address=...)``: ``address`` or ``RAY_ADDRESS`` as given; ``None`` (join the
    recorded cluster, or start a local Ray when there is no record) when the record answers or is absent;
    ``"local"`` (a fresh local Ray), after one ``notice`` line, when the recorded cluster does not answer."""
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        return address
    record, recorded = _recorded_cluster()
    if recorded is None or _answers(recorded):
        return None
    notice(f"fervid: the Ray cluster recorded in {record} ({recorded}) does not answer; starting a fresh local "
           "Ray (delete that file to clear the record)")
    return "local"


def _recorded_cluster() -> tuple[str, str | None]:
    """(the record file, the address in it or None)."""
    from ray._common.utils import get_ray_address_file  # the file Ray's own ray.init(address=None) reads

    record = get_ray_address_file(None)
    try:
        with open(record) as file:
            return record, file.read().strip() or None
    except OSError:
        return record, None


def _answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RECORD_ANSWER_S):
            return True
    except (OSError, ValueError):
        return False
