"""What a terminal shows during ``fervid analyze`` and ``evaluate``: fervid's progress and results, not the engines'
own chatter.

Ray's C++ core writes some log lines straight to file descriptor 2, where no Python logging setting reaches them.
One of them comes with every run: Ray Data always puts an actor pool's constructor arguments in the object store,
and Ray then warns that restartable actors hold such arguments (ray-project/ray#53727). It says nothing a user can
act on; nor does LiteRT's note that it made an XNNPACK delegate, printed by every interpreter. ``filtered_stderr``
runs a command with descriptor 2 going through a filter that drops the lines in ``NOISE`` and passes every other
line on, so real errors still show; fervid's own lines go to the returned stream, which writes to the terminal
directly.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

# Substrings of lines that are known, harmless and not actionable.
NOISE = (
    "has constructor arguments in the object store and max_restarts > 0",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",  # LiteRT, once per interpreter
    # Ray's retries of a cluster that does not take this driver, once a second: fervid says why in one line at the
    # end (fervid.cluster.refusal).
    "Failed to get cluster ID from GCS server",
)


def _forward(read_fd: int, write_fd: int) -> None:
    with os.fdopen(read_fd, "rb") as source:
        for line in source:  # whole lines: the engines' log lines end in a newline
            if not any(pattern.encode() in line for pattern in NOISE):
                os.write(write_fd, line)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[TextIO]:
    """Inside the block descriptor 2 is filtered; yields a text stream on the real stderr for fervid's own output.

    Processes started inside the block (Ray's) keep writing through the filter after it, for as long as they and
    this process live; the filter thread is a daemon, so it never holds up the exit.
    """
    sys.stderr.flush()
    real_fd = os.dup(2)  # stays open: the filter thread writes to it for the rest of the process
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    threading.Thread(target=_forward, args=(read_fd, real_fd), daemon=True, name="stderr-filter").start()
    real = os.fdopen(os.dup(real_fd), "w", buffering=1)
    try:
        yield real
    finally:
        sys.stderr.flush()
        os.dup2(real_fd, 2)
        real.close()
