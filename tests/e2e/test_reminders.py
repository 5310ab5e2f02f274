"""Arrears reminders through a running stack (issue 17, "Done when").

A stack of its own (billing with tests/data/reminders_seed.json, Rasa, the console) and a
fake WeChat API (a real local HTTP server). Seven households: with and without arrears,
bound to a WeChat OpenID or not, one that replied 退订 through the real WeChat callback, one
that pays after the campaign was planned. The console starts inside quiet hours
(HEATING_NOW 22:30), so a started campaign must wait; it is then restarted in daytime, and
restarted again mid-send. Each resident must get exactly one message with their own amounts
(the late fee as of HEATING_TODAY=2025-02-15, worked out by hand below).

The stack is not flushed: its Redis database may be shared with the session's other stack,
so every OpenID is random and the seed's account numbers (2031…) exist nowhere else.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List

import httpx
import pytest
from redis import Redis

from bot import messages
from connectors.wechat_protocol.messages import parse_xml_fields
from connectors.wechat_protocol.signature import compute_signature
from heatdesk_contract.keys import DEFAULT as keys
from tests.fakes.wechat_api import FakeWeChat
from tests.stack import ROOT, TEST_REDIS_DB, Stack, wait_until

APPID = "wx7e2e4ea7d00c9a1b"
APPSECRET = "heatdesk-e2e-reminders-secret"
WECHAT_TOKEN = "heatdesk-e2e-reminders-token"
SEED = ROOT / "tests" / "data" / "reminders_seed.json"
SEED_AFTER_PAYMENT = ROOT / "tests" / "data" / "reminders_seed_paid.json"  # 2031000006 paid 1500.00 today
NIGHT = "2025-02-15T22:30:00"
DAY = "2025-02-15T10:00:00"
PAY_URL = "https://pay.example-heat.cn/wx/pay?account={}"

# account → (district, total owed as of 2025-02-15) for the households an "overdue" campaign targets.
# The late fees, by hand (1‰ per day of the unpaid amount, from the day after the due date):
#   …01: 2025-01-01..01-09: 9 × 2.509 = 22.581; 01-10..02-15: 37 × 1.509 = 55.833 → 78.41; total 1587.41
#   …03: 2023 bill 412 d × 3.12 = 1285.44, 2024 bill 46 d × 3.12 = 143.52 → 1428.96; total 6240 + 1428.96 = 7668.96
#   …04: 46 × 1.00 = 46.00 → 1046.00   …05: 46 × 2.00 = 92.00 → 2092.00
#   …06: 46 × 1.50 = 69.00 → 1569.00   …07: 26 × 1.80 = 46.80 → 1846.80
OVERDUE = {
    "2031000001": ("南岗区", "1587.41"),
    "2031000003": ("道里区", "7668.96"),
    "2031000004": ("道里区", "1046.00"),
    "2031000005": ("南岗区", "2092.00"),
    "2031000006": ("香坊区", "1569.00"),
    "2031000007": ("香坊区", "1846.80"),
}


def openid() -> str:
    return "o" + secrets.token_hex(14)[:27]


class Reminders:
    """The stack, the fake WeChat API, a logged-in supervisor and the residents' OpenIDs."""

    def __init__(self, stack: Stack, fake: FakeWeChat) -> None:
        self.overdue_id = 0  # the "overdue" campaign the tests plan, hold, send and re-run
        self.stack = stack
        self.fake = fake
        self.redis = Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)
        self.openids = {account: openid() for account in
                        ("2031000001", "2031000002", "2031000003", "2031000005", "2031000006", "2031000007")}
        self.console = self.login()

    def login(self) -> httpx.Client:
        base = self.stack.url("console")
        client = httpx.Client(base_url=base, timeout=60, headers={"Origin": base})
        client.post("/api/login", json={"username": "admin", "password": "admin-test-password"}).raise_for_status()
        return client

    def restart_console(self, **env: str) -> None:
        self.stack.env.update(env)
        self.stack.restart("console")
        self.console.close()
        self.console = self.login()

    def wechat_says(self, account: str, text: str) -> str:
        """A text message through the real WeChat callback (plain mode); the passive reply."""
        ts, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        xml = (f"<xml><ToUserName><![CDATA[gh_reminders]]></ToUserName><FromUserName><![CDATA["
               f"{self.openids[account]}]]></FromUserName><CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]>"
               f"</MsgType><Content><![CDATA[{text}]]></Content><MsgId>{secrets.randbelow(10**18)}</MsgId></xml>")
        answer = httpx.post(
            self.stack.url("rasa") + "/webhooks/wechat/webhook",
            params={"signature": compute_signature(WECHAT_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce},
            content=xml.encode(), headers={"Content-Type": "text/xml"}, timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return parse_xml_fields(answer.content)["Content"] if answer.text != "success" else ""

    def plan(self, **body: Any) -> Dict[str, Any]:
        answer = self.console.post("/api/reminders/campaigns", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def send(self, campaign_id: int) -> Dict[str, Any]:
        answer = self.console.post(f"/api/reminders/campaigns/{campaign_id}/send")
        assert answer.status_code == 202, answer.text
        return answer.json()

    def campaign(self, campaign_id: int) -> Dict[str, Any]:
        answer = self.console.get(f"/api/reminders/campaigns/{campaign_id}")
        answer.raise_for_status()
        return answer.json()

    def wait_done(self, campaign_id: int, timeout: float = 60) -> Dict[str, Any]:
        return wait_until(lambda: (c := self.campaign(campaign_id))["status"] == "done" and c, timeout=timeout)

    def received(self, account: str) -> List[Dict[str, Any]]:
        """Everything the fake WeChat API accepted for this household's OpenID."""
        return [body for body in self.fake.delivered_any() if body.get("touser") == self.openids[account]]


@pytest.fixture(scope="module")
def rem() -> Iterator[Reminders]:
    if not (ROOT / "var" / "models" / "current.tar.gz").exists():
        raise RuntimeError("no trained model: run `make train` (make test does it)")
    fake = FakeWeChat(appid=APPID, secret=APPSECRET).start()
    base_redis = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
    stack = Stack.create(
        REDIS_URL=f"{base_redis}/{TEST_REDIS_DB}",
        BILLING_SEED_FILE=str(SEED),
        WECHAT_TOKEN=WECHAT_TOKEN,
        WECHAT_APPID=APPID,
        WECHAT_APPSECRET=APPSECRET,
        WECHAT_API_BASE=fake.base_url,
        HEATING_NOW=NIGHT,
        REMINDER_BACKOFF_SECONDS="1",
    )
    try:
        stack.start(["billing", "actions", "rasa", "console"], timeout=1200)  # Rasa loads slowly on a busy machine
        state = Reminders(stack, fake)
        for account, oid in state.openids.items():  # bound, as a passed identity check leaves it
            state.redis.set(keys.wechat_binding(oid), account)
        yield state
        state.redis.delete(*(keys.wechat_binding(oid) for oid in state.openids.values()))
        state.console.close()
        state.redis.close()
    finally:
        stack.stop_all()
        fake.stop()


def test_opt_out_and_back_in_through_the_wechat_channel(rem: Reminders) -> None:
    assert rem.wechat_says("2031000002", "退订") == messages.REMINDERS_STOPPED
    assert rem.redis.sismember(keys.reminder_optouts(), f"wechat:{rem.openids['2031000002']}")
    assert rem.wechat_says("2031000002", "恢复提醒") == messages.REMINDERS_RESUMED
    assert not rem.redis.sismember(keys.reminder_optouts(), f"wechat:{rem.openids['2031000002']}")
    assert rem.wechat_says("2031000005", "退订") == messages.REMINDERS_STOPPED
    # Any channel: the website's REST channel too, answered by the router without the bot.
    sender = f"rem-{secrets.token_hex(6)}"
    answer = httpx.post(rem.stack.url("rasa") + "/webhooks/rest/webhook", json={"sender": sender, "message": "退订"},
                        timeout=30)
    assert [item["text"] for item in answer.json()] == [messages.REMINDERS_STOPPED]
    assert rem.redis.sismember(keys.reminder_optouts(), f"rest:{sender}")
    # …01 writes today: inside the 48-hour window, so it gets a plain customer-service message.
    rem.wechat_says("2031000001", "你好")
    assert rem.redis.exists(keys.wechat_last_seen(rem.openids["2031000001"]))


def test_preview_counts_each_district_and_renders_the_residents_own_amounts(rem: Reminders) -> None:
    narrow = rem.plan(kind="overdue", district="道里区", min_arrears="2000")
    assert narrow["preview"]["households"] == 1 and narrow["preview"]["total_arrears"] == "7668.96"

    campaign = rem.plan(kind="overdue", days=1)
    preview = campaign["preview"]
    assert campaign["status"] == "planned" and preview["as_of"] == "2025-02-15"
    assert preview["households"] == len(OVERDUE)
    assert preview["total_arrears"] == "15810.17"
    by_district = {row["district"]: row for row in preview["districts"]}
    assert by_district["南岗区"]["households"] == 2 and by_district["南岗区"]["queued"] == 1
    assert by_district["南岗区"]["opted_out"] == 1 and by_district["南岗区"]["total_arrears"] == "3679.41"
    assert by_district["道里区"]["no_channel"] == 1 and by_district["道里区"]["total_arrears"] == "8714.96"
    assert by_district["香坊区"]["queued"] == 2 and by_district["香坊区"]["total_arrears"] == "3415.80"
    sample = preview["sample"]
    assert sample["account_no"] == "2031000001"
    for fragment in ("张*", "逾期46天", "未交1509.00元", "滞纳金78.41元", "合计1587.41元",
                     PAY_URL.format("2031000001"), "退订"):
        assert fragment in sample["text"], (fragment, sample["text"])
    assert campaign["tally"] == {"queued": 4, "no_channel": 1, "opted_out": 1}
    assert not rem.fake.delivered_any(), "a preview sends nothing"
    rem.overdue_id = campaign["id"]


def test_quiet_hours_hold_a_started_campaign(rem: Reminders) -> None:
    # …06 pays after the plan: the billing system now shows the payment.
    rem.stack.env["BILLING_SEED_FILE"] = str(SEED_AFTER_PAYMENT)
    rem.stack.restart("billing")
    started = rem.send(rem.overdue_id)
    assert started["status"] == "sending" and started["quiet_hours_now"] is True
    time.sleep(4)
    assert not rem.fake.delivered_any(), "nothing may go out at 22:30"
    assert rem.campaign(rem.overdue_id)["tally"]["queued"] == 4


def test_daytime_sends_exactly_once_across_a_console_restart_mid_send(rem: Reminders) -> None:
    campaign_id = rem.overdue_id
    rem.fake.set_send_delay(1.0)
    rem.restart_console(HEATING_NOW=DAY)
    wait_until(lambda: len(rem.fake.delivered_any()) >= 1, timeout=30)
    rem.restart_console()  # mid-send: the rest must follow, none twice
    rem.fake.set_send_delay(0.0)
    done = rem.wait_done(campaign_id)
    assert done["tally"] == {"sent": 3, "skipped_paid": 1, "no_channel": 1, "opted_out": 1}

    inside_window = rem.received("2031000001")
    assert len(inside_window) == 1 and inside_window[0]["msgtype"] == "text"
    text = inside_window[0]["text"]["content"]
    assert "合计1587.41元" in text and PAY_URL.format("2031000001") in text
    for account in ("2031000003", "2031000007"):  # outside the window: the template API
        got = rem.received(account)
        assert len(got) == 1, got
        assert got[0]["template_id"] == {"2031000003": "TEMPLATE_ID_OVERDUE", "2031000007": "TEMPLATE_ID_OVERDUE"}[account]
        assert got[0]["data"]["keyword1"]["value"] == account
        assert got[0]["data"]["keyword2"]["value"] == OVERDUE[account][1] + "元"
        assert got[0]["url"] == PAY_URL.format(account)
    for account in ("2031000002", "2031000005", "2031000006"):  # no arrears, 退订, paid after the plan
        assert rem.received(account) == []
    assert len(rem.fake.delivered_any()) == 3


def test_rerunning_sends_nothing_twice(rem: Reminders) -> None:
    before = len(rem.fake.delivered_any())
    again = rem.send(rem.overdue_id)
    assert again["status"] == "done"
    replan = rem.plan(kind="overdue", days=1)
    assert replan["tally"] == {"throttled": 3, "no_channel": 1, "opted_out": 1}  # …06 has paid: not targeted
    rem.send(replan["id"])
    rem.wait_done(replan["id"])
    time.sleep(1)
    assert len(rem.fake.delivered_any()) == before


def test_a_wechat_rate_limit_backs_off_and_resumes(rem: Reminders) -> None:
    rem.fake.fail_next_sends(45009)
    campaign = rem.plan(kind="credit_warning")  # day 25 to 30: only …07 (26 days)
    assert campaign["tally"] == {"queued": 1}
    rem.send(campaign["id"])
    done = rem.wait_done(campaign["id"])
    assert done["tally"] == {"sent": 1}
    warnings = [b for b in rem.received("2031000007") if b.get("template_id") == "TEMPLATE_ID_CREDIT_WARNING"]
    assert len(warnings) == 1
    row = rem.console.get(f"/api/reminders/campaigns/{campaign['id']}/sends").json()[0]
    assert row["attempts"] == 2 and row["api"] == "template" and row["total_due"] == "1846.80"
    assert "45009" in row["error"]


def test_malformed_campaigns_get_clear_errors(rem: Reminders) -> None:
    assert rem.console.post("/api/reminders/campaigns", json={"kind": "spam"}).status_code == 422
    assert rem.console.post("/api/reminders/campaigns", json={"kind": "overdue", "min_arrears": "-1"}).status_code == 422
    assert rem.console.get("/api/reminders/campaigns/999999").status_code == 404
    assert rem.console.post("/api/reminders/campaigns/0/send").status_code == 422


def rest_says(rem: Reminders, sender: str, text: str) -> str:
    answer = httpx.post(rem.stack.url("rasa") + "/webhooks/rest/webhook", json={"sender": sender, "message": text},
                        timeout=60)
    answer.raise_for_status()
    return "\n".join(item.get("text", "") for item in answer.json())


def test_balance_answer_carries_the_pay_link_and_i_paid_rechecks_billing(rem: Reminders) -> None:
    owing = f"rem-pay-{secrets.token_hex(4)}"
    rest_says(rem, owing, "查欠费")
    balance = rest_says(rem, owing, "户号2031000007 尾号0000")
    assert "1846.80" in balance and "https://pay.example-heat.cn/h5/pay?account=2031000007" in balance, balance
    claim = rest_says(rem, owing, "我交了钱 但你们这边说没收到")
    assert "户号2031000007截至2025-02-15系统里还显示待缴1846.80元" in claim, claim
    assert "https://pay.example-heat.cn/h5/pay?account=2031000007" in claim

    settled = f"rem-pay-{secrets.token_hex(4)}"
    rest_says(rem, settled, "查欠费")
    balance = rest_says(rem, settled, "户号2031000002 尾号0000")
    assert "没有欠费" in balance and "pay.example-heat.cn" not in balance, balance
    claim = rest_says(rem, settled, "我交了钱 但你们这边说没收到")
    assert "户号2031000002截至2025-02-15已没有欠费，您的缴费已经到账" in claim, claim


def test_cron_command_line_plans_and_sends_through_the_running_console(rem: Reminders) -> None:
    before = len(rem.fake.delivered_any())
    env = {**rem.stack.env}
    done = subprocess.run(
        [sys.executable, "-m", "console.cli", "remind", "run", "--kind", "overdue", "--district", "道里区"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "2 households, arrears 8714.96 yuan" in done.stdout, done.stdout
    assert "no_channel 1, throttled 1" in done.stdout  # …03 got its overdue reminder above; …04 has no channel
    campaign_id = int(done.stdout.split()[1])
    assert rem.wait_done(campaign_id)["tally"] == {"no_channel": 1, "throttled": 1}
    assert len(rem.fake.delivered_any()) == before
    bad = subprocess.run([sys.executable, "-m", "console.cli", "remind", "send", "999999"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.strip() == "error: No campaign 999999."
