"""Fault tests run on the scaled-out cluster of tests/scale (shared within one pytest session)."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.scale.cluster import Cluster, acquire_cluster, release_cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    running = acquire_cluster()
    try:
        yield running
    finally:
        release_cluster()
