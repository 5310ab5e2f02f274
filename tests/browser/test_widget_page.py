"""The website chat widget on the demo homepage, in real headless Chromium against the running stack.

The page (console/static/index.html) embeds the widget with its one script tag; the console serves
it at `/` with `data-server` naming the stack's Rasa server (another origin and port, as in
production). A resident asks through a quick reply, proves who they are, gets the
balance, reloads (each message once), is handed to a person, sees the queue, the agent's name and reply (with an
unread badge while the panel is closed), and is handed back to the bot.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, List

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import PageLog, screenshot, serious_axe_violations
from tests.stack import Stack, wait_until

NewContext = Callable[..., BrowserContext]
TICKET_NO = re.compile(r"GD\d{12}")


@pytest.fixture(scope="module")
def home(stack: Stack) -> str:
    """The company homepage as the console serves it, pointed at this stack's Rasa server."""
    site = stack.url("console")
    page = httpx.get(site + "/", timeout=10)
    assert page.status_code == 200 and "heatdesk-widget.js" in page.text, "the console does not serve the demo page at /"
    widget = httpx.get(site + "/widget/heatdesk-widget.js", timeout=10)
    assert widget.status_code == 200 and "javascript" in widget.headers.get("content-type", "")
    return f"{site}/"


@pytest.fixture(scope="module")
def supervisor(stack: Stack) -> Iterator[httpx.Client]:
    client = httpx.Client(base_url=stack.url("console"), timeout=15)
    client.post("/api/login", json={"username": "admin", "password": "admin-test-password"}).raise_for_status()
    yield client
    client.close()


class Widget:
    """The widget on one page, through its (open) shadow root."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.host = page.locator("#heatdesk-widget")
        self.launcher = page.get_by_role("button", name=re.compile("打开在线客服"))
        self.panel = page.get_by_role("dialog", name="供热智能客服")
        self.log = page.get_by_role("log", name="聊天记录")
        self.input = page.get_by_role("textbox", name="输入您的问题")

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()
        self.connected()

    def connected(self) -> None:
        expect(self.host).to_have_attribute("data-connection", "open", timeout=20_000)

    def quick_reply(self, title: str) -> None:
        self.panel.get_by_role("group", name="常见问题").get_by_role("button", name=title).click()

    def bubbles(self, kind: str) -> Locator:
        return self.log.locator(f".hdw-msg--{kind} .hdw-bubble")

    def texts(self) -> List[str]:
        return [text.strip() for text in self.log.locator(".hdw-msg .hdw-bubble").all_inner_texts()]

    def wait_answer(self, count_before: int, contains: str, timeout: float = 40_000) -> None:
        expect(self.bubbles("bot").nth(count_before)).to_be_visible(timeout=timeout)
        expect(self.log).to_contain_text(contains, timeout=timeout)
        expect(self.host).to_have_attribute("data-typing", "false", timeout=timeout)

    def type_and_enter(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def record_typing(self) -> None:
        """Remembers every typing state the widget shows (the dots can be brief)."""
        self.page.evaluate(
            """() => {
                const host = document.getElementById("heatdesk-widget");
                window.__typing = [];
                new MutationObserver(() => window.__typing.push(host.getAttribute("data-typing")))
                    .observe(host, { attributes: true, attributeFilter: ["data-typing"] });
            }"""
        )

    def typing_seen(self) -> List[str]:
        return self.page.evaluate("window.__typing")


def test_page_shows_the_company_and_one_widget(new_context: NewContext, home: str, stack: Stack) -> None:
    page = new_context().new_page()
    log = PageLog(page)
    page.goto(home)
    expect(page).to_have_title(re.compile("示例热力集团"))
    for section in ("缴费指南", "采暖期公告", "服务热线"):
        expect(page.get_by_role("heading", name=section)).to_be_visible()
    widget = Widget(page)
    expect(widget.launcher).to_be_visible()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    assert page.locator("script[src*='heatdesk-widget.js']").count() == 1
    assert page.locator("#heatdesk-widget").count() == 1
    # The console names its Rasa server in the page's script tag.
    assert page.evaluate("window.HeatDeskWidget.server") == stack.url("rasa")
    assert log.script_errors() == []


def test_quick_reply_balance_reload_and_transcript_once(new_context: NewContext, home: str) -> None:
    context = new_context(reduced_motion="reduce")
    page = context.new_page()
    log = PageLog(page)
    page.goto(home)
    widget = Widget(page)

    # Keyboard: the launcher is a real button; Enter opens the panel and focuses the input.
    widget.launcher.focus()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()
    widget.connected()
    expect(widget.panel).to_contain_text("智能客服 · 在线")

    widget.record_typing()
    widget.quick_reply("查欠费")
    expect(widget.bubbles("user").filter(has_text="查欠费")).to_have_count(1)
    widget.wait_answer(0, "户号")
    assert "true" in widget.typing_seen() and widget.typing_seen()[-1] == "false"

    widget.type_and_enter("户号2024000001 尾号5678")
    widget.wait_answer(1, "1509.00")
    expect(widget.log).to_contain_text("滞纳金 78.41 元")
    expect(widget.log).not_to_contain_text("13800005678")
    expect(widget.bubbles("bot").last).to_be_in_viewport()  # the log follows new messages
    before = widget.texts()
    assert before.count("查欠费") == 1 and before.count("户号2024000001 尾号5678") == 1
    conversation = page.evaluate("window.HeatDeskWidget.conversationId()")
    screenshot(page, "widget")

    # Reload: same session, the panel stays open, every message is back exactly once.
    page.reload()
    widget = Widget(page)
    expect(widget.panel).to_be_visible()
    widget.connected()
    wait_until(lambda: widget.texts() == before, timeout=15)
    assert page.evaluate("window.HeatDeskWidget.conversationId()") == conversation
    page.wait_for_timeout(1000)
    assert widget.texts() == before  # nothing arrived twice late
    assert log.script_errors() == []


def test_enter_is_ime_safe_and_shift_enter_is_a_newline(new_context: NewContext, home: str) -> None:
    page = new_context().new_page()
    page.goto(home)
    widget = Widget(page)
    widget.open()
    widget.input.fill("nuanqi")
    widget.input.evaluate(
        """(box) => {
            box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", isComposing: true, bubbles: true, cancelable: true }));
            box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", keyCode: 229, bubbles: true, cancelable: true }));
            box.dispatchEvent(new CompositionEvent("compositionstart", { bubbles: true }));
        }"""
    )
    widget.input.press("Enter")  # confirms the 拼音 candidate: must not send
    widget.input.evaluate("""(box) => box.dispatchEvent(new CompositionEvent("compositionend", { bubbles: true, data: "暖气" }))""")
    page.wait_for_timeout(500)
    expect(widget.bubbles("user")).to_have_count(0)
    assert widget.input.input_value().startswith("nuanqi")

    widget.input.fill("第一行")
    widget.input.press("Shift+Enter")
    widget.input.type("第二行")
    assert widget.input.input_value() == "第一行\n第二行"
    widget.input.press("Enter")
    expect(widget.bubbles("user")).to_have_count(1)
    expect(widget.bubbles("user").first).to_have_text("第一行\n第二行")
    expect(widget.input).to_have_value("")


def test_reconnecting_state_and_nothing_lost(new_context: NewContext, home: str) -> None:
    context = new_context()
    page = context.new_page()
    page.goto(home)
    widget = Widget(page)
    widget.open()
    widget.type_and_enter("你好")
    widget.wait_answer(0, "智能客服")
    answered = widget.texts()
    bot_before = widget.bubbles("bot").count()

    context.set_offline(True)
    expect(widget.host).to_have_attribute("data-connection", "reconnecting", timeout=60_000)
    expect(widget.panel.get_by_role("status").filter(has_text="重新连接中…")).to_be_visible()
    widget.type_and_enter("谢谢")  # typed while offline: kept and sent after the reconnect
    expect(widget.log.locator(".hdw-msg--pending")).to_have_count(1)

    context.set_offline(False)
    widget.connected()
    expect(widget.log.locator(".hdw-msg--pending")).to_have_count(0, timeout=20_000)
    widget.wait_answer(bot_before, "")
    texts = widget.texts()
    assert texts[: len(answered)] == answered
    assert texts.count("你好") == 1 and texts.count("谢谢") == 1
    assert len(texts) > len(answered) + 1


def test_handoff_queue_agent_name_unread_badge_and_back_to_bot(
    new_context: NewContext, home: str, supervisor: httpx.Client
) -> None:
    page = new_context(reduced_motion="reduce").new_page()
    log = PageLog(page)
    page.goto(home)
    widget = Widget(page)
    widget.open()

    widget.quick_reply("转人工")
    widget.wait_answer(0, "工单号")
    ticket_no = TICKET_NO.search(widget.log.inner_text()).group(0)  # type: ignore[union-attr]
    banner = widget.panel.locator(".hdw-handoff")
    expect(banner).to_contain_text("已转人工")
    expect(banner).to_contain_text(re.compile(r"排在第 \d+ 位"))
    expect(widget.host).to_have_attribute("data-handoff", "queued")
    screenshot(page, "widget-queued")

    # An agent claims and answers while the panel is closed: an unread badge on the launcher.
    conversation = page.evaluate("window.HeatDeskWidget.conversationId()")
    wait_until(lambda: supervisor.get("/api/tickets", params={"conversation_id": conversation}).json()["items"], timeout=20)
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    assert supervisor.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
    reply = "您好，我是人工客服，您的问题我来处理。"
    sent = supervisor.post(f"/api/tickets/{ticket_no}/messages", json={"text": reply})
    assert sent.status_code == 201, sent.text
    agent_name = (sent.json()["message"].get("agent") or {}).get("display_name") or ""
    badge = page.locator("#heatdesk-widget .hdw-badge")
    expect(badge).to_have_text("1", timeout=20_000)
    expect(widget.launcher).to_have_attribute("aria-label", re.compile("1 条未读消息"))

    widget.open()
    expect(badge).to_be_hidden()
    agent_message = widget.log.locator(".hdw-msg--agent")
    expect(agent_message.locator(".hdw-bubble")).to_have_text(reply)
    expect(agent_message.locator(".hdw-sender")).to_contain_text("人工客服")
    if agent_name:
        expect(agent_message.locator(".hdw-sender")).to_contain_text(agent_name)
    expect(widget.host).to_have_attribute("data-handoff", "agent")
    expect(banner).to_contain_text("正在为您服务")
    screenshot(page, "widget-agent")

    resolved = supervisor.post(f"/api/tickets/{ticket_no}/resolve", json={"resolution_category": "answered"})
    assert resolved.status_code == 200, resolved.text
    expect(widget.log).to_contain_text("继续为您服务", timeout=20_000)
    expect(widget.host).to_have_attribute("data-handoff", "bot")
    expect(banner).to_be_hidden()
    expect(widget.panel).to_contain_text("智能客服 · 在线")
    assert log.script_errors() == []


def test_no_serious_accessibility_violations(new_context: NewContext, home: str) -> None:
    page = new_context().new_page()
    page.goto(home)
    widget = Widget(page)
    assert serious_axe_violations(page) == []
    widget.open()
    widget.quick_reply("查欠费")
    widget.wait_answer(0, "户号")
    assert serious_axe_violations(page) == []
