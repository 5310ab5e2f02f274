"""Ticket operations through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import redis
from sqlalchemy import text

from console_helpers import ConsoleServer, FakeRasa, add_ticket, user_message, wait_for

from heatdesk_contract.streams import AgentMessage


def _outbox(r: redis.Redis, server: ConsoleServer, ticket_no: str) -> list[dict[str, str]]:
    return [f for _id, f in r.xrange(server.keys.outbox_stream()) if f.get("ticket_no") == ticket_no]


def test_claim_race_has_exactly_one_winner(server: ConsoleServer, r: redis.Redis) -> None:
    first, first_info, _ = server.new_agent()
    second, second_info, _ = server.new_agent()
    with first, second:
        for _round in range(5):
            fields = add_ticket(server, r, first)
            r.zadd(server.keys.queue(), {fields["ticket_no"]: time.time()})
            barrier = threading.Barrier(2)
            results: dict[str, httpx.Response] = {}

            def claim(name: str, client: httpx.Client) -> None:
                barrier.wait()
                results[name] = client.post(f"/api/tickets/{fields['ticket_no']}/claim")

            threads = [threading.Thread(target=claim, args=("a", first)),
                       threading.Thread(target=claim, args=("b", second))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            codes = sorted(response.status_code for response in results.values())
            assert codes == [200, 409], {k: (v.status_code, v.text) for k, v in results.items()}
            loser = next(v for v in results.values() if v.status_code == 409)
            assert "already claimed" in loser.json()["detail"]
            winner = next(v for v in results.values() if v.status_code == 200).json()
            assert winner["status"] == "assigned"
            assert winner["assignee"]["id"] in (first_info["id"], second_info["id"])
            with server.engine.connect() as conn:
                claims = conn.execute(text(
                    "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
                    "WHERE t.ticket_no = :n AND e.kind = 'claimed'"), {"n": fields["ticket_no"]}).scalar()
            assert claims == 1
            assert r.zscore(server.keys.queue(), fields["ticket_no"]) is None


def test_claim_is_idempotent_for_the_holder(server: ConsoleServer, r: redis.Redis) -> None:
    agent, _, _ = server.new_agent()
    with agent:
        fields = add_ticket(server, r, agent)
        assert agent.post(f"/api/tickets/{fields['ticket_no']}/claim").status_code == 200
        assert agent.post(f"/api/tickets/{fields['ticket_no']}/claim").status_code == 200


def test_reply_goes_to_the_outbox_and_starts_the_clock(server: ConsoleServer, r: redis.Redis) -> None:
    agent, info, _ = server.new_agent(display_name="客服小王")
    with agent:
        fields = add_ticket(server, r, agent, channel="widget")
        no = fields["ticket_no"]
        early = agent.post(f"/api/tickets/{no}/messages", json={"text": "您好"})
        assert early.status_code == 409 and "Claim" in early.json()["detail"]
        agent.post(f"/api/tickets/{no}/claim").raise_for_status()

        sent = agent.post(f"/api/tickets/{no}/messages", json={"text": "您好，我是客服小王，马上为您核实。"})
        assert sent.status_code == 201, sent.text
        body = sent.json()
        assert body["delivery"] == "queued"
        assert body["ticket"]["status"] == "in_progress"
        first_reply = body["ticket"]["first_human_reply_at"]
        assert first_reply is not None and body["ticket"]["sla_status"] == "met"

        outbox = _outbox(r, server, no)
        assert outbox == [AgentMessage(
            body["message"]["message_id"], no, fields["conversation_id"], "widget", "您好，我是客服小王，马上为您核实。",
            "客服小王", attempt=1,  # its first send
        ).to_fields()]
        again = agent.post(f"/api/tickets/{no}/messages", json={"text": "请稍等", "client_message_id": "c-1"})
        retry = agent.post(f"/api/tickets/{no}/messages", json={"text": "请稍等", "client_message_id": "c-1"})
        assert again.json()["message"]["message_id"] == retry.json()["message"]["message_id"]
        assert len(_outbox(r, server, no)) == 2
        detail = agent.get(f"/api/tickets/{no}").json()
        assert detail["first_human_reply_at"] == first_reply
        assert [m["text"] for m in detail["messages"]] == ["您好，我是客服小王，马上为您核实。", "请稍等"]
        assert detail["messages"][0]["agent"]["id"] == info["id"]


def test_only_the_holder_or_a_supervisor_may_reply(server: ConsoleServer, r: redis.Redis) -> None:
    holder, _, _ = server.new_agent()
    other, _, _ = server.new_agent()
    with holder, other, server.admin() as admin:
        fields = add_ticket(server, r, holder)
        holder.post(f"/api/tickets/{fields['ticket_no']}/claim").raise_for_status()
        denied = other.post(f"/api/tickets/{fields['ticket_no']}/messages", json={"text": "我来"})
        assert denied.status_code == 403
        assert admin.post(f"/api/tickets/{fields['ticket_no']}/messages", json={"text": "主管介入"}).status_code == 201


def test_no_rating_is_asked_when_no_person_answered(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    with sqlite_server.admin() as admin:
        fields = add_ticket(sqlite_server, r, admin)
        admin.post(f"/api/tickets/{fields['ticket_no']}/claim").raise_for_status()
        admin.post(f"/api/tickets/{fields['ticket_no']}/resolve", json={"resolution_category": "duplicate"}
                   ).raise_for_status()
        assert _outbox(r, sqlite_server, fields["ticket_no"])[-1]["ask_csat"] == "0"


def test_resolve_hands_the_conversation_back_to_the_bot(server: ConsoleServer, r: redis.Redis) -> None:
    agent, _, _ = server.new_agent()
    with agent:
        fields = add_ticket(server, r, agent)
        no, conversation = fields["ticket_no"], fields["conversation_id"]
        owner = server.keys.owner(conversation)
        r.hset(owner, mapping={"owner": "agent", "ticket_no": no, "channel": "rest", "agent": ""})
        r.zadd(server.keys.queue(), {no: time.time()})
        agent.post(f"/api/tickets/{no}/claim").raise_for_status()
        assert r.hget(owner, "agent") == agent.get("/api/me").json()["display_name"]
        agent.post(f"/api/tickets/{no}/messages", json={"text": "已为您处理"}).raise_for_status()

        bad = agent.post(f"/api/tickets/{no}/resolve", json={"resolution_category": "magic"})
        assert bad.status_code == 422
        resolved = agent.post(f"/api/tickets/{no}/resolve",
                              json={"resolution_category": "answered", "resolution_note": "已解释滞纳金"})
        assert resolved.status_code == 200, resolved.text
        ticket = resolved.json()
        assert ticket["status"] == "resolved" and ticket["resolved_at"] and ticket["resolution_category"] == "answered"
        assert not r.exists(owner)
        assert r.zscore(server.keys.queue(), no) is None
        # A person answered: the bot asks the resident to rate the service (ask_csat).
        assert _outbox(r, server, no)[-1] == {"type": "ticket.resolved", "ticket_no": no,
                                              "conversation_id": conversation, "channel": "rest", "ask_csat": "1"}
        again = agent.post(f"/api/tickets/{no}/resolve", json={"resolution_category": "answered"})
        assert again.status_code == 409
        late = agent.post(f"/api/tickets/{no}/messages", json={"text": "还在吗"})
        assert late.status_code == 409 and "resolved" in late.json()["detail"]


def test_resolve_keeps_the_owner_key_of_a_newer_ticket(server: ConsoleServer, r: redis.Redis) -> None:
    agent, _, _ = server.new_agent()
    with agent:
        fields = add_ticket(server, r, agent)
        owner = server.keys.owner(fields['conversation_id'])
        r.hset(owner, mapping={"owner": "agent", "ticket_no": "GD-NEWER", "channel": "rest"})
        agent.post(f"/api/tickets/{fields['ticket_no']}/claim").raise_for_status()
        agent.post(f"/api/tickets/{fields['ticket_no']}/resolve", json={"resolution_category": "duplicate"})
        assert r.hget(owner, "ticket_no") == "GD-NEWER"
        r.delete(owner)


def test_reopen_notes_transfer_and_csat(server: ConsoleServer, r: redis.Redis) -> None:
    first, _, _ = server.new_agent()
    second, second_info, _ = server.new_agent()
    with first, second:
        fields = add_ticket(server, r, first)
        no = fields["ticket_no"]
        assert first.post(f"/api/tickets/{no}/reopen").status_code == 409
        assert first.post(f"/api/tickets/{no}/csat", json={"score": 5}).status_code == 409
        note = first.post(f"/api/tickets/{no}/notes", json={"text": "用户情绪激动，注意语气"})
        assert note.status_code == 201 and note.json()["text"] == "用户情绪激动，注意语气"
        assert first.post(f"/api/tickets/{no}/notes", json={"text": "   "}).status_code == 422

        assert first.post(f"/api/tickets/{no}/transfer", json={"agent_id": second_info["id"]}).status_code == 403
        first.post(f"/api/tickets/{no}/claim").raise_for_status()
        assert first.post(f"/api/tickets/{no}/transfer", json={"agent_id": 999999}).status_code == 404
        moved = first.post(f"/api/tickets/{no}/transfer", json={"agent_id": second_info["id"], "note": "交接"})
        assert moved.status_code == 200 and moved.json()["assignee"]["id"] == second_info["id"]
        same = first.post(f"/api/tickets/{no}/transfer", json={"agent_id": second_info["id"]})
        assert same.status_code == 403  # no longer the holder
        assert second.post(f"/api/tickets/{no}/transfer", json={"agent_id": second_info["id"]}).status_code == 400

        second.post(f"/api/tickets/{no}/resolve", json={"resolution_category": "billing_adjusted"}).raise_for_status()
        assert second.post(f"/api/tickets/{no}/csat", json={"score": 6}).status_code == 422
        rated = second.post(f"/api/tickets/{no}/csat", json={"score": 4, "comment": "满意"})
        assert rated.status_code == 200 and rated.json()["csat_score"] == 4

        owner = server.keys.owner(fields['conversation_id'])
        # Reopen only by the holder (or a supervisor): the agent it was transferred away from may not.
        assert first.post(f"/api/tickets/{no}/reopen", json={"reason": "用户说还没解决"}).status_code == 403
        reopened = second.post(f"/api/tickets/{no}/reopen", json={"reason": "用户说还没解决"})
        assert reopened.status_code == 200
        body = reopened.json()
        assert body["status"] == "assigned" and body["resolved_at"] is None and body["reopen_count"] == 1
        assert r.hgetall(owner)["ticket_no"] == no and r.hget(owner, "owner") == "agent"

        detail = first.get(f"/api/tickets/{no}").json()
        assert [n["text"] for n in detail["notes"]] == ["用户情绪激动，注意语气"]
        kinds = [h["kind"] for h in detail["history"]]
        assert kinds == ["created", "claimed", "transferred", "resolved", "csat", "reopened"]
        r.delete(owner)


def test_reopen_refused_while_the_conversation_has_another_open_ticket(server: ConsoleServer, r: redis.Redis) -> None:
    agent, _, _ = server.new_agent()
    with agent:
        account = str(uuid.uuid4().int)[:10]
        old = add_ticket(server, r, agent, account_no=account)
        agent.post(f"/api/tickets/{old['ticket_no']}/claim").raise_for_status()
        agent.post(f"/api/tickets/{old['ticket_no']}/resolve", json={"resolution_category": "answered"})
        newer = add_ticket(server, r, agent, conversation_id=old["conversation_id"], account_no=account)
        refused = agent.post(f"/api/tickets/{old['ticket_no']}/reopen")
        assert refused.status_code == 409 and newer["ticket_no"] in refused.json()["detail"]
        detail = agent.get(f"/api/tickets/{newer['ticket_no']}").json()
        assert [t["ticket_no"] for t in detail["related_tickets"]] == [old["ticket_no"]]


def test_filters(server: ConsoleServer, r: redis.Redis) -> None:
    agent, info, _ = server.new_agent()
    with agent:
        district = "测试区" + uuid.uuid4().hex[:4]
        summary = '{"district": "%s"}' % district
        leak = add_ticket(server, r, agent, priority="urgent", category="report_leak", summary=summary)
        angry = add_ticket(server, r, agent, priority="normal", category="complain", summary=summary)
        agent.post(f"/api/tickets/{angry['ticket_no']}/claim").raise_for_status()

        def numbers(**params: Any) -> list[str]:
            response = agent.get("/api/tickets", params={"district": district, **params})
            assert response.status_code == 200, response.text
            return [t["ticket_no"] for t in response.json()["items"]]

        assert numbers() == [leak["ticket_no"], angry["ticket_no"]]  # queue order: urgent first
        assert numbers(status="new") == [leak["ticket_no"]]
        assert numbers(status=["assigned", "in_progress"]) == [angry["ticket_no"]]
        assert numbers(status="open", sort="newest") == [angry["ticket_no"], leak["ticket_no"]]
        assert numbers(priority="urgent") == [leak["ticket_no"]]
        assert numbers(category="complain") == [angry["ticket_no"]]
        assert numbers(assignee="me") == [angry["ticket_no"]]
        assert numbers(assignee=str(info["id"])) == [angry["ticket_no"]]
        assert numbers(assignee="unassigned") == [leak["ticket_no"]]
        assert numbers(limit=1, offset=1) == [angry["ticket_no"]]
        assert agent.get("/api/tickets", params={"status": "closed"}).status_code == 422
        assert agent.get("/api/tickets", params={"assignee": "someone"}).status_code == 422
        assert agent.get("/api/tickets", params={"limit": 0}).status_code == 422
        assert agent.get("/api/tickets/GD-NOPE").status_code == 404
        assert agent.get("/api/tickets/bad%20no").status_code == 422
        assert agent.post("/api/tickets/GD-NOPE/claim").status_code == 404
        queued = agent.get(f"/api/tickets/{leak['ticket_no']}").json()
        assert queued["queue_position"] >= 1


def test_transcript_merges_rasa_tracker_and_console_messages(
    server: ConsoleServer, r: redis.Redis, fake_rasa: FakeRasa
) -> None:
    agent, _, _ = server.new_agent(display_name="客服小李")
    with agent:
        fields = add_ticket(server, r, agent)
        no, conversation = fields["ticket_no"], fields["conversation_id"]
        agent.post(f"/api/tickets/{no}/claim").raise_for_status()
        r.xadd(server.keys.tickets_stream(), user_message(fields, "到底什么时候给我处理"))
        wait_for(lambda: len(agent.get(f"/api/tickets/{no}").json()["messages"]) == 1, what="user message")
        reply = agent.post(f"/api/tickets/{no}/messages", json={"text": "正在处理"}).json()["message"]
        now = time.time()
        fake_rasa.trackers[conversation] = [
            {"event": "action", "name": "action_listen", "timestamp": now - 100},
            {"event": "user", "text": "查欠费", "timestamp": now - 90},
            {"event": "bot", "text": "您的欠费为1509.00元", "timestamp": now - 80},
            {"event": "user", "text": "你们这是抢钱！！！", "timestamp": now - 70},
            {"event": "bot", "text": "已为您转人工，工单号" + no, "timestamp": now - 60},
            {"event": "user", "text": "到底什么时候给我处理", "timestamp": now - 5},
            {"event": "bot", "text": "正在处理", "timestamp": now - 1, "metadata": {"agent": "客服小李"}},
        ]
        detail = agent.get(f"/api/tickets/{no}").json()
        assert detail["transcript_source"] == "rasa"
        transcript = [(t["sender"], t["text"]) for t in detail["transcript"]]
        assert transcript == [
            ("user", "查欠费"), ("bot", "您的欠费为1509.00元"), ("user", "你们这是抢钱！！！"),
            ("bot", "已为您转人工，工单号" + no), ("user", "到底什么时候给我处理"), ("agent", "正在处理"),
        ]
        assert detail["transcript"][-1]["message_id"] == reply["message_id"]
        assert any(conversation in path and "token=" in path for path in fake_rasa.requests)

        del fake_rasa.trackers[conversation]
        fake_rasa.token, real = "rotated", fake_rasa.token
        try:
            fallback = agent.get(f"/api/tickets/{no}").json()
        finally:
            fake_rasa.token = real
        assert fallback["transcript_source"] == "console"
        assert [(t["sender"], t["source"]) for t in fallback["transcript"]] == [
            ("user", "summary"), ("bot", "summary"), ("user", "console"), ("agent", "console")]


def test_account_panel_reads_the_billing_system(server: ConsoleServer, r: redis.Redis) -> None:
    agent, _, _ = server.new_agent()
    with agent:
        fields = add_ticket(server, r, agent, account_no="2024000001", account_verified="1")
        panel = agent.get(f"/api/tickets/{fields['ticket_no']}/account").json()
        assert panel["available"] is True
        account = panel["account"]
        assert account["holder_masked"] == "张*" and account["phone_masked"] == "138****5678"
        assert "13800005678" not in str(panel)
        bill = account["bills"][0]
        assert bill["principal"] == "2509.00" and bill["unpaid_principal"] == "1509.00"
        # 1‰/day: 01-01..01-09 on 2509.00 (22.581) + 01-10..02-15 on 1509.00 (55.833) = 78.41
        assert bill["late_fee"] == "78.41" and bill["overdue_days"] == 46
        unknown = add_ticket(server, r, agent, account_no="2099999999", account_verified="1")
        missing = agent.get(f"/api/tickets/{unknown['ticket_no']}/account").json()
        assert missing["available"] is False and "no account" in missing["error"]
        none = add_ticket(server, r, agent, account_no="", summary="{}")
        assert agent.get(f"/api/tickets/{none['ticket_no']}/account").json()["available"] is False
