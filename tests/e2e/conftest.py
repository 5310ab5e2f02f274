"""End-to-end tests use the shared running stack from tests/conftest.py (`stack`, `resident`).

``Resident`` stays importable from here for the tests that import it by this path; ``console``
is a logged-in agent of that stack with helpers to read a conversation's ticket.
"""

from __future__ import annotations

from typing import Any, Dict, List

import httpx
import pytest

from tests.conftest import Resident
from tests.stack import Stack, wait_until

__all__ = ["Resident", "Console"]


class Console:
    """An agent at the console (logged in: that also marks the agent present)."""

    def __init__(self, stack: Stack) -> None:
        self.client = httpx.Client(base_url=stack.url("console"), timeout=15)
        self.client.post("/api/login", json={"username": "admin", "password": "admin-test-password"}).raise_for_status()

    def tickets(self, conversation_id: str) -> List[Dict[str, Any]]:
        """Tickets of a REST sender or widget session (with or without its channel prefix)."""
        for candidate in (conversation_id, f"rest:{conversation_id}", f"widget:{conversation_id}"):
            answer = self.client.get("/api/tickets", params={"conversation_id": candidate})
            answer.raise_for_status()
            if answer.json()["items"]:
                return answer.json()["items"]
        return []

    def ticket_of(self, conversation_id: str) -> Dict[str, Any]:
        """The conversation's newest ticket with its transcript, once the console persisted it."""
        first = wait_until(lambda: self.tickets(conversation_id), timeout=15)[0]
        return self.detail(first["ticket_no"])

    def detail(self, ticket_no: str) -> Dict[str, Any]:
        answer = self.client.get(f"/api/tickets/{ticket_no}")
        answer.raise_for_status()
        return answer.json()

    def present(self) -> None:
        """Any authenticated request keeps the agent on duty."""
        self.client.get("/api/me").raise_for_status()


@pytest.fixture
def console(stack: Stack) -> Console:
    return Console(stack)
