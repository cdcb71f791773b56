"""Fixtures for the pipeline tests: one Ray session per test module that needs one (starting Ray costs ~5-15 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def ray_session():
    """The Ray that ``fervid.pipeline.job.analyze`` would start, shared by a module's tests (analyze joins a Ray
    that is already up) and shut down afterwards, so other test folders find none of ours running."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # someone else's session: use it, leave it to its owner
        yield
        return
    from fervid.pipeline.job import connect

    connect(None)
    yield
    ray.shutdown()
