"""Arrears reminders for residents reachable only through the website widget (issue 17, "Channels").

A stack of its own (billing with tests/data/widget_reminders_seed.json, Rasa, the action
server, the console in daytime) and real socket.io clients. Three overdue households:
…01 passes the identity check in the widget (its session is bound), …02 never does (no
channel), …03 passes it and then replies 退订 in the widget (opted out). An "overdue" campaign
must store …01's notice, show it exactly once with its own amounts and the H5 pay link when
that session opens the widget again (a second open, a reconnect, a campaign re-run and a
console restart show nothing more), never to another session, and mark the send delivered.
Late fees as of HEATING_TODAY=2025-02-15 by hand: 46 days × 1‰ of 1000.00 = 46.00 (1046.00);
…02 46 × 2.00 = 92.00 (2092.00); …03 46 × 1.50 = 69.00 (1569.00).
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, Iterator, List

import httpx
import pytest
from redis import Redis

from bot import messages
from heatdesk_contract.keys import DEFAULT as keys
from tests.e2e.test_widget import WidgetUser, own_loop, texts
from tests.stack import ROOT, TEST_REDIS_DB, Stack, wait_until

SEED = ROOT / "tests" / "data" / "widget_reminders_seed.json"
DAY = "2025-02-15T10:00:00"
H5_PAY = "https://pay.example-heat.cn/h5/pay?account={}"
ACCOUNTS = ("2033000001", "2033000002", "2033000003")


def forget_bindings(redis: Redis) -> None:
    """Bindings of this seed's households left by an earlier run of this module (db shared)."""
    for key in redis.scan_iter(match=keys.widget_binding_pattern(), count=1000):
        if redis.get(key) in ACCOUNTS:
            redis.delete(key)


class Campaigns:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.redis = Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)
        self.console = self.login()
        self.credentials: Dict[str, Any] = {}  # account → the widget session's resume credential

    def login(self) -> httpx.Client:
        base = self.stack.url("console")
        client = httpx.Client(base_url=base, timeout=60, headers={"Origin": base})
        client.post("/api/login", json={"username": "admin", "password": "admin-test-password"}).raise_for_status()
        return client

    def plan_and_send(self) -> Dict[str, Any]:
        answer = self.console.post("/api/reminders/campaigns", json={"kind": "overdue", "days": 1})
        assert answer.status_code == 201, answer.text
        campaign = answer.json()
        assert self.console.post(f"/api/reminders/campaigns/{campaign['id']}/send").status_code == 202
        return campaign

    def campaign(self, campaign_id: int) -> Dict[str, Any]:
        answer = self.console.get(f"/api/reminders/campaigns/{campaign_id}")
        answer.raise_for_status()
        return answer.json()

    def sends(self, campaign_id: int) -> Dict[str, Dict[str, Any]]:
        rows = self.console.get(f"/api/reminders/campaigns/{campaign_id}/sends").json()
        return {row["account_no"]: row for row in rows}


@pytest.fixture(scope="module")
def rem() -> Iterator[Campaigns]:
    if not (ROOT / "var" / "models" / "current.tar.gz").exists():
        raise RuntimeError("no trained model: run `make train` (make test does it)")
    base_redis = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
    stack = Stack.create(REDIS_URL=f"{base_redis}/{TEST_REDIS_DB}", BILLING_SEED_FILE=str(SEED), HEATING_NOW=DAY,
                         REMINDER_BACKOFF_SECONDS="1")
    try:
        stack.start(["billing", "actions", "rasa", "console"], timeout=1200)
        state = Campaigns(stack)
        forget_bindings(state.redis)
        yield state
        forget_bindings(state.redis)
        state.console.close()
        state.redis.close()
    finally:
        stack.stop_all()


async def verify(user: WidgetUser, account: str) -> List[Dict[str, Any]]:
    await user.say("查欠费")
    return await user.say(f"户号{account} 尾号0000")


def shown(user: WidgetUser) -> List[Dict[str, Any]]:
    return [m for m in user.of("bot_uttered") if "【欠费提醒】" in str(m.get("text", ""))]


@own_loop
async def test_widget_residents_bind_by_the_identity_check_and_opt_out(rem: Campaigns) -> None:
    for account in ("2033000001", "2033000003"):
        async with WidgetUser(rem.stack) as user:
            rem.credentials[account] = await user.start()
            balance = texts(await verify(user, account))
            assert "1046.00" in balance or "1569.00" in balance, balance
            assert rem.redis.get(keys.widget_binding(user.session_id)) == account
            if account == "2033000003":
                assert texts(await user.say("退订")) == messages.REMINDERS_STOPPED
                assert rem.redis.sismember(keys.reminder_optouts(), f"widget:{user.session_id}")
    async with WidgetUser(rem.stack) as stranger:  # talks, never verifies: bound to nobody
        await stranger.start()
        await stranger.say("你好")
        assert rem.redis.get(keys.widget_binding(stranger.session_id)) is None


@own_loop
async def test_a_bound_widget_household_sees_its_notice_once_on_the_next_open(rem: Campaigns) -> None:
    campaign = rem.plan_and_send()
    assert campaign["tally"] == {"queued": 1, "no_channel": 1, "opted_out": 1}
    cid = campaign["id"]
    done = wait_until(lambda: (c := rem.campaign(cid))["status"] == "done" and c, timeout=60)
    assert done["tally"] == {"sent": 1, "no_channel": 1, "opted_out": 1}
    rows = rem.sends(cid)
    assert rows["2033000001"]["channel"] == "widget" and rows["2033000001"]["api"] == "widget"
    assert rows["2033000002"]["state"] == "no_channel" and rows["2033000003"]["state"] == "opted_out"

    # Forged reports (row numbers of this database, another session): never "delivered", and left
    # in place for whichever console they belong to (several consoles may share one Redis).
    forged = {str(send_id): "widget:intruder-session" for send_id in range(1, 200)}
    rem.redis.hset(keys.widget_notices_shown(), mapping=forged)
    time.sleep(3.0)
    assert rem.sends(cid)["2033000001"]["state"] == "sent"
    assert rem.redis.hmget(keys.widget_notices_shown(), list(forged)) == list(forged.values())

    async with WidgetUser(rem.stack) as other:  # another session sees nothing of it
        await other.start()
        await other.quiet(2.0)
        assert shown(other) == []
    async with WidgetUser(rem.stack) as opted:  # the opted-out household's session: nothing
        await opted.start(rem.credentials["2033000003"])
        await opted.quiet(2.0)
        assert shown(opted) == []

    async with WidgetUser(rem.stack) as user:
        await user.start(rem.credentials["2033000001"])
        notices = await user.wait(lambda: shown(user))
        await user.quiet(2.0)
        assert len(shown(user)) == 1
        text = notices[0]["text"]
        for fragment in ("钱*", "户号2033000001", "逾期46天", "未交1000.00元", "滞纳金46.00元", "合计1046.00元",
                         H5_PAY.format("2033000001"), "退订"):
            assert fragment in text, (fragment, text)
        assert isinstance(notices[0]["message_id"], int)
        await user.start(rem.credentials["2033000001"])  # a reconnect on the same socket
        await user.quiet(2.0)
        assert len(shown(user)) == 1
    delivered = wait_until(lambda: (c := rem.campaign(cid))["tally"].get("delivered") and c, timeout=30)
    # Every forged report is still there but the one field the genuine report overwrote and settled.
    left = rem.redis.hmget(keys.widget_notices_shown(), list(forged))
    assert left.count(None) == 1 and set(left) - {None} == {"widget:intruder-session"}
    rem.redis.hdel(keys.widget_notices_shown(), *forged)
    assert delivered["tally"] == {"delivered": 1, "no_channel": 1, "opted_out": 1}
    assert not rem.redis.exists(keys.widget_notices(rem.credentials["2033000001"]["session_id"]))


@own_loop
async def test_a_rerun_and_a_console_restart_show_nothing_twice(rem: Campaigns) -> None:
    rem.stack.restart("console")
    rem.console.close()
    rem.console = rem.login()
    again = rem.plan_and_send()
    assert again["tally"] == {"throttled": 1, "no_channel": 1, "opted_out": 1}
    wait_until(lambda: rem.campaign(again["id"])["status"] == "done", timeout=60)
    async with WidgetUser(rem.stack) as user:
        await user.start(rem.credentials["2033000001"], last_message_id=0)
        replay = (await user.wait(lambda: user.of("transcript")))[0]
        await user.quiet(2.0)
        assert shown(user) == []  # nothing new live
        replayed = [m for m in replay["messages"] if "【欠费提醒】" in str(m.get("payload", {}).get("text", ""))]
        assert len(replayed) == 1  # the one notice, in the transcript once
