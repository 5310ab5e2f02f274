"""A console an agent can work a shift in (issue 15), in real Chromium against the running stack:
the live stream stays live with the production timings, queue rows say what a ticket is about,
the search box finds tickets by number, 户号, phone tail, address and text, and residents are
told the agent's display name."""

from __future__ import annotations

import time
import uuid
from typing import Callable, Dict

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import ADMIN, Account, PageLog, login, screenshot, serious_axe_violations
from tests.browser.test_console import TICKET_NO, open_ticket, row, show_tab
from tests.conftest import Resident
from tests.stack import Stack, wait_until

NewContext = Callable[..., BrowserContext]
# The stack's console runs with the production timings: a heartbeat every 5 s, and the broken build
# dropped the stream after the first. Twenty seconds is four heartbeats.
HOLD_SECONDS = 20


def test_live_stream_stays_live_with_the_default_settings(
    new_context: NewContext, console_base: str, agents: Dict[str, Account]
) -> None:
    wang = agents["wang"]
    page = new_context().new_page()
    log = PageLog(page)
    login(page, console_base, wang.username, wang.password)
    started = time.monotonic()
    page.wait_for_timeout(HOLD_SECONDS * 1000)
    debug = page.evaluate("({ drops: window.heatdeskDebug.drops, shown: window.heatdeskDebug.reconnectingShown })")
    assert debug == {"drops": 0, "shown": 0}, debug
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    assert time.monotonic() - started >= HOLD_SECONDS
    assert log.script_errors() == []


def _search(page: Page, text: str) -> None:
    page.fill("#queue-search", text)
    page.press("#queue-search", "Enter")
    expect(page.locator("#tab-all")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#queue-count")).to_contain_text(f"“{text}”")


def test_queue_rows_and_search(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], stack: Stack,
) -> None:
    # A verified resident (account 2024000002, 李秀兰, phone ending 1234) and an unverified one.
    verified = Resident(stack, f"test-shift-{uuid.uuid4().hex[:8]}")
    for text in ("我要查欠费", "2024000002 1234"):
        verified.say(text)
    ticket_no = open_ticket(verified, "你们太过分了 暖气费怎么又涨了！！！")
    other = Resident(stack, f"test-shift-{uuid.uuid4().hex[:8]}")
    other_no = open_ticket(other, "我要投诉 你们的维修师傅态度太差了")

    page = new_context(bypass_csp=True).new_page()  # axe is injected inline
    log = PageLog(page)
    li = agents["li"]
    login(page, console_base, li.username, li.password)
    show_tab(page, "unclaimed")
    line = row(page, ticket_no)
    expect(line).to_have_count(1)
    expect(line.locator("td.resident")).to_contain_text("南岗区")
    expect(line.locator("td.resident")).to_contain_text("李**")
    expect(line.locator("td.resident")).to_contain_text("2024****02")
    expect(line.locator("td.about .last-msg")).to_have_text("你们太过分了 暖气费怎么又涨了！！！")
    expect(row(page, other_no).locator("td.resident")).to_contain_text("未验证")

    # The resident writes again while queued: the row shows it live.
    verified.say("我家在学府路 快点处理好吗")
    expect(line.locator("td.about .last-msg")).to_contain_text("快点处理")
    screenshot(page, "queue-rows")

    # Search: by number, 户号, phone tail, address and words the resident wrote; others drop out.
    for query in (ticket_no, "2024000002", "1234", "学府路88号院", "暖气费怎么又涨"):
        _search(page, query)
        expect(row(page, ticket_no)).to_have_count(1)
        expect(row(page, other_no)).to_have_count(0)
    _search(page, "维修师傅态度")
    expect(row(page, other_no)).to_have_count(1)
    expect(row(page, ticket_no)).to_have_count(0)
    assert serious_axe_violations(page) == []
    screenshot(page, "queue-search")
    page.click("#filter-reset")
    expect(page.locator("#queue-search")).to_have_value("")
    expect(row(page, ticket_no)).to_have_count(1)
    expect(row(page, other_no)).to_have_count(1)
    assert log.script_errors() == []


def test_resident_is_told_the_display_name(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], resident: Resident,
    supervisor_api: httpx.Client,
) -> None:
    # The supervisor account was never given a name: residents see a staff number, not "admin".
    me = supervisor_api.get("/api/me").json()
    assert me["display_name"] != me["username"]
    wang = agents["wang"]
    ticket_no = open_ticket(resident)
    page = new_context().new_page()
    login(page, console_base, wang.username, wang.password)
    page.goto(f"{console_base}#/tickets/{ticket_no}")
    page.click("#action-claim")
    expect(page.locator("#composer")).to_be_enabled()
    replies = resident.say("还在吗？")
    assert any(f"客服{wang.display_name}正在处理" in reply for reply in replies), replies
    assert not any(wang.username in reply for reply in replies)


def test_canned_reply_with_variables_via_slash(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], stack: Stack,
) -> None:
    resident = Resident(stack, f"test-canned-{uuid.uuid4().hex[:8]}")
    for text in ("我要查欠费", "2024000002 1234"):
        resident.say(text)
    ticket_no = open_ticket(resident, "你们太过分了 滞纳金凭什么这么多！！！")
    page = new_context(bypass_csp=True).new_page()  # axe is injected inline
    log = PageLog(page)
    wang = agents["wang"]
    login(page, console_base, wang.username, wang.password)
    page.goto(f"{console_base}#/tickets/{ticket_no}")
    page.click("#action-claim")
    composer = page.locator("#composer")
    expect(composer).to_be_enabled()

    composer.fill("")
    composer.press_sequentially("/欠")
    listbox = page.locator("#canned-list")
    expect(listbox).to_be_visible()
    expect(listbox.locator('[role="option"][aria-selected="true"]')).to_contain_text("/欠费")
    assert serious_axe_violations(page) == []
    composer.press("Enter")  # inserts, does not send
    expect(listbox).to_be_hidden()
    text = composer.input_value()
    assert text.startswith("李**您好，您家（户号 2024****02）目前欠费 "), text
    assert "{" not in text and "【" not in text and "2024000002" not in text
    composer.press("Escape")
    composer.press("Enter")
    expect(page.locator("#transcript .msg-agent .msg-text", has_text="目前欠费")).to_have_count(1)
    expect(composer).to_have_value("")
    assert any(reply.startswith("李**您好") for reply in wait_until(resident.inbox, timeout=15))

    # Escape closes the list and leaves what was typed.
    composer.press_sequentially("/问")
    expect(listbox).to_be_visible()
    composer.press("Escape")
    expect(listbox).to_be_hidden()
    expect(composer).to_have_value("/问")
    assert log.script_errors() == []


def test_supervisor_manages_canned_replies(new_context: NewContext, console_base: str) -> None:
    page = new_context(bypass_csp=True).new_page()
    log = PageLog(page)
    login(page, console_base, ADMIN[0], ADMIN[1])
    page.click("#nav-canned")
    expect(page.locator("#canned-rows tr[data-shortcut='欠费']")).to_have_count(1)
    shortcut = f"供暖期{uuid.uuid4().hex[:4]}"
    page.fill("#canned-shortcut", shortcut)
    page.fill("#canned-title", "供暖期时间")
    page.select_option("#canned-category", "ask_heating_period")
    page.fill("#canned-text", "{name}您好，本供暖期为11月1日至次年3月31日。{phone}")
    page.click("#canned-save")
    expect(page.locator("#canned-error")).to_contain_text("不认识的变量")
    page.fill("#canned-text", "{name}您好，本供暖期为11月1日至次年3月31日。")
    page.click("#canned-save")
    line = page.locator(f"#canned-rows tr[data-shortcut='{shortcut}']")
    expect(line).to_contain_text("启用中")
    line.get_by_role("button", name=f"停用常用语 /{shortcut}").click()
    expect(line).to_contain_text("已停用")
    assert serious_axe_violations(page) == []
    screenshot(page, "canned-replies")
    assert log.script_errors() == []


def test_follow_up_goes_back_to_the_same_agent(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], stack: Stack, resident: Resident,
) -> None:
    li = agents["li"]
    page = new_context().new_page()
    log = PageLog(page)
    login(page, console_base, li.username, li.password)
    first = open_ticket(resident, "我要投诉 你们的维修师傅态度太差了")
    page.goto(f"{console_base}#/tickets/{first}")
    page.click("#action-claim")
    expect(page.locator("#composer")).to_be_enabled()
    answer = page.request.post(f"{stack.url('console')}/api/tickets/{first}/resolve",
                               data={"resolution_category": "complaint_recorded"})
    assert answer.status == 200, answer.text()

    # The resident needs a person again soon after: the ticket comes straight back to 小李, on duty.
    replies = resident.say("我还要投诉 问题根本没解决！！！")
    found = TICKET_NO.search("\n".join(replies))
    assert found and found.group(0) != first, replies
    again = found.group(0)
    # The notice reaches the REST client's inbox, or the webhook's answer when it was already there.
    seen = list(replies)

    def notices() -> list:
        seen.extend(resident.inbox())  # the inbox hands each message out once
        return [m for m in seen if "会继续处理" in m]

    notice = wait_until(notices, timeout=20)
    assert f"客服{li.display_name}会继续处理" in notice[0] and again in notice[0]
    page.goto(f"{console_base}#/queue")
    show_tab(page, "mine")
    line = row(page, again)
    expect(line).to_have_count(1)
    expect(line.locator(".follow-up")).to_have_text(f"再次来访（上次 {first}）")
    expect(line).to_contain_text(li.display_name)
    assert log.script_errors() == []
