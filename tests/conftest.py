"""Shared test configuration: the repository root on sys.path, and the one running
HeatDesk stack (real processes, real Redis/SQL) that tests/e2e and tests/browser share."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, List

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pytest  # noqa: E402

from tests.fakes.wechat_api import FakeWeChat  # noqa: E402
from tests.stack import ALL, Stack  # noqa: E402


@pytest.fixture(scope="session")
def wechat_api() -> Iterator[FakeWeChat]:
    """The WeChat API the shared stack talks to (a real local server): agent replies, resolve
    notices and the rating question reach WeChat residents there."""
    fake = FakeWeChat(appid=WECHAT_APPID, secret=WECHAT_APPSECRET).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def stack(wechat_api: FakeWeChat) -> Iterator[Stack]:
    """Started on first use only; one per test session, whichever folders run."""
    if not (ROOT / "var" / "models" / "current.tar.gz").exists():
        raise RuntimeError("no trained model: run `make train` (make test does it)")
    # WeChat in safe mode, as production should run it: plain callbacks are refused (issue 13).
    running = Stack.create(WECHAT_AES_KEY=WECHAT_AES_KEY, WECHAT_APPID=WECHAT_APPID,
                           WECHAT_APPSECRET=WECHAT_APPSECRET, WECHAT_API_BASE=wechat_api.base_url)
    running.flush_redis()
    try:
        running.start(ALL)
        yield running
    finally:
        running.stop_all()


INBOX_TOKEN_HEADER = "X-HeatDesk-Inbox-Token"
#: The shared stack's EncodingAESKey (43 characters, 32 bytes once decoded).
WECHAT_AES_KEY = "HeatDeskSharedTestStackEncodingAESKey012345"
WECHAT_APPID = "wx0000000000000001"
WECHAT_APPSECRET = "test-secret"


class Resident:
    """A resident talking to the bot through the REST channel.

    Keeps the inbox token the channel issues on the conversation's first POST and
    presents it afterwards, as a real REST client must to receive agent replies.
    """

    def __init__(self, stack: Stack, sender: str) -> None:
        self.stack = stack
        self.sender = sender
        self.token = ""

    @property
    def conversation_id(self) -> str:
        """The REST channel owns its conversations: `rest:<sender>`."""
        return f"rest:{self.sender}"

    def say(self, text: str, timeout: float = 30.0) -> List[str]:
        return [item.get("text", "") for item in self.say_full(text, timeout)]

    def say_full(self, text: str, timeout: float = 30.0) -> List[dict]:
        """The REST channel's answer as it is: texts with their quick-reply buttons."""
        answer = httpx.post(
            self.stack.url("rasa") + "/webhooks/rest/webhook",
            json={"sender": self.sender, "message": text},
            headers={INBOX_TOKEN_HEADER: self.token} if self.token else {},
            timeout=timeout,
        )
        answer.raise_for_status()
        self.token = answer.headers.get(INBOX_TOKEN_HEADER) or self.token  # a new one after Redis lost it
        return answer.json()

    def inbox(self) -> List[str]:
        return [item.get("text", "") for item in self.inbox_full()]

    def inbox_full(self) -> List[dict]:
        """What waited in the inbox as the channel hands it out (texts with their buttons), once."""
        answer = httpx.get(
            self.stack.url("rasa") + "/webhooks/rest/inbox",
            params={"sender": self.sender},
            headers={INBOX_TOKEN_HEADER: self.token},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()


@pytest.fixture
def resident(stack: Stack) -> Resident:
    return Resident(stack, f"test-{uuid.uuid4().hex[:12]}")


CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, once per session (one sync Playwright per thread).

    Imported lazily: the Rasa-side environment, which also reads this file, has no Playwright.
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError("Debian's chromium is missing: run scripts/ensure_chromium.sh (make browser)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(chromium: Any) -> Iterator[Callable[..., Any]]:
    contexts: List[Any] = []

    def make(**options: object) -> Any:
        context = chromium.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
