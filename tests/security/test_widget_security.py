"""Issue 13, attacks 2 and 8, against the running stack (real Rasa, real sockets, real Chromium).

2. Widget session takeover: a second socket that presents only the victim's session id (in
   `session_request` or `user_uttered`) must get a new session of its own, never the victim's
   room, transcript or conversation.
8. Widget server override: `?rasa=https://elsewhere` on the host page's URL must not re-point
   the widget; only the embedding tag's `data-server` names the server.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator, List
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.test_widget import WidgetUser, own_loop, texts
from tests.stack import Stack

AMOUNT = "1509.00"


async def victim_with_a_balance(stack: Stack) -> WidgetUser:
    """A resident who proved who they are and was told their balance (an amount in the transcript)."""
    victim = await WidgetUser(stack).connect()
    await victim.start()
    await victim.say("查欠费")
    assert AMOUNT in texts(await victim.say("户号2024000001 尾号5678"))
    return victim


@pytest.mark.parametrize("rich", [True, False], ids=["heatdesk-client", "plain-rasa-client"])
@own_loop
async def test_session_request_with_the_victims_id_gets_a_new_session(stack: Stack, rich: bool) -> None:
    victim = await victim_with_a_balance(stack)
    attacker = await WidgetUser(stack).connect()
    try:
        confirm = await attacker.start({"session_id": victim.session_id or ""}, last_message_id=0, rich=rich)
        assert attacker.session_id != victim.session_id
        assert victim.session_id not in str(confirm)
        await attacker.quiet(1.5)
        leaked = [event for event in attacker.events if AMOUNT in str(event) or victim.session_id in str(event)]
        assert leaked == []
        # The victim's next answer reaches the victim only.
        before = len(attacker.of("bot_uttered"))
        assert await victim.say("滞纳金怎么算")
        await attacker.quiet(1.5)
        assert attacker.of("bot_uttered")[before:] == []
    finally:
        await attacker.close()
        await victim.close()


@own_loop
async def test_user_uttered_with_the_victims_id_is_not_the_victims_message(stack: Stack) -> None:
    victim = await victim_with_a_balance(stack)
    attacker = await WidgetUser(stack).connect()
    try:
        # No session_request at all: straight to a message naming the victim's session.
        victim_events = len(victim.events)
        await attacker.client.emit("user_uttered", {"message": "查欠费", "session_id": victim.session_id})
        handle = (await attacker.wait(lambda: attacker.of("session_confirm")))[0]
        assert isinstance(handle, str) and not handle.startswith(victim.session_id or "-")
        answer = texts(await attacker.wait(lambda: attacker.of("bot_uttered")))
        assert AMOUNT not in answer and "户号" in answer  # a stranger is asked to prove who they are
        await victim.quiet(1.5)
        assert victim.events[victim_events:] == []  # nothing of it reached the victim's socket
    finally:
        await attacker.close()
        await victim.close()


class RecordingServer:
    """Where `?rasa=` would send the widget: records every request it gets."""

    def __init__(self) -> None:
        self.paths: List[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                recorder.paths.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def elsewhere() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.httpd.shutdown()


def test_rasa_query_parameter_does_not_repoint_the_widget(
    new_context: Callable[..., BrowserContext], stack: Stack, elsewhere: RecordingServer
) -> None:
    page = new_context().new_page()
    page.goto(f"{stack.url('console')}/?rasa={quote(elsewhere.url, safe='')}")
    host = page.locator("#heatdesk-widget")
    expect(host).to_have_attribute("data-connection", "open", timeout=30_000)
    assert page.evaluate("window.HeatDeskWidget.server") == stack.url("rasa")
    page.wait_for_timeout(1000)
    assert elsewhere.paths == []
    assert httpx.get(elsewhere.url + "/probe", timeout=5).status_code == 404 and elsewhere.paths == ["/probe"]
