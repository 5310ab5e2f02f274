"""Shared test configuration: the repository root on sys.path, and the one running
HeatDesk stack (real processes, real Redis/SQL) that tests/e2e and tests/browser share."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Iterator, List

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pytest  # noqa: E402

from tests.stack import ALL, Stack  # noqa: E402


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Started on first use only; one per test session, whichever folders run."""
    if not (ROOT / "var" / "models" / "current.tar.gz").exists():
        raise RuntimeError("no trained model: run `make train` (make test does it)")
    running = Stack.create()
    running.flush_redis()
    try:
        running.start(ALL)
        yield running
    finally:
        running.stop_all()


class Resident:
    """A resident talking to the bot through the REST channel."""

    def __init__(self, stack: Stack, sender: str) -> None:
        self.stack = stack
        self.sender = sender

    def say(self, text: str, timeout: float = 30.0) -> List[str]:
        return [item.get("text", "") for item in self.say_full(text, timeout)]

    def say_full(self, text: str, timeout: float = 30.0) -> List[dict]:
        """The REST channel's answer as it is: texts with their quick-reply buttons."""
        answer = httpx.post(
            self.stack.url("rasa") + "/webhooks/rest/webhook",
            json={"sender": self.sender, "message": text},
            timeout=timeout,
        )
        answer.raise_for_status()
        return answer.json()

    def inbox(self) -> List[str]:
        answer = httpx.get(
            self.stack.url("rasa") + "/webhooks/rest/inbox", params={"sender": self.sender}, timeout=10
        )
        answer.raise_for_status()
        return [item.get("text", "") for item in answer.json()]


@pytest.fixture
def resident(stack: Stack) -> Resident:
    return Resident(stack, f"test-{uuid.uuid4().hex[:12]}")
