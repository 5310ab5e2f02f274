"""Issue 15 in real Chromium against the running stack: the agent looks up the 户号 a resident only
typed from the ticket's side panel (未验证 until the resident gives the phone tail, then 已核实),
and a widget resident's rating after the resolve reaches the supervisor's dashboard."""

from __future__ import annotations

import re
import uuid
from typing import Callable, Dict

import httpx
from playwright.sync_api import BrowserContext, expect

from bot import messages
from tests.browser.conftest import ADMIN, Account, PageLog, login, screenshot, serious_axe_violations
from tests.browser.test_console import open_ticket
from tests.browser.test_widget_page import Widget
from tests.conftest import Resident
from tests.stack import Stack, wait_until

NewContext = Callable[..., BrowserContext]
TICKET_NO = re.compile(r"GD\d{12}")


def test_account_lookup_in_the_side_panel(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], stack: Stack,
) -> None:
    resident = Resident(stack, f"test-lookup-{uuid.uuid4().hex[:8]}")
    ticket_no = open_ticket(resident, "我要投诉 滞纳金收得不合理 给我个说法")
    page = new_context(bypass_csp=True).new_page()  # axe is injected inline
    log = PageLog(page)
    wang = agents["wang"]
    login(page, console_base, wang.username, wang.password)
    page.goto(f"{console_base}#/tickets/{ticket_no}")
    panel = page.locator("#account-panel")
    expect(panel).to_contain_text("此工单没有户号。")
    expect(page.locator("#account-lookup-form")).to_be_hidden()  # not this agent's ticket yet
    page.click("#action-claim")
    expect(page.locator("#composer")).to_be_enabled()
    form = page.locator("#account-lookup-form")
    expect(form).to_be_visible()

    # A number that cannot be a 户号 is refused in Chinese.
    page.fill("#account-lookup-input", "12345")
    page.click("#account-lookup-submit")
    expect(page.locator("#account-lookup-error")).to_have_text("户号应为 8 到 10 位数字，请核对后再查。")

    # The resident typed a 户号 but no phone tail: the household is shown, plainly 未验证.
    resident.say("我家户号是2024000001")
    expect(page.locator("#transcript")).to_contain_text("我家户号是2024000001")
    page.fill("#account-lookup-input", "2024000001")
    page.click("#account-lookup-submit")
    unverified = panel.get_by_test_id("lookup-unverified")
    expect(unverified).to_contain_text("未验证")
    expect(unverified).to_contain_text("尚未在会话中提供手机尾号")
    expect(panel).to_contain_text("张*")
    expect(panel).to_contain_text("阳光小区3号楼2单元501")
    expect(panel.locator("table.bills").first).to_contain_text("78.41")  # the late fee by the 1‰ rule
    payments = panel.locator("#lookup-payments")
    expect(payments).to_contain_text("2025-01-10")
    expect(payments).to_contain_text("1,000.00")
    expect(payments).to_contain_text("微信")
    expect(page.locator("#account-lookup-error")).to_have_text("")
    assert serious_axe_violations(page) == []

    # The resident gives the tail: the same lookup now verifies the account.
    resident.say("手机尾号5678")
    expect(page.locator("#transcript")).to_contain_text("手机尾号5678")
    page.click("#account-lookup-submit")
    expect(panel.get_by_test_id("lookup-verified")).to_contain_text("已核实")
    expect(panel.get_by_test_id("lookup-unverified")).to_have_count(0)
    history = page.locator("#history")
    expect(history).to_contain_text("查询户号 · 客服小王 · 2024000001 · 未验证")
    expect(history).to_contain_text("查询户号 · 客服小王 · 2024000001 · 已核实")
    screenshot(page, "account-lookup")
    assert serious_axe_violations(page) == []

    # The queue now names the household, masked, as for a resident verified in the bot.
    page.click(".back-link")
    page.click("#tab-mine")
    line = page.locator(f'#queue-rows tr[data-ticket-no="{ticket_no}"]')
    expect(line.locator("td.resident")).to_contain_text("张*")
    expect(line.locator("td.resident")).to_contain_text("2024****01")
    assert log.script_errors() == []


def test_csat_from_the_widget_to_the_dashboard(
    new_context: NewContext, console_base: str, stack: Stack, supervisor_api: httpx.Client,
) -> None:
    before = supervisor_api.get("/api/metrics/dashboard").json()["csat"]["count"]
    page = new_context(bypass_csp=True, reduced_motion="reduce").new_page()
    log = PageLog(page)
    page.goto(f"{stack.url('console')}/")
    widget = Widget(page)
    widget.open()
    widget.quick_reply("转人工")
    widget.wait_answer(0, "工单号")
    ticket_no = TICKET_NO.search(widget.log.inner_text()).group(0)  # type: ignore[union-attr]
    conversation = page.evaluate("window.HeatDeskWidget.conversationId()")
    wait_until(lambda: supervisor_api.get("/api/tickets", params={"conversation_id": conversation}).json()["items"],
               timeout=20)
    assert supervisor_api.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
    sent = supervisor_api.post(f"/api/tickets/{ticket_no}/messages", json={"text": "您好，已经为您处理好了。"})
    assert sent.status_code == 201, sent.text
    assert supervisor_api.post(f"/api/tickets/{ticket_no}/resolve",
                               json={"resolution_category": "answered"}).status_code == 200

    # The question arrives with the scores as buttons; the resident taps 5 非常满意.
    best = widget.log.get_by_role("button", name="5 非常满意")
    expect(best).to_be_visible(timeout=20_000)
    expect(widget.log.get_by_role("button", name="1 非常不满意")).to_be_visible()
    assert serious_axe_violations(page) == []
    screenshot(page, "widget-csat")
    best.click()
    expect(widget.log).to_contain_text(messages.CSAT_THANKS, timeout=20_000)
    expect(widget.bubbles("user").last).to_have_text("5 非常满意")
    assert log.script_errors() == []

    # The supervisor sees it on the dashboard.
    wait_until(lambda: supervisor_api.get(f"/api/tickets/{ticket_no}").json()["csat_score"] == 5, timeout=20)
    board = new_context(bypass_csp=True).new_page()
    board_log = PageLog(board)
    login(board, console_base, *ADMIN)
    board.click("#nav-dashboard")
    expect(board.locator("#kpi-csat .kpi-detail")).to_have_text(f"{before + 1} 条评价")
    expect(board.locator("#kpi-csat .kpi-value")).to_have_text(re.compile(r"^\d\.\d$"))
    assert serious_axe_violations(board) == []
    screenshot(board, "dashboard-csat")
    assert board_log.script_errors() == []
