"""The agent's tools of a shift (issue 15), in real Chromium against the running stack: presence
switched in the header and auto-assignment by load (a supervisor's switch on 坐席与团队), desktop
notifications (asked only from the header button; shown while the tab is hidden), and keyboard
shortcuts (never while typing or picking an IME candidate). axe stays clean on the new pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Callable, Dict, List

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import PageLog, login, screenshot, serious_axe_violations
from tests.browser.test_console import open_ticket, row, show_tab
from tests.conftest import Resident
from tests.stack import Stack, wait_until

NewContext = Callable[..., BrowserContext]
COMPLAINT = "我要投诉 你们的维修师傅态度太差了"

# window.Notification as the page sees it: a recorder whose permission starts "default" and turns
# "granted" when asked (as a user clicking 允许 would), and a tab whose visibility the test sets.
FAKE_NOTIFICATIONS = """
(() => {
  window.__notes = [];
  window.__asked = 0;
  window.__hidden = false;
  class FakeNotification {
    constructor(title, options) {
      this.title = title;
      this.options = options || {};
      window.__notes.push({ title, body: this.options.body || "", tag: this.options.tag || "" });
      window.__lastNote = this;
    }
    close() {}
    static requestPermission() {
      window.__asked += 1;
      FakeNotification.permission = "granted";
      return Promise.resolve("granted");
    }
  }
  FakeNotification.permission = "default";
  window.Notification = FakeNotification;
  Object.defineProperty(document, "visibilityState", { get: () => (window.__hidden ? "hidden" : "visible") });
  Object.defineProperty(document, "hidden", { get: () => window.__hidden });
})();
"""


class Accounts:
    """Fresh agents of this file (presence and load must be only theirs) and the teams it makes."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        self.made: List[Dict[str, object]] = []
        self.teams: List[int] = []

    def agent(self, display_name: str) -> Dict[str, object]:
        username, password = f"tools-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
        answer = self.api.post("/api/agents", json={"username": username, "password": password,
                                                    "display_name": display_name, "role": "agent"})
        assert answer.status_code == 201, answer.text
        account = {**answer.json(), "password": password}
        self.made.append(account)
        return account

    def team(self, members: List[Dict[str, object]], categories: List[str]) -> Dict[str, object]:
        answer = self.api.post("/api/teams", json={"name": f"测试组{uuid.uuid4().hex[:4]}",
                                                   "member_ids": [m["id"] for m in members],
                                                   "categories": categories})
        assert answer.status_code == 201, answer.text
        self.teams.append(answer.json()["id"])
        return answer.json()


@pytest.fixture
def accounts(supervisor_api: httpx.Client) -> Iterator[Accounts]:
    made = Accounts(supervisor_api)
    try:
        yield made
    finally:  # the shared stack goes on without this test's switch, teams and agents on duty
        supervisor_api.put("/api/assignment", json={"auto_assign": False}).raise_for_status()
        for team_id in made.teams:
            supervisor_api.delete(f"/api/teams/{team_id}")
        for account in made.made:
            supervisor_api.put(f"/api/agents/{account['id']}/presence", json={"status": "offline"})


def _agent_page(new_context: NewContext, console_base: str, account: Dict[str, object], **options: object) -> Page:
    page = new_context(**options).new_page()
    login(page, console_base, str(account["username"]), str(account["password"]))
    return page


def _ticket(api: httpx.Client, ticket_no: str) -> Dict[str, object]:
    return wait_until(lambda: (d := api.get(f"/api/tickets/{ticket_no}")).status_code == 200 and d.json(), timeout=20)


def _resolve_waiting(api: httpx.Client) -> None:
    """Earlier tests on the shared stack leave tickets waiting; switching auto-assignment on hands every
    waiting ticket out, so this test starts from an empty queue to count its own agents' load."""
    while True:
        page = api.get("/api/tickets", params={"status": "new", "assignee": "unassigned", "limit": 500})
        assert page.status_code == 200, page.text
        waiting = page.json()["items"]
        if not waiting:
            return
        for ticket in waiting:
            answer = api.post(f"/api/tickets/{ticket['ticket_no']}/resolve", json={"resolution_category": "answered"})
            assert answer.status_code in (200, 409), answer.text


def test_presence_switch_and_auto_assignment(
    new_context: NewContext, console_base: str, supervisor_api: httpx.Client, accounts: Accounts, stack: Stack,
) -> None:
    zhao, qian = accounts.agent("小赵"), accounts.agent("小钱")
    _resolve_waiting(supervisor_api)
    team = accounts.team([zhao, qian], ["complain"])
    zhao_page = _agent_page(new_context, console_base, zhao)
    qian_page = _agent_page(new_context, console_base, qian)
    log = PageLog(zhao_page)

    boss = new_context(bypass_csp=True).new_page()  # axe is injected inline
    login(boss, console_base, "admin", "admin-test-password")
    boss.click("#nav-agents")
    expect(boss.locator("h1")).to_have_text("坐席与团队")
    roster = boss.locator("#roster-rows")
    expect(roster.locator(f'tr[data-agent-id="{zhao["id"]}"]')).to_have_attribute("data-status", "online")
    expect(roster.locator(f'tr[data-agent-id="{qian["id"]}"]')).to_have_attribute("data-status", "online")
    expect(boss.locator("#team-rows")).to_contain_text(str(team["name"]))
    switch = boss.locator("#auto-assign")
    expect(switch).not_to_be_checked()
    switch.check()
    expect(boss.locator("#auto-assign-state")).to_contain_text("自动分配已开启")
    assert supervisor_api.get("/api/assignment").json()["auto_assign"] is True

    # 小赵 steps away in the header: the supervisor sees it live, and the complaint goes to 小钱.
    expect(zhao_page.locator("#presence")).to_have_value("online")
    zhao_page.select_option("#presence", "away")
    expect(zhao_page.locator(".presence")).to_have_attribute("data-status", "away")
    expect(roster.locator(f'tr[data-agent-id="{zhao["id"]}"]')).to_have_attribute("data-status", "away")
    first = Resident(stack, f"test-tools-{uuid.uuid4().hex[:8]}")
    first_no = open_ticket(first, COMPLAINT)
    ticket = wait_until(lambda: (t := _ticket(supervisor_api, first_no))["assignee"] and t, timeout=20)
    assert ticket["category"] == "complain" and ticket["team"]["id"] == team["id"], ticket
    assert ticket["assignee"]["id"] == qian["id"]
    notice = wait_until(lambda: [t for t in first.inbox() if "客服小钱" in t], timeout=20)
    assert first_no in notice[0]
    show_tab(qian_page, "mine")
    expect(row(qian_page, first_no)).to_have_count(1)
    expect(roster.locator(f'tr[data-agent-id="{qian["id"]}"] td.load')).to_have_text("1")

    # Back online with nothing to do, 小赵 gets the next one (0 open against 小钱's 1).
    zhao_page.select_option("#presence", "online")
    expect(roster.locator(f'tr[data-agent-id="{zhao["id"]}"]')).to_have_attribute("data-status", "online")
    second = Resident(stack, f"test-tools-{uuid.uuid4().hex[:8]}")
    second_no = open_ticket(second, COMPLAINT)
    ticket = wait_until(lambda: (t := _ticket(supervisor_api, second_no))["assignee"] and t, timeout=20)
    assert ticket["assignee"]["id"] == zhao["id"]
    show_tab(zhao_page, "mine")
    expect(row(zhao_page, second_no)).to_have_count(1)
    expect(roster.locator(f'tr[data-agent-id="{zhao["id"]}"] td.load')).to_have_text("1")
    assert serious_axe_violations(boss) == []
    screenshot(boss, "agents")

    # The team's queue: switched off, the next complaint waits for the team, shown as such.
    switch.uncheck()
    expect(boss.locator("#auto-assign-state")).to_contain_text("自动分配已关闭")
    third_no = open_ticket(Resident(stack, f"test-tools-{uuid.uuid4().hex[:8]}"), COMPLAINT)
    show_tab(zhao_page, "unclaimed")
    zhao_page.select_option("#filter-team", "mine")
    line = row(zhao_page, third_no)
    expect(line).to_have_count(1)
    expect(line.locator("td.assignee")).to_have_text(f"待 {team['name']} 领取")
    zhao_page.select_option("#filter-team", "")
    assert log.script_errors() == []


def test_desktop_notifications_are_asked_once_and_shown_while_hidden(
    new_context: NewContext, console_base: str, supervisor_api: httpx.Client, accounts: Accounts, stack: Stack,
) -> None:
    # A browser that already allows notifications: no button to ask again.
    sun = accounts.agent("小孙")
    allowed = _agent_page(new_context, console_base, sun, permissions=["notifications"])
    assert allowed.evaluate("Notification.permission") == "granted"
    expect(allowed.locator("#notify-enable")).to_be_hidden()
    allowed.context.close()

    context = new_context(bypass_csp=True)
    context.add_init_script(FAKE_NOTIFICATIONS)
    page = context.new_page()
    log = PageLog(page)
    login(page, console_base, str(sun["username"]), str(sun["password"]))
    # Never asked on page load: only the header's button asks, once clicked.
    button = page.locator("#notify-enable")
    expect(button).to_be_visible()
    page.wait_for_timeout(500)
    assert page.evaluate("window.__asked") == 0
    assert serious_axe_violations(page) == []
    button.click()
    expect(button).to_be_hidden()
    assert page.evaluate("window.__asked") == 1
    assert page.evaluate("Notification.permission") == "granted"

    # The tab is hidden: a new ticket nobody took, then the same ticket transferred to 小孙.
    page.evaluate("window.__hidden = true")
    resident = Resident(stack, f"test-notify-{uuid.uuid4().hex[:8]}")
    ticket_no = open_ticket(resident, COMPLAINT)
    notes = lambda: page.evaluate("window.__notes")  # noqa: E731
    wait_until(lambda: any(n["tag"] == ticket_no and "新工单待领取" in n["title"] for n in notes()), timeout=20)
    supervisor_api.post(f"/api/tickets/{ticket_no}/transfer", json={"agent_id": sun["id"]}).raise_for_status()
    wait_until(lambda: any(n["title"] == f"新工单分配给您：{ticket_no}" for n in notes()), timeout=20)
    # The resident writes on 小孙's ticket while the tab is hidden.
    resident.say("师傅到底什么时候来？")
    message = wait_until(lambda: [n for n in notes() if n["title"] == f"工单 {ticket_no} 有新消息"], timeout=20)
    assert "什么时候来" in message[0]["body"]
    # A click on it brings the ticket up.
    page.evaluate("window.__lastNote.onclick()")
    expect(page).to_have_url(f"{console_base}#/tickets/{ticket_no}")

    # Visible again: the page itself shows what happens; no desktop notification.
    page.evaluate("window.__hidden = false")
    count = len(notes())
    resident.say("我还在等")
    expect(page.locator("#transcript .msg-text", has_text="我还在等")).to_have_count(1)
    page.wait_for_timeout(500)
    assert len(notes()) == count
    # The live feed's own signals ran as before: the new ticket was counted for the title and the beep.
    assert ticket_no in page.evaluate("window.heatdeskDebug.created")
    assert log.script_errors() == []


def test_keyboard_shortcuts(
    new_context: NewContext, console_base: str, supervisor_api: httpx.Client, accounts: Accounts, stack: Stack,
) -> None:
    zhou = accounts.agent("小周")
    residents = [Resident(stack, f"test-keys-{uuid.uuid4().hex[:8]}") for _ in range(2)]
    numbers = [open_ticket(r, COMPLAINT) for r in residents]
    page = new_context(bypass_csp=True).new_page()
    log = PageLog(page)
    login(page, console_base, str(zhou["username"]), str(zhou["password"]))
    page.goto(f"{console_base}#/tickets/{numbers[0]}")
    expect(page.locator("#action-claim")).to_be_visible()
    page.locator("#ticket-title").focus()

    page.keyboard.press("c")  # claim
    expect(page.locator("#composer")).to_be_enabled()
    expect(page.locator("#ticket-status")).to_have_text("已领取")
    page.locator("#ticket-title").focus()
    page.keyboard.press("r")  # reply
    expect(page.locator("#composer")).to_be_focused()
    # Typing in the reply box is typing: "j" and "e" are letters there, not shortcuts.
    page.keyboard.type("je")
    expect(page.locator("#composer")).to_have_value("je")
    assert page.url.endswith(f"#/tickets/{numbers[0]}")
    expect(page.locator("#resolve-dialog")).to_have_count(0)
    page.locator("#composer").fill("")

    # Nor while an IME candidate is being chosen (even with the focus outside a field).
    page.locator("#ticket-title").focus()
    page.evaluate("""() => {
        document.dispatchEvent(new CompositionEvent("compositionstart", { data: "j" }));
        document.activeElement.dispatchEvent(new KeyboardEvent("keydown", { key: "j", bubbles: true, isComposing: true }));
        document.activeElement.dispatchEvent(new KeyboardEvent("keydown", { key: "e", bubbles: true, keyCode: 229 }));
        document.dispatchEvent(new CompositionEvent("compositionend", { data: "就" }));
    }""")
    page.wait_for_timeout(300)
    assert page.url.endswith(f"#/tickets/{numbers[0]}")
    expect(page.locator("#resolve-dialog")).to_have_count(0)

    page.keyboard.press("n")  # note
    expect(page.locator("#note-input")).to_be_focused()
    page.locator("#ticket-title").focus()

    page.keyboard.press("?")  # the help dialog lists them all
    help_dialog = page.locator("#shortcuts-dialog")
    expect(help_dialog).to_be_visible()
    for key, what in (("c", "领取"), ("r", "回复"), ("n", "备注"), ("e", "解决"), ("j", "下一个工单")):
        expect(help_dialog.locator("tr", has=page.locator("kbd").get_by_text(key, exact=True))).to_contain_text(what)
    assert serious_axe_violations(page) == []
    screenshot(page, "shortcuts")
    page.keyboard.press("j")  # a dialog is open: nothing moves
    assert page.url.endswith(f"#/tickets/{numbers[0]}")
    page.keyboard.press("Escape")
    expect(help_dialog).to_have_count(0)

    page.keyboard.press("e")  # resolve: the dialog asks for the category, as the button does
    expect(page.locator("#resolve-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#resolve-dialog")).to_have_count(0)

    # Next and previous: my open tickets first, then the unclaimed ones, most urgent first.
    supervisor_api.post(f"/api/tickets/{numbers[1]}/transfer", json={"agent_id": zhou["id"]}).raise_for_status()
    def listed(**params: object) -> List[str]:
        answer = supervisor_api.get("/api/tickets", params={**params, "sort": "queue", "limit": 200})
        return [t["ticket_no"] for t in answer.json()["items"]]

    mine = listed(assignee=zhou["id"], status="open")
    assert sorted(mine) == sorted(numbers)
    work = mine + listed(assignee="unassigned", status="new")
    page.locator("#ticket-title").focus()
    page.keyboard.press("j")
    expect(page).to_have_url(f"{console_base}#/tickets/{work[(work.index(numbers[0]) + 1) % len(work)]}")
    page.locator("#ticket-title").focus()
    page.keyboard.press("k")
    expect(page).to_have_url(f"{console_base}#/tickets/{numbers[0]}")
    assert log.script_errors() == []
