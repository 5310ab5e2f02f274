"""The real rasa-webchat (npm, pinned in tests/browser/webchat/package-lock.json) against our
socket.io channel, in Chromium: a site that already embeds Rasa's usual widget can switch to
HeatDesk. It greets with quick replies, answers typed text, hands off to a person whose reply
from the console arrives live, and keeps the conversation across a page reload.

rasa-webchat is fetched by scripts/ensure_webchat.sh (make test runs it) into a git-ignored,
test-only folder and served here by a local HTTP server on its own origin; it is never part of
what residents are served.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator, List

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import PageLog
from tests.stack import ROOT, Stack, wait_until

BUNDLE = ROOT / "tests" / "browser" / "webchat" / "node_modules" / "rasa-webchat" / "lib" / "index.js"
TICKET_NO = re.compile(r"GD\d{12}")

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>rasa-webchat 测试页</title></head>
<body>
<h1>某热力公司（rasa-webchat）</h1>
<script src="/rasa-webchat.js"></script>
<script>
  window.WebChat.default({
    socketUrl: %(server)s,
    socketPath: "/socket.io/",
    initPayload: "/greet",
    customData: {language: "zh"},
    title: "供热智能客服",
    embedded: true,
    params: {storage: "session"}
  }, null);
</script>
</body></html>
"""


def serve_page(server_url: str) -> ThreadingHTTPServer:
    """A stand-in for a company site that embeds rasa-webchat (another origin than Rasa's)."""
    page = (PAGE % {"server": json.dumps(server_url)}).encode("utf-8")
    bundle = BUNDLE.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body, kind = {"/": (page, "text/html; charset=utf-8"),
                          "/rasa-webchat.js": (bundle, "application/javascript")}.get(self.path, (b"", ""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind or "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture(scope="module")
def site(stack: Stack) -> Iterator[str]:
    if not BUNDLE.exists():
        raise RuntimeError("rasa-webchat is not installed: run scripts/ensure_webchat.sh (make test does it)")
    httpd = serve_page(stack.url("rasa"))
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def expect_bot(page: Page, text: str, timeout: float = 60_000) -> None:
    expect(page.locator(".rw-messages-container")).to_contain_text(text, timeout=timeout)


def send(page: Page, text: str) -> None:
    box = page.locator(".rw-new-message")
    box.fill(text)
    box.press("Enter")


def confirmed_sessions(console: List[str]) -> List[str]:
    """rasa-webchat logs `session_confirm:<socket> session_id:<id>` for each confirmation."""
    return [line.rsplit("session_id:", 1)[1] for line in console if line.startswith("session_confirm:")]


def test_rasa_webchat_talks_to_heatdesk(
    new_context: Callable[..., BrowserContext], site: str, stack: Stack, supervisor_api: httpx.Client
) -> None:
    page = new_context().new_page()
    log = PageLog(page)
    console: List[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(site)

    # The greeting, with our quick replies as rasa-webchat renders them.
    expect_bot(page, "智能客服小暖")
    replies = page.locator(".rw-replies .rw-reply")
    expect(replies.filter(has_text="查欠费")).to_be_visible(timeout=30_000)

    replies.filter(has_text="查欠费").click()
    expect_bot(page, "户号")

    send(page, "户号2024000001 尾号5678")
    expect_bot(page, "1509.00")

    send(page, "转人工")
    expect_bot(page, "工单号")
    ticket_no = TICKET_NO.search(page.locator(".rw-messages-container").inner_text()).group(0)  # type: ignore[union-attr]

    wait_until(lambda: supervisor_api.get(f"/api/tickets/{ticket_no}").status_code == 200, timeout=30)
    ticket = supervisor_api.get(f"/api/tickets/{ticket_no}").json()
    assert ticket["channel"] == "widget" and ticket["conversation_id"].startswith("widget:")
    assert supervisor_api.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
    first = "您好，我是人工客服，正在为您核对账单。"
    assert supervisor_api.post(f"/api/tickets/{ticket_no}/messages", json={"text": first}).status_code == 201
    expect_bot(page, first, timeout=30_000)

    # A reload: rasa-webchat resumes with the session it was given and still gets agent replies.
    wait_until(lambda: confirmed_sessions(console), timeout=10)
    handle = confirmed_sessions(console)[0]
    assert ticket["conversation_id"] == "widget:" + handle.split(".")[0]
    page.reload()
    expect_bot(page, first, timeout=30_000)  # its own stored history
    wait_until(lambda: len(confirmed_sessions(console)) > 1, timeout=30)
    assert confirmed_sessions(console)[-1] == handle  # the same session, resumed with its token
    second = "账单已核对，稍后给您回电。"
    assert supervisor_api.post(f"/api/tickets/{ticket_no}/messages", json={"text": second}).status_code == 201
    expect_bot(page, second, timeout=30_000)
    text = page.locator(".rw-messages-container").inner_text()
    assert text.count(second) == 1 and "message_id" not in text
    transcript = supervisor_api.get(f"/api/tickets/{ticket_no}").json()["messages"]
    assert [m["text"] for m in transcript if m["sender"] == "agent"] == [first, second]
    assert log.script_errors() == []
    supervisor_api.post(f"/api/tickets/{ticket_no}/resolve", json={"resolution_category": "answered"})
