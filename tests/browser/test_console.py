"""The agent console in real headless Chromium against the running stack: live queue,
claim (and the second agent's refusal), reply through the user's channel, notes,
resolve, reconnect without loss or duplicates, session expiry, dashboard, screenshots
and axe-core scans."""

from __future__ import annotations

import re
import uuid
from typing import Callable, Dict

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from heatdesk_contract.keys import DEFAULT as KEYS
from tests.browser.conftest import (
    ADMIN,
    Account,
    PageLog,
    login,
    screenshot,
    serious_axe_violations,
)
from tests.conftest import Resident
from tests.stack import Stack, wait_until

TICKET_NO = re.compile(r"GD\d{12}")
ANGRY = "你们这帮骗子 我家到底欠多少钱？？？"
REPLY = "您好，我是客服小王，马上帮您查。"

NewContext = Callable[..., BrowserContext]


def open_ticket(resident: Resident, text: str = ANGRY) -> str:
    reply = "\n".join(resident.say(text))
    found = TICKET_NO.search(reply)
    assert found, reply
    return found.group(0)


def row(page: Page, ticket_no: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#queue-rows tr[data-ticket-no="{ticket_no}"]')


def show_tab(page: Page, tab: str) -> None:
    page.click(f"#tab-{tab}")
    expect(page.locator(f"#tab-{tab}")).to_have_attribute("aria-selected", "true")


def transcript_count(page: Page, text: str) -> int:
    return page.locator("#transcript .msg-text", has_text=text).count()


def test_agent_takes_an_angry_resident_live_replies_notes_and_resolves(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], resident: Resident
) -> None:
    wang = agents["wang"]
    page = new_context().new_page()
    log = PageLog(page)
    login(page, console_base, wang.username, wang.password)
    show_tab(page, "unclaimed")
    page.evaluate("window.__sameDocument = true")

    # The resident proves who they are (so the side panel has the account), then gets angry:
    # a ticket appears live (no reload), with a badge, a beep and a screen-reader announcement.
    # (Account 2024000003: tests/e2e lock 2024000001 on this channel with wrong phone tails.)
    for text in ("我要查欠费", "2024000003 1111"):
        resident.say(text)
    ticket_no = open_ticket(resident)
    line = row(page, ticket_no)
    expect(line).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True
    expect(line.locator("td.trigger")).to_contain_text("情绪激动")
    expect(line).to_contain_text("道里区")
    expect(line.locator("td.sla")).to_contain_text("剩余")
    expect(page.locator("#new-badge")).to_be_visible()
    assert page.evaluate("window.heatdeskDebug.beeps") >= 1
    expect(page.locator("#announce-polite")).to_contain_text(ticket_no)
    expect(page).to_have_title(re.compile(r"^\(\d+\) "))
    screenshot(page, "queue")

    # The conversation: the whole transcript, bot turns marked 机器人.
    line.locator("a.ticket-link").click()
    expect(page.locator("#ticket-title")).to_contain_text(ticket_no)
    expect(page.locator("#transcript .msg-user .msg-text", has_text=ANGRY)).to_have_count(1)
    expect(page.locator("#transcript .msg-bot .who").first).to_have_text("机器人")
    expect(page.locator("#composer")).to_be_disabled()
    expect(page.locator("#composer-hint")).to_contain_text("领取")
    # The side panel: masked phone, address, bills and the late fee as the billing system computes it.
    panel = page.locator("#account-panel")
    expect(panel).to_contain_text("137****1111")
    expect(panel).to_contain_text("中央大街12号3单元601")
    expect(panel.locator("table.bills tbody tr")).to_have_count(2)
    expect(panel.locator("table.bills")).to_contain_text("3,120.00")
    expect(panel.locator("table.bills")).to_contain_text("1,285.44")  # as the bot computed it
    expect(panel).to_contain_text("征信")
    assert "13700001111" not in panel.inner_text()

    page.click("#action-claim")
    expect(page.locator("#ticket-status")).to_have_text("已领取")
    composer = page.locator("#composer")
    expect(composer).to_be_enabled()

    # Enter never sends while an IME candidate is being chosen.
    composer.fill("ceshi")
    page.evaluate(
        """() => {
            const box = document.getElementById("composer");
            box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", isComposing: true, bubbles: true, cancelable: true }));
            box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", keyCode: 229, bubbles: true, cancelable: true }));
            box.dispatchEvent(new CompositionEvent("compositionstart", { bubbles: true }));
        }"""
    )
    composer.press("Enter")  # still composing: no send
    page.evaluate("""document.getElementById("composer").dispatchEvent(new CompositionEvent("compositionend", { bubbles: true, data: "测试" }))""")
    page.wait_for_timeout(500)
    assert transcript_count(page, "ceshi") == 0
    assert composer.input_value().startswith("ceshi")

    # Canned replies insert text; Enter sends; the reply reaches the resident's channel.
    composer.fill("")
    page.select_option("#canned", label="/问候 接入问候")
    expect(composer).to_have_value(re.compile("您好，我是客服"))
    composer.fill(REPLY)
    composer.press("Enter")
    expect(page.locator("#transcript .msg-agent .msg-text", has_text=REPLY)).to_have_count(1)
    expect(page.locator("#transcript .msg-agent .who", has_text=wang.display_name).first).to_be_visible()
    expect(composer).to_have_value("")
    assert REPLY in wait_until(resident.inbox, timeout=15)
    expect(page.locator("#ticket-status")).to_have_text("处理中")

    # The resident answers; the message appears live, once.
    assert any("正在处理您的问题" in reply for reply in resident.say("好的，我等着"))  # the bot acknowledges
    expect(page.locator("#transcript .msg-user .msg-text", has_text="好的，我等着")).to_have_count(1)

    # A private note stays in the console.
    page.fill("#note-input", "用户情绪激动，已安抚，核实欠费中")
    page.click("#add-note")
    expect(page.locator("#notes .note", has_text="用户情绪激动，已安抚")).to_have_count(1)
    page.wait_for_timeout(1000)
    assert not any("已安抚" in text for text in resident.inbox())
    screenshot(page, "conversation")

    # Resolve with a category: the conversation goes back to the bot.
    page.click("#action-resolve")
    page.select_option("#resolve-category", "answered")
    page.fill("#resolve-note", "已告知欠费金额与滞纳金")
    page.click("#resolve-dialog-confirm")
    expect(page.locator("#ticket-status")).to_have_text("已解决")
    expect(page.locator("#composer")).to_be_disabled()
    expect(page.locator("#action-reopen")).to_be_visible()
    assert any("继续为您服务" in text for text in wait_until(resident.inbox, timeout=15))
    assert transcript_count(page, REPLY) == 1
    assert not log.csp_violations(), log.lines
    assert not log.script_errors(), log.lines


def test_second_agent_is_told_in_chinese_who_holds_the_ticket(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], resident: Resident
) -> None:
    wang, li = agents["wang"], agents["li"]
    ticket_no = open_ticket(resident, "我要投诉，你们的维修师傅三天都没来！！！")
    first = new_context().new_page()
    second = new_context().new_page()
    # The second agent's page gets no live updates, so its 领取 button is still there.
    second.route(re.compile(r".*/api/events.*"), lambda route: route.abort())
    login(first, console_base, wang.username, wang.password)
    second.goto(console_base)
    second.fill("#login-username", li.username)
    second.fill("#login-password", li.password)
    second.click(".login-form button[type=submit]")
    for page in (first, second):
        page.goto(f"{console_base}#/tickets/{ticket_no}")
        expect(page.locator("#action-claim")).to_be_visible()

    first.click("#action-claim")
    expect(first.locator("#ticket-status")).to_have_text("已领取")
    second.click("#action-claim")
    expect(second.locator("#ticket-alert")).to_contain_text(f"已被 {wang.display_name} 领取")
    expect(second.locator("#ticket-status")).to_have_text("已领取")
    expect(second.locator("#composer")).to_be_disabled()
    expect(second.locator("#composer-hint")).to_contain_text(wang.display_name)

    # The holder hands the ticket over; the 我的 tab of the new holder lists it.
    first.click("#action-transfer")
    first.select_option("#transfer-agent", str(li.id))
    first.fill("#transfer-note", "用户要求换人处理")
    first.click("#transfer-dialog-confirm")
    expect(first.locator("#ticket-meta")).to_contain_text(li.display_name)
    expect(first.locator("#composer")).to_be_disabled()
    second.goto(f"{console_base}#/queue")
    show_tab(second, "mine")
    expect(row(second, ticket_no)).to_have_count(1)


def test_dropped_connection_recovers_without_loss_or_duplicates(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], stack: Stack
) -> None:
    wang = agents["wang"]
    context = new_context()
    page = context.new_page()
    login(page, console_base, wang.username, wang.password)
    show_tab(page, "unclaimed")

    # Offline: the header says so; a ticket created meanwhile appears once after reconnecting.
    context.set_offline(True)
    expect(page.locator("#conn")).to_have_text("重新连接中…", timeout=20_000)
    resident = Resident(stack, f"test-offline-{uuid.uuid4().hex[:8]}")
    ticket_no = open_ticket(resident, "你们还管不管了？？？ 暖气一直不热，我要投诉")
    page.wait_for_timeout(1500)
    expect(row(page, ticket_no)).to_have_count(0)
    context.set_offline(False)
    expect(page.locator("#conn")).to_have_text("实时连接正常", timeout=20_000)
    expect(row(page, ticket_no)).to_have_count(1)
    page.wait_for_timeout(2000)
    expect(row(page, ticket_no)).to_have_count(1)
    assert page.evaluate(f"window.heatdeskDebug.created.filter((n) => n === '{ticket_no}').length") <= 1

    # On the ticket page: a message sent while offline appears once; a reload duplicates nothing.
    row(page, ticket_no).locator("a.ticket-link").click()
    page.click("#action-claim")
    expect(page.locator("#composer")).to_be_enabled()
    context.set_offline(True)
    expect(page.locator("#conn")).to_have_text("重新连接中…", timeout=20_000)
    assert any("正在处理您的问题" in reply for reply in resident.say("人呢？还在吗"))  # the bot acknowledges
    page.wait_for_timeout(1000)
    context.set_offline(False)
    expect(page.locator("#conn")).to_have_text("实时连接正常", timeout=20_000)
    expect(page.locator("#transcript .msg-text", has_text="人呢？还在吗")).to_have_count(1)
    page.wait_for_timeout(1500)
    assert transcript_count(page, "人呢？还在吗") == 1

    before = page.locator("#transcript li.msg").count()
    page.reload()
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    expect(page.locator("#transcript .msg-text", has_text="人呢？还在吗")).to_have_count(1)
    page.wait_for_timeout(1000)
    assert page.locator("#transcript li.msg").count() == before
    assert any("正在处理您的问题" in reply for reply in resident.say("快点"))  # the bot acknowledges
    expect(page.locator("#transcript .msg-text", has_text="快点")).to_have_count(1)


def test_ended_session_returns_to_the_login_page(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], stack: Stack
) -> None:
    li = agents["li"]
    context = new_context()
    page = context.new_page()
    login(page, console_base, li.username, li.password)
    # An agent has no dashboard.
    expect(page.locator("#nav-dashboard")).to_have_count(0)
    # The session ends elsewhere (same cookie): the next call gets 401 and the login page is back.
    assert context.request.post(stack.url("console") + "/api/logout").status == 204
    page.click("#tab-all")
    expect(page.locator("#login-error")).to_contain_text("登录已过期", timeout=20_000)
    expect(page.locator("#topbar")).to_be_hidden()
    # Logging in again works and the logout button ends the session.
    page.fill("#login-username", li.username)
    page.fill("#login-password", li.password)
    page.click(".login-form button[type=submit]")
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    page.click("#logout")
    expect(page.locator("#login-username")).to_be_visible()


def test_queue_is_keyboard_operable(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], resident: Resident
) -> None:
    wang = agents["wang"]
    ticket_no = open_ticket(resident, "我要投诉 你们客服电话一直打不通！！")
    page = new_context().new_page()
    login(page, console_base, wang.username, wang.password)
    show_tab(page, "mine")
    page.focus("#tab-mine")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-unclaimed")).to_be_focused()
    expect(page.locator("#tab-unclaimed")).to_have_attribute("aria-selected", "true")
    expect(row(page, ticket_no)).to_have_count(1)
    page.focus(f'#queue-rows tr[data-ticket-no="{ticket_no}"] a.ticket-link')
    page.keyboard.press("Enter")
    expect(page.locator("#ticket-title")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement !== document.body")
    page.focus("#action-claim")
    page.keyboard.press("Enter")
    expect(page.locator("#composer")).to_be_enabled()
    # A claim puts the keyboard in the reply box (once the claim's answer is in): the agent types next.
    expect(page.locator("#composer")).to_be_focused()
    page.focus("#action-resolve")
    page.keyboard.press("Enter")
    expect(page.locator("#resolve-dialog")).to_be_visible()
    expect(page.locator("#resolve-category")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#resolve-dialog")).to_have_count(0)
    expect(page.locator("#action-resolve")).to_be_focused()


def test_login_refuses_a_wrong_password_in_chinese(new_context: NewContext, console_base: str) -> None:
    page = new_context().new_page()
    page.goto(console_base)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.fill("#login-username", "nobody")
    page.fill("#login-password", "wrong-password")
    page.keyboard.press("Enter")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误，或账号已停用。")


def test_supervisor_dashboard_shows_metrics_and_charts(
    new_context: NewContext, console_base: str, resident: Resident
) -> None:
    open_ticket(resident, "我要投诉，暖气不热，打了好几次电话没人管")
    page = new_context().new_page()
    log = PageLog(page)
    login(page, console_base, *ADMIN)
    page.click("#nav-dashboard")
    expect(page.locator("#kpi-queue .kpi-value")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#kpi-sla")).to_contain_text("SLA 达成率")
    expect(page.locator("#arrears-table")).to_contain_text("南岗区")
    for chart in ("chart-complaints-day", "chart-complaints-district", "chart-arrears"):
        assert page.evaluate(f"!!Chart.getChart(document.getElementById('{chart}-canvas'))"), chart
    page.wait_for_timeout(300)
    screenshot(page, "dashboard")
    assert not log.csp_violations(), log.lines
    assert not log.script_errors(), log.lines


def test_axe_finds_no_serious_violations(
    new_context: NewContext, console_base: str, resident: Resident, supervisor_api: httpx.Client
) -> None:
    ticket_no = open_ticket(resident)
    # The axe script is injected inline; the page's CSP (script-src 'self') is bypassed for that only.
    page = new_context(bypass_csp=True).new_page()
    page.goto(console_base)
    page.wait_for_selector("#login-username")
    screenshot(page, "login")
    results = {"login": serious_axe_violations(page)}

    page.fill("#login-username", ADMIN[0])
    page.fill("#login-password", ADMIN[1])
    page.click(".login-form button[type=submit]")
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    expect(row(page, ticket_no)).to_have_count(1)
    results["queue"] = serious_axe_violations(page)

    page.goto(f"{console_base}#/tickets/{ticket_no}")
    expect(page.locator("#transcript .msg-user").first).to_be_visible()
    expect(page.locator("#account-panel")).not_to_contain_text("加载中")
    results["conversation"] = serious_axe_violations(page)
    page.click("#action-resolve")
    expect(page.locator("#resolve-dialog")).to_be_visible()
    results["resolve dialog"] = serious_axe_violations(page)
    page.keyboard.press("Escape")

    page.goto(f"{console_base}#/dashboard")
    expect(page.locator("#arrears-table")).to_be_visible()
    results["dashboard"] = serious_axe_violations(page)
    assert results == {name: [] for name in results}, results


def test_reply_delivery_is_shown_and_a_failed_one_can_be_retried(
    new_context: NewContext, console_base: str, agents: Dict[str, Account], stack: Stack, resident: Resident,
    supervisor_api: httpx.Client,
) -> None:
    """已送达 once the channel confirms; a channel that refuses: 未送达 with the reason and 重试."""
    from redis import Redis

    wang = agents["wang"]
    page = new_context().new_page()
    login(page, console_base, wang.username, wang.password)

    # A resident on the REST channel: the reply is confirmed by the channel.
    delivered_no = open_ticket(resident)
    page.goto(f"{console_base}#/tickets/{delivered_no}")
    page.click("#action-claim")
    page.fill("#composer", REPLY)
    page.press("#composer", "Enter")
    line = page.locator("#transcript .msg-agent", has_text=REPLY)
    expect(line.locator(".msg-delivery")).to_have_text("已送达", timeout=30_000)
    expect(line.locator("button.retry")).to_have_count(0)

    # A ticket whose channel no Rasa process delivers to: the delivery worker reports the failure.
    suffix = uuid.uuid4().hex[:8]
    fields = {"type": "ticket.request", "idempotency_key": f"req-{suffix}", "ticket_no": f"GD20250215{suffix[:4]}",
              "conversation_id": f"sms:{suffix}", "channel": "sms", "category": "request_human",
              "priority": "normal", "trigger_kind": "intent", "trigger_name": "request_human", "summary": "{}"}
    Redis.from_url(stack.env["REDIS_URL"]).xadd(KEYS.tickets_stream(), fields)
    ticket_no = str(wait_until(lambda: next((t["ticket_no"] for t in supervisor_api.get(
        "/api/tickets", params={"conversation_id": fields["conversation_id"]}).json()["items"]), None), timeout=30))
    page.goto(f"{console_base}#/tickets/{ticket_no}")
    page.click("#action-claim")
    page.fill("#composer", "短信渠道的回复")
    page.press("#composer", "Enter")
    failed = page.locator("#transcript .msg-agent", has_text="短信渠道的回复").locator(".msg-delivery")
    expect(failed).to_contain_text("未送达", timeout=30_000)
    expect(failed).to_contain_text("sms")  # the reason: no deliverer for the channel
    with page.expect_response(lambda answer: answer.url.endswith("/retry")) as retried:
        failed.locator("button.retry").click()
    assert retried.value.status == 200 and retried.value.json()["message"]["delivery_status"] == "queued"
    expect(failed).to_contain_text("未送达", timeout=30_000)  # the channel refuses it again
    history = supervisor_api.get(f"/api/tickets/{ticket_no}").json()["history"]
    assert [h for h in history if h["kind"] == "delivery_retried"]
    screenshot(page, "delivery-failed")
