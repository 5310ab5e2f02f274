"""The tests' HeatDesk stack: scripts/stack.py's starter on the test Redis database.

Each test run uses the Redis database HEATDESK_TEST_REDIS_DB (default 9; helpers running suites
side by side each take their own) and waits HEATDESK_TEST_START_TIMEOUT seconds for a process to
become healthy (raise it on a loaded machine).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from scripts import stack
from scripts.stack import ALL, ROOT, free_port, wait_until

__all__ = ["ALL", "ROOT", "START_TIMEOUT", "TEST_REDIS_DB", "TODAY", "Stack", "free_port", "wait_until"]

TEST_REDIS_DB = int(os.environ.get("HEATDESK_TEST_REDIS_DB", "9"))
START_TIMEOUT = float(os.environ.get("HEATDESK_TEST_START_TIMEOUT", str(stack.START_TIMEOUT)))
TODAY = stack.FIXED_TODAY


@dataclass
class Stack(stack.Stack):
    """A stack on the test Redis database, waiting START_TIMEOUT for each process by default."""

    start_timeout: float = START_TIMEOUT

    @classmethod
    def create(cls, **overrides: str) -> "Stack":  # type: ignore[override]  # the database is the tests'
        return super().create(TEST_REDIS_DB, start_timeout=START_TIMEOUT, **overrides)  # type: ignore[return-value]
