"""bot.action_guard: an unreachable action server yields an apology, a rejection stays a rejection."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Iterator

import pytest


from rasa.core.actions.action import ActionExecutionRejection, RemoteAction  # noqa: E402
from rasa.core.channels.channel import CollectingOutputChannel  # noqa: E402
from rasa.core.nlg import TemplatedNaturalLanguageGenerator  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import BotUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402
from rasa.utils.endpoints import EndpointConfig  # noqa: E402

from bot import action_guard  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Answer(BaseHTTPRequestHandler):
    status = 500
    body = b"{}"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def action_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _run(url: str) -> list:
    action_guard.install()
    action_guard.install()  # idempotent: one wrapper only
    domain = Domain.empty()
    remote = RemoteAction("action_city_answer", EndpointConfig(url))
    tracker = DialogueStateTracker("resident-1", [])
    return asyncio.run(
        remote.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain)
    )


def test_unreachable_action_server_gives_an_apology_with_the_hotline() -> None:
    events = _run(f"http://127.0.0.1:{_free_port()}/webhook")
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    assert "抱歉" in events[0].text and "热线" in events[0].text
    assert events[0].metadata == {"action_failed": "action_city_answer"}


def test_action_server_error_status_gives_an_apology(action_server: HTTPServer) -> None:
    _Answer.status, _Answer.body = 502, b"bad gateway"
    events = _run(f"http://127.0.0.1:{action_server.server_port}/webhook")
    assert isinstance(events[0], BotUttered) and "抱歉" in events[0].text


def test_a_rejection_is_not_turned_into_an_apology(action_server: HTTPServer) -> None:
    _Answer.status = 400
    _Answer.body = json.dumps({"action_name": "action_city_answer", "error": "no"}).encode()
    with pytest.raises(ActionExecutionRejection):
        _run(f"http://127.0.0.1:{action_server.server_port}/webhook")
