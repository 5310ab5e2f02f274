"""Auto-assignment (issue 15) through the HTTP API and the ticket stream, on SQLite and PostgreSQL.

Each backend gets a console of its own: which agents are on duty must be only this test's, not
those of every other console test still within their presence window.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from console_helpers import ConsoleServer, FakeRasa, temporary_pg_database, ticket_request, wait_for


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def assign_server(request: pytest.FixtureRequest, workdir: Path, fake_rasa: FakeRasa,
                  billing_url: str) -> Iterator[ConsoleServer]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{workdir}/console-assign-{uuid.uuid4().hex[:6]}.db"
        else:
            url = stack.enter_context(temporary_pg_database())
        server = ConsoleServer(
            backend=f"assign-{request.param}", database_url=url, prefix=f"hdassign-{uuid.uuid4().hex[:8]}:",
            workdir=workdir,
            extra_env={"RASA_PORT": str(fake_rasa.port), "RASA_HOST": "127.0.0.1", "BILLING_URL": billing_url},
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()
            if server._engine is not None:
                server._engine.dispose()
            client = redis.Redis.from_url(server.env["REDIS_URL"])
            keys = list(client.scan_iter(match=f"{server.prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()


def _request(server: ConsoleServer, r: redis.Redis, **overrides: str) -> dict[str, str]:
    """A ticket request as the handoff action sends it, owner hash included; waits until persisted."""
    fields = ticket_request(**overrides)
    r.hset(server.keys.owner(fields["conversation_id"]), mapping={
        "owner": "agent", "ticket_no": fields["ticket_no"], "channel": "rest", "agent": "",
        "ticket_key": fields["idempotency_key"]})
    r.xadd(server.keys.tickets_stream(), fields)
    return fields


def _persisted(client: httpx.Client, fields: dict[str, str]) -> dict[str, object]:
    """The ticket once the console has persisted and routed it."""
    def found() -> dict[str, object] | None:
        answer = client.get(f"/api/tickets/{fields['ticket_no']}")
        if answer.status_code != 200:
            return None
        history = {h["kind"] for h in answer.json()["history"]}
        return answer.json() if history & {"auto_assigned", "auto_assign_waiting", "follow_up"} or \
            answer.json()["status"] != "new" else None
    return wait_for(found, what=f"ticket {fields['ticket_no']} routed")


def _notices(server: ConsoleServer, r: redis.Redis, ticket_no: str) -> list[dict[str, str]]:
    return [f for _id, f in r.xrange(server.keys.outbox_stream())
            if f.get("ticket_no") == ticket_no and f["type"] == "agent.message"]


def _assignee(ticket: dict[str, object]) -> int | None:
    assignee = ticket["assignee"]
    return assignee["id"] if isinstance(assignee, dict) else None


def test_auto_assignment_balances_load_skips_away_and_offline_agents(
    assign_server: ConsoleServer, r: redis.Redis
) -> None:
    server = assign_server
    a, a_info, _ = server.new_agent(display_name="小安")
    b, b_info, _ = server.new_agent(display_name="小白")
    c, c_info, _ = server.new_agent(display_name="小陈")
    with a, b, c, server.admin() as admin:
        # Off by default: a new ticket waits in the queue, whoever is online.
        assert admin.get("/api/assignment").json()["auto_assign"] is False
        first = _request(server, r)
        waiting = wait_for(lambda: (d := admin.get(f"/api/tickets/{first['ticket_no']}")).status_code == 200
                           and d.json(), what="the first ticket")
        assert waiting["status"] == "new" and waiting["assignee"] is None
        a.post(f"/api/tickets/{first['ticket_no']}/claim").raise_for_status()  # 小安 holds one

        assert a.put("/api/assignment", json={"auto_assign": True}).status_code == 403
        assert admin.put("/api/assignment", json={"auto_assign": "yes please"}).status_code == 422
        switched = admin.put("/api/assignment", json={"auto_assign": True})
        assert switched.status_code == 200 and switched.json()["auto_assign"] is True
        assert switched.json()["updated_by"]["username"] == "admin"
        assert a.get("/api/assignment").json()["auto_assign"] is True

        # 小陈 is away: skipped, although nobody has fewer tickets. 小白 (0) beats 小安 (1).
        c.put("/api/me/presence", json={"status": "away"}).raise_for_status()
        t1 = _request(server, r)
        got = _persisted(admin, t1)
        assert _assignee(got) == b_info["id"] and got["status"] == "assigned"
        auto = [h for h in got["history"] if h["kind"] == "auto_assigned"]
        assert auto and auto[0]["detail"]["agent_id"] == b_info["id"] and auto[0]["detail"]["open_tickets"] == 0
        assert got["first_human_reply_at"] is None  # the notice is no reply: the SLA still runs
        notices = _notices(server, r, t1["ticket_no"])
        assert len(notices) == 1 and notices[0]["agent_name"] == "小白"
        assert "客服小白" in notices[0]["text"] and t1["ticket_no"] in notices[0]["text"]
        wait_for(lambda: r.hget(server.keys.owner(t1["conversation_id"]), "agent") == "小白",
                 what="the owner hash names 小白")
        assert r.zscore(server.keys.queue(), t1["ticket_no"]) is None
        # The supervisors' roster shows the load auto-assignment balances.
        roster = {line["agent"]["id"]: line for line in admin.get("/api/agents/presence").json()}
        assert (roster[a_info["id"]]["open_tickets"], roster[b_info["id"]]["open_tickets"]) == (1, 1)
        assert roster[c_info["id"]]["status"] == "away"

        # 小安 and 小白 hold one each: the one whose last assignment is older (小安) gets the next.
        t2 = _request(server, r)
        assert _assignee(_persisted(admin, t2)) == a_info["id"]
        t3 = _request(server, r)
        assert _assignee(_persisted(admin, t3)) == b_info["id"]  # 2 against 1

        # A resolved ticket no longer counts; 小白 logs out and is skipped; 小陈 is back.
        for ticket in (t2,):
            a.post(f"/api/tickets/{ticket['ticket_no']}/resolve", json={"resolution_category": "answered"}
                   ).raise_for_status()
        b.post("/api/logout").raise_for_status()
        c.put("/api/me/presence", json={"status": "online"}).raise_for_status()
        t4 = _request(server, r)
        assert _assignee(_persisted(admin, t4)) == c_info["id"]  # 小陈 0, 小安 1, 小白 offline (2)
        t5 = _request(server, r)
        assert _assignee(_persisted(admin, t5)) == a_info["id"]  # 小安 1 (older), 小陈 1

        # Supervisors claim what they want: the admin, online with no tickets at all, got none.
        admin_id = admin.get("/api/me").json()["id"]
        assert admin.get("/api/me/presence").json()["status"] == "online"
        assert admin_id not in [_assignee(admin.get(f"/api/tickets/{t['ticket_no']}").json())
                                for t in (t1, t2, t3, t4, t5)]

        # A follow-up of 小安's resolved ticket while 小安 is away: not to 小安, on to whoever is online.
        a.put("/api/me/presence", json={"status": "away"}).raise_for_status()
        again = _request(server, r, conversation_id=t2["conversation_id"])
        routed = _persisted(admin, again)
        assert routed["follow_up_of"] == t2["ticket_no"] and _assignee(routed) == c_info["id"]

        # Nobody online: the ticket waits in the queue as before (and says why in its history).
        c.put("/api/me/presence", json={"status": "offline"}).raise_for_status()
        t6 = _request(server, r)
        queued = _persisted(admin, t6)
        assert queued["status"] == "new" and queued["assignee"] is None
        assert [h["detail"]["reason"] for h in queued["history"] if h["kind"] == "auto_assign_waiting"] == \
            ["nobody online"]
        assert r.zscore(server.keys.queue(), t6["ticket_no"]) is not None
        assert _notices(server, r, t6["ticket_no"]) == []

        # Switched off: online agents are not handed anything.
        a.put("/api/me/presence", json={"status": "online"}).raise_for_status()
        assert admin.put("/api/assignment", json={"auto_assign": False}).json()["auto_assign"] is False
        t7 = _request(server, r)
        wait_for(lambda: admin.get(f"/api/tickets/{t7['ticket_no']}").status_code == 200, what="t7")
        time.sleep(0.5)  # routing happens in the transaction that persists the ticket; this is margin
        off = admin.get(f"/api/tickets/{t7['ticket_no']}").json()
        assert off["status"] == "new" and off["assignee"] is None
        assert not [h for h in off["history"] if h["kind"].startswith("auto_assign")]
        for client in (a, c):
            client.post("/api/logout").raise_for_status()


def test_auto_assignment_within_the_ticket_team_and_after_a_team_transfer(
    assign_server: ConsoleServer, r: redis.Redis
) -> None:
    server = assign_server
    fixer, fixer_info, _ = server.new_agent(display_name="小修")
    clerk, clerk_info, _ = server.new_agent(display_name="小收")
    suffix = uuid.uuid4().hex[:6]
    with fixer, clerk, server.admin() as admin:
        admin.put("/api/assignment", json={"auto_assign": True}).raise_for_status()
        repair = admin.post("/api/teams", json={"name": f"维修调度{suffix}", "member_ids": [fixer_info["id"]],
                                                "categories": ["report_leak", "report_not_warm"]}).json()
        billing = admin.post("/api/teams", json={"name": f"收费{suffix}", "member_ids": [clerk_info["id"]],
                                                 "categories": ["ask_balance", "dispute_late_fee"]}).json()
        try:
            # 小收 has nothing to do, yet the leak goes to the repair team's 小修.
            leak = _request(server, r, category="report_leak", priority="urgent")
            got = _persisted(admin, leak)
            assert _assignee(got) == fixer_info["id"] and got["team"]["id"] == repair["id"]
            cold = _request(server, r, category="report_not_warm")
            assert _assignee(_persisted(admin, cold)) == fixer_info["id"]  # 2 tickets, still the only member

            # The team's only member is away: the ticket waits for the team, nobody else takes it.
            fixer.put("/api/me/presence", json={"status": "away"}).raise_for_status()
            later = _request(server, r, category="report_not_warm")
            queued = _persisted(admin, later)
            assert queued["status"] == "new" and queued["team"]["id"] == repair["id"]
            assert [h["detail"]["reason"] for h in queued["history"] if h["kind"] == "auto_assign_waiting"] == \
                ["nobody of the team online"]

            # 收费's 小收 passes a billing ticket to the repair team: it waits (小修 away) ...
            fee = _request(server, r, category="dispute_late_fee")
            assert _assignee(_persisted(admin, fee)) == clerk_info["id"]
            moved = clerk.post(f"/api/tickets/{fee['ticket_no']}/transfer", json={"team_id": repair["id"]}).json()
            assert moved["status"] == "new" and moved["assignee"] is None and moved["team"]["id"] == repair["id"]
            # ... and, with 小修 back, a ticket passed to the repair team goes straight on to them.
            fixer.put("/api/me/presence", json={"status": "online"}).raise_for_status()
            other = _request(server, r, category="ask_balance")
            assert _assignee(_persisted(admin, other)) == clerk_info["id"]
            passed = clerk.post(f"/api/tickets/{other['ticket_no']}/transfer", json={"team_id": repair["id"]})
            assert passed.status_code == 200, passed.text
            assert _assignee(passed.json()) == fixer_info["id"] and passed.json()["team"]["id"] == repair["id"]
            notices = _notices(server, r, other["ticket_no"])
            assert [n["agent_name"] for n in notices] == ["小收", "小修"]
            assert "转交客服小修" in notices[-1]["text"]
            # Passing a ticket to one's own team never hands it back to oneself.
            back = fixer.post(f"/api/tickets/{other['ticket_no']}/transfer", json={"team_id": repair["id"]}).json()
            assert back["assignee"] is None and back["status"] == "new"
        finally:
            admin.put("/api/assignment", json={"auto_assign": False}).raise_for_status()
            for team in (repair, billing):
                admin.delete(f"/api/teams/{team['id']}").raise_for_status()
            for client in (fixer, clerk):
                client.post("/api/logout").raise_for_status()
