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


# How long ray.init may retry a named cluster that does not take this driver. Ray's own default is 20 tries a second
# apart, each printing a GCS warning, then a traceback; a refusal (a wrong token, none) never heals by retrying.
JOIN_TRIES = 3


def use_token_if_present(address: str | None) -> None:
    """Turn on Ray's token mode for a named cluster when this machine has a token, as Ray does for a cluster it
    finds itself. ``ray start --head`` runs in token mode once ``~/.ray/auth_token`` exists (every local Ray writes
    one), but ``ray.init(address=...)`` with an explicit address never reads it, so a driver naming the head's
    address was refused. An explicit ``RAY_AUTH_MODE`` is kept; a token sent to a cluster without token mode is
    ignored there (checked with Ray 2.60), so this costs nothing where it is not needed."""
    if address in (None, "local", "auto"):
        return  # a new local Ray, or one Ray finds itself: Ray decides, as always
    from ray._private.authentication.authentication_token_setup import maybe_enable_token_auth_if_token_available

    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def unreachable(address: str) -> str | None:
    """Why nothing takes a TCP connection at ``host:port`` (``ray://`` addresses are left to Ray), else None."""
    if "://" in address:
        return None
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RECORD_ANSWER_S):
            return None
    except ValueError:
        return "not a HOST:PORT address"
    except OSError as error:
        return error.strerror or type(error).__name__


def refusal(address: str, error: BaseException) -> str:
    """One line for a cluster that would not take this driver: what happened and what to set."""
    chain, text = error, ""
    while chain is not None:  # Ray's ConnectionError says where; the error it wraps says why
        text += f"{chain}\n"
        chain = chain.__cause__ or chain.__context__
    if any(sign in text for sign in ("InvalidAuthToken", "Unauthenticated", "authentication token")):
        return (f"the Ray cluster at {address} refused this driver: it uses token authentication and this machine "
                "has no token or another one; set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the cluster's token "
                "(`ray get-auth-token` on the head prints it)")
    if "Version mismatch" in text:
        import platform

        import ray

        return (f"the Ray cluster at {address} runs another Ray or Python than this fervid (Ray {ray.__version__}, "
                f"Python {platform.python_version()}); install the cluster's versions here: "
                f"{' '.join(text.split())[:300]}")
    return f"cannot join the Ray cluster at {address}: {' '.join(str(error).split())[:300]}"
