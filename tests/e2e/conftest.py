"""One running HeatDesk stack for the whole end-to-end session (real processes, real Redis/SQL)."""

from __future__ import annotations

import uuid
from typing import Iterator, List

import httpx
import pytest

from tests.stack import ALL, ROOT, Stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
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
        answer = httpx.post(
            self.stack.url("rasa") + "/webhooks/rest/webhook",
            json={"sender": self.sender, "message": text},
            timeout=timeout,
        )
        answer.raise_for_status()
        return [item.get("text", "") for item in answer.json()]

    def inbox(self) -> List[str]:
        answer = httpx.get(
            self.stack.url("rasa") + "/webhooks/rest/inbox", params={"sender": self.sender}, timeout=10
        )
        answer.raise_for_status()
        return [item.get("text", "") for item in answer.json()]


@pytest.fixture
def resident(stack: Stack) -> Resident:
    return Resident(stack, f"test-{uuid.uuid4().hex[:12]}")
