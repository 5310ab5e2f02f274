"""Issue 15's agent tools through the HTTP API, on SQLite and PostgreSQL: presence (online / away /
offline, the supervisors' roster), teams (validation, routing by category, the "我的团队" filter,
transfer to a team). Auto-assignment has its own consoles: test_console_auto_assign.py."""

from __future__ import annotations

import time
import uuid

import redis

from console_helpers import ConsoleServer, SseReader, add_ticket, ticket_request, wait_for


def _present(server: ConsoleServer, r: redis.Redis, agent_id: int) -> bool:
    score = r.zscore(server.keys.presence(), str(agent_id))
    return score is not None and score > time.time()


def _line(admin: object, agent_id: int) -> dict[str, object]:
    roster = admin.get("/api/agents/presence")  # type: ignore[attr-defined]
    assert roster.status_code == 200, roster.text
    return next(line for line in roster.json() if line["agent"]["id"] == agent_id)


def test_presence_is_switched_by_the_agent_and_seen_by_supervisors(server: ConsoleServer, r: redis.Redis) -> None:
    agent, info, password = server.new_agent(display_name="小孙")
    with agent, server.admin() as admin:
        me = agent.get("/api/me/presence").json()
        assert me["chosen"] == "online" and me["status"] == "online" and me["on_duty_until"]
        assert _present(server, r, info["id"])
        assert agent.get("/api/agents/presence").status_code == 403
        assert _line(admin, info["id"])["status"] == "online"

        # Away: still on duty for the bot (the resident is not told "nobody is there"), shown as away.
        events = SseReader(server, admin.cookies).start_and_wait()
        try:
            away = agent.put("/api/me/presence", json={"status": "away"})
            assert away.status_code == 200 and away.json()["status"] == "away"
            assert _present(server, r, info["id"])
            events.wait_for(lambda evs: any(e.get("event") == "agent.presence" and e["data"]["agent_id"] == info["id"]
                                            and e["data"]["status"] == "away" for e in evs))
        finally:
            events.close()
        line = _line(admin, info["id"])
        assert line["status"] == "away" and line["chosen"] == "away" and line["open_tickets"] == 0
        assert admin.get("/api/agents").json()[-1]["presence_status"] in ("online", "away", "offline")

        # The load the supervisor sees is the tickets the agent holds, open ones only.
        held = add_ticket(server, r, agent)
        agent.post(f"/api/tickets/{held['ticket_no']}/claim").raise_for_status()
        assert _line(admin, info["id"])["open_tickets"] == 1

        # Offline: off duty at once, and neither requests nor the live stream's heartbeats put them back.
        stream = SseReader(server, agent.cookies).start_and_wait()
        try:
            off = agent.put("/api/me/presence", json={"status": "offline"})
            assert off.json() == {**off.json(), "chosen": "offline", "status": "offline", "on_duty_until": None}
            agent.get("/api/tickets").raise_for_status()
            time.sleep(2.5)  # the test console's stream beats every second
            assert not _present(server, r, info["id"])
            assert _line(admin, info["id"])["status"] == "offline"
            back = agent.put("/api/me/presence", json={"status": "online"})
            assert back.json()["status"] == "online" and _present(server, r, info["id"])
        finally:
            stream.close()

        # Not seen within CONSOLE_PRESENCE_SECONDS: offline, whatever was chosen.
        r.zadd(server.keys.presence(), {str(info["id"]): time.time() - 1})
        assert _line(admin, info["id"])["status"] == "offline"
        agent.get("/api/me").raise_for_status()
        assert _line(admin, info["id"])["status"] == "online"

        # Validation and roles: clear errors, never a 500.
        bad = agent.put("/api/me/presence", json={"status": "busy"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "status"]
        assert agent.put("/api/me/presence", json={}).status_code == 422
        assert agent.put(f"/api/agents/{info['id']}/presence", json={"status": "away"}).status_code == 403
        missing = admin.put("/api/agents/2000000000/presence", json={"status": "away"})
        assert missing.status_code == 404 and "No agent" in missing.json()["detail"]
        assert admin.put("/api/agents/0/presence", json={"status": "away"}).status_code == 422

        # A supervisor may send someone who left the console open away, or off duty.
        assert admin.put(f"/api/agents/{info['id']}/presence", json={"status": "away"}).json()["status"] == "away"
        assert agent.get("/api/me/presence").json()["chosen"] == "away"
        assert admin.put(f"/api/agents/{info['id']}/presence", json={"status": "offline"}).json()["status"] == "offline"
        assert not _present(server, r, info["id"])

        # Logging out ends the shift at once; logging in starts it again, online.
        agent.put("/api/me/presence", json={"status": "away"}).raise_for_status()
        agent.post("/api/logout").raise_for_status()
        assert not _present(server, r, info["id"])
        assert _line(admin, info["id"])["status"] == "offline"
    with server.login(info["username"], password) as again:
        assert again.get("/api/me/presence").json()["status"] == "online"
        assert _present(server, r, info["id"])
        again.post("/api/logout").raise_for_status()


def _owner(server: ConsoleServer, r: redis.Redis, fields: dict[str, str]) -> str:
    """The owner hash as the handoff action writes it."""
    key = server.keys.owner(fields["conversation_id"])
    r.hset(key, mapping={"owner": "agent", "ticket_no": fields["ticket_no"], "channel": "rest", "agent": "",
                         "ticket_key": fields["idempotency_key"]})
    return key


def test_teams_are_validated_and_supervisor_only(server: ConsoleServer) -> None:
    agent, info, _ = server.new_agent()
    suffix = uuid.uuid4().hex[:6]
    with agent, server.admin() as admin:
        body = {"name": f"维修调度{suffix}", "member_ids": [info["id"]], "categories": ["report_leak", "report_not_warm"]}
        assert agent.post("/api/teams", json=body).status_code == 403
        made = admin.post("/api/teams", json={**body, "name": f"  维修调度{suffix} "})
        assert made.status_code == 201, made.text
        team = made.json()
        try:
            assert team["name"] == f"维修调度{suffix}" and team["waiting"] == 0
            assert [m["id"] for m in team["members"]] == [info["id"]]
            assert team["categories"] == ["report_leak", "report_not_warm"]
            listed = agent.get("/api/teams").json()  # every agent reads them (transfer targets, the filter)
            assert any(t["id"] == team["id"] and t["categories"] == team["categories"] for t in listed)

            again = admin.post("/api/teams", json={"name": f"维修调度{suffix}"})
            assert again.status_code == 409 and "already exists" in again.json()["detail"]
            taken = admin.post("/api/teams", json={"name": f"收费{suffix}", "categories": ["report_leak"]})
            assert taken.status_code == 409
            assert "report_leak" in taken.json()["detail"] and f"维修调度{suffix}" in taken.json()["detail"]
            ghost = admin.post("/api/teams", json={"name": f"收费{suffix}", "member_ids": [2_000_000_000]})
            assert ghost.status_code == 400 and "No active agent with id 2000000000" in ghost.json()["detail"]
            for wrong in ({"name": "   "}, {"name": "x" * 65}, {"name": "ok", "categories": ["漏水"]},
                          {"name": "ok", "member_ids": [0]}, {"name": "ok", "member_ids": "1"}, {}):
                answer = admin.post("/api/teams", json=wrong)
                assert answer.status_code == 422, (wrong, answer.text)
            assert admin.patch("/api/teams/2000000000", json={"name": "x"}).status_code == 404

            renamed = admin.patch(f"/api/teams/{team['id']}", json={"name": f"抢修{suffix}", "member_ids": []})
            assert renamed.status_code == 200
            assert renamed.json()["name"] == f"抢修{suffix}" and renamed.json()["members"] == []
            assert renamed.json()["categories"] == ["report_leak", "report_not_warm"]  # not sent: unchanged
            assert agent.patch(f"/api/teams/{team['id']}", json={"name": "x"}).status_code == 403
            assert agent.delete(f"/api/teams/{team['id']}").status_code == 403
        finally:
            assert admin.delete(f"/api/teams/{team['id']}").status_code == 204
        assert admin.delete(f"/api/teams/{team['id']}").status_code == 404
        # Its categories are free again.
        freed = admin.post("/api/teams", json={"name": f"收费{suffix}", "categories": ["report_leak"]})
        assert freed.status_code == 201
        admin.delete(f"/api/teams/{freed.json()['id']}").raise_for_status()


def test_tickets_wait_for_their_team_and_can_be_transferred_to_one(server: ConsoleServer, r: redis.Redis) -> None:
    member, member_info, _ = server.new_agent(display_name="小钱")
    other, other_info, _ = server.new_agent(display_name="小吴")
    suffix = uuid.uuid4().hex[:6]
    with member, other, server.admin() as admin:
        billing = admin.post("/api/teams", json={"name": f"收费{suffix}", "member_ids": [member_info["id"]],
                                                 "categories": ["ask_invoice"]}).json()
        try:
            # A new ticket of the team's category waits in the team's queue.
            invoice = add_ticket(server, r, admin, category="ask_invoice")
            row = admin.get(f"/api/tickets/{invoice['ticket_no']}").json()
            assert row["status"] == "new" and row["assignee"] is None
            assert row["team"] == {"id": billing["id"], "name": f"收费{suffix}"}
            assert r.zscore(server.keys.queue(), invoice["ticket_no"]) is not None
            mine = member.get("/api/tickets", params={"team": "mine", "status": "open"}).json()["items"]
            assert invoice["ticket_no"] in [t["ticket_no"] for t in mine]
            assert all(t["team"]["id"] == billing["id"] for t in mine)
            theirs = other.get("/api/tickets", params={"team": "mine"}).json()["items"]
            assert invoice["ticket_no"] not in [t["ticket_no"] for t in theirs]
            nobody = admin.get("/api/tickets", params={"team": "none", "limit": 500}).json()["items"]
            assert invoice["ticket_no"] not in [t["ticket_no"] for t in nobody]
            by_id = admin.get("/api/tickets", params={"team": str(billing["id"])}).json()["items"]
            assert [t["ticket_no"] for t in by_id] == [invoice["ticket_no"]]
            assert admin.get("/api/tickets", params={"team": "ours"}).status_code == 422
            assert admin.get("/api/teams").json()[0]["waiting"] >= 0
            assert next(t for t in admin.get("/api/teams").json() if t["id"] == billing["id"])["waiting"] == 1

            # Another agent's ticket goes to the team: back in the queue, waiting for it, the agent forgotten.
            complaint = add_ticket(server, r, other, category="complain")
            owner = _owner(server, r, complaint)
            other.post(f"/api/tickets/{complaint['ticket_no']}/claim").raise_for_status()
            wait_for(lambda: r.hget(owner, "agent") == "小吴", what="the owner hash names 小吴")
            assert member.post(f"/api/tickets/{complaint['ticket_no']}/transfer",
                               json={"team_id": billing["id"]}).status_code == 403  # not the holder
            moved = other.post(f"/api/tickets/{complaint['ticket_no']}/transfer",
                               json={"team_id": billing["id"], "note": "发票问题，转收费组"})
            assert moved.status_code == 200, moved.text
            assert moved.json()["status"] == "new" and moved.json()["assignee"] is None
            assert moved.json()["team"]["id"] == billing["id"]
            wait_for(lambda: r.hget(owner, "agent") == "", what="the owner hash forgets the agent")
            assert r.zscore(server.keys.queue(), complaint["ticket_no"]) is not None
            history = admin.get(f"/api/tickets/{complaint['ticket_no']}").json()["history"]
            transferred = [h for h in history if h["kind"] == "transferred"]
            assert transferred[-1]["detail"]["to_team"] == f"收费{suffix}"
            assert transferred[-1]["detail"]["from_agent_id"] == other_info["id"]
            mine = member.get("/api/tickets", params={"team": "mine", "status": "new"}).json()["items"]
            assert complaint["ticket_no"] in [t["ticket_no"] for t in mine]

            again = admin.post(f"/api/tickets/{complaint['ticket_no']}/transfer", json={"team_id": billing["id"]})
            assert again.status_code == 400 and "already waiting" in again.json()["detail"]
            for wrong in ({}, {"agent_id": member_info["id"], "team_id": billing["id"]}, {"team_id": 0}):
                assert admin.post(f"/api/tickets/{complaint['ticket_no']}/transfer", json=wrong).status_code == 422
            ghost = admin.post(f"/api/tickets/{complaint['ticket_no']}/transfer", json={"team_id": 2_000_000_000})
            assert ghost.status_code == 404 and "No team" in ghost.json()["detail"]
            # A member claims it from the team's queue as from any queue.
            member.post(f"/api/tickets/{complaint['ticket_no']}/claim").raise_for_status()
            wait_for(lambda: r.hget(owner, "agent") == "小钱", what="the owner hash names 小钱")
        finally:
            admin.delete(f"/api/teams/{billing['id']}").raise_for_status()
        # Without the team its waiting tickets are everyone's again.
        assert admin.get(f"/api/tickets/{invoice['ticket_no']}").json()["team"] is None
        later = ticket_request(category="ask_invoice")
        r.xadd(server.keys.tickets_stream(), later)
        row = wait_for(lambda: (d := admin.get(f"/api/tickets/{later['ticket_no']}")).status_code == 200 and d.json(),
                       what="a ticket after the team is gone")
        assert row["team"] is None
