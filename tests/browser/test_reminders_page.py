"""The reminder campaign page in Chromium: preview, send, the tally updating live, axe clean.

A small stack of its own (billing with tests/data/reminders_seed.json and the console, daytime
HEATING_NOW) and the fake WeChat API, slowed down so the page shows the campaign mid-send.
No Redis flush (the database may be shared): the bound OpenIDs are random.
"""

from __future__ import annotations

import os
import secrets
from typing import Iterator

import pytest
from playwright.sync_api import expect
from redis import Redis

from heatdesk_contract.keys import DEFAULT as keys
from tests.browser.conftest import ADMIN, PageLog, login, screenshot, serious_axe_violations
from tests.fakes.wechat_api import FakeWeChat
from tests.stack import ROOT, TEST_REDIS_DB, Stack

APPID, APPSECRET = "wx7b0e4ea7d00c9a2c", "heatdesk-browser-reminders-secret"
BOUND = ("2031000001", "2031000003", "2031000007")


@pytest.fixture(scope="module")
def reminder_stack() -> Iterator[tuple[Stack, FakeWeChat]]:
    fake = FakeWeChat(appid=APPID, secret=APPSECRET).start()
    base_redis = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
    stack = Stack.create(
        REDIS_URL=f"{base_redis}/{TEST_REDIS_DB}",
        BILLING_SEED_FILE=str(ROOT / "tests" / "data" / "reminders_seed.json"),
        WECHAT_APPID=APPID,
        WECHAT_APPSECRET=APPSECRET,
        WECHAT_API_BASE=fake.base_url,
        HEATING_NOW="2025-02-15T10:00:00",
    )
    redis = Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)
    bindings = [keys.wechat_binding("o" + secrets.token_hex(13)) for _ in BOUND]
    try:
        for name, account in zip(bindings, BOUND):
            redis.set(name, account)
        stack.start(["billing", "console"])
        yield stack, fake
    finally:
        redis.delete(*bindings)
        redis.close()
        stack.stop_all()
        fake.stop()


def test_preview_send_and_live_tally(reminder_stack: tuple[Stack, FakeWeChat], new_context) -> None:  # type: ignore[no-untyped-def]
    stack, fake = reminder_stack
    page = new_context(bypass_csp=True).new_page()  # axe is injected inline
    log = PageLog(page)
    login(page, stack.url("console") + "/console/app/", *ADMIN)
    page.click("#nav-reminders")
    expect(page.locator("#rem-form")).to_be_visible()
    axe = {"form": serious_axe_violations(page)}

    page.select_option("#rem-kind", "overdue")
    page.click("#rem-preview")
    campaign = page.locator("#rem-campaign[data-status=planned]")
    expect(campaign).to_be_visible()
    expect(page.locator(".rem-summary")).to_contain_text("目标住户 6 户")
    expect(page.locator(".rem-summary")).to_contain_text("欠费合计 15810.17 元")
    expect(page.locator("#rem-sample")).to_contain_text("合计1587.41元")
    expect(page.locator("#rem-districts tbody tr")).to_have_count(3)
    expect(page.locator("#rem-tally li[data-state=queued] .tally-count")).to_have_text("3")
    expect(page.locator("#rem-tally li[data-state=no_channel] .tally-count")).to_have_text("3")
    axe["preview"] = serious_axe_violations(page)
    assert fake.delivered_any() == []

    fake.set_send_delay(2.5)
    # Every "sent" count the page shows, recorded as it re-renders (no reload in between).
    page.evaluate("""() => {
        window.sentSeen = [];
        new MutationObserver(() => {
            const sent = document.querySelector("#rem-tally li[data-state=sent] .tally-count");
            if (sent) window.sentSeen.push(Number(sent.textContent));
        }).observe(document.getElementById("rem-result"), { childList: true, subtree: true });
    }""")
    page.click("#rem-send")
    expect(page.locator("#rem-campaign[data-status=sending]")).to_be_visible()
    expect(page.locator("#rem-campaign[data-status=done]")).to_be_visible(timeout=30_000)
    expect(page.locator("#rem-tally li[data-state=sent] .tally-count")).to_have_text("3")
    expect(page.locator("#rem-tally li[data-state=queued]")).to_have_count(0)
    seen = page.evaluate("window.sentSeen")
    assert any(0 < count < 3 for count in seen), seen  # the tally moved while the campaign was sending
    axe["done"] = serious_axe_violations(page)
    screenshot(page, "reminders-done")

    recipients = [body["touser"] for body in fake.delivered_any()]
    assert len(recipients) == 3 == len(set(recipients)), recipients
    assert axe == {name: [] for name in axe}, axe
    assert log.script_errors() == []
