"""The ticket stream consumer: exactly one ticket per request, messages attach, acks after commit."""

from __future__ import annotations

import datetime as dt
import json
import time

import redis
from sqlalchemy import text

from console_helpers import ConsoleServer, add_ticket, ticket_request, user_message, wait_for


def _events_for(r: redis.Redis, server: ConsoleServer, ticket_no: str, kind: str) -> list[dict[str, str]]:
    return [f for _id, f in r.xrange(server.keys.events_stream()) if f["ticket_no"] == ticket_no and f["type"] == kind]


def _pending(r: redis.Redis, server: ConsoleServer) -> int:
    """Entries not yet read, or read and not yet acked, by the console group (0 = all done)."""
    stream = server.keys.tickets_stream()
    group = next(g for g in r.xinfo_groups(stream) if g["name"] == "console")
    newest = r.xinfo_stream(stream)["last-generated-id"]
    unread = 0 if group["last-delivered-id"] == newest else 1
    return int(group["pending"]) + unread


def test_request_added_twice_makes_exactly_one_ticket(server: ConsoleServer, r: redis.Redis) -> None:
    with server.admin() as admin:
        fields = ticket_request(priority="urgent", category="report_leak", trigger_kind="intent",
                                trigger_name="report_leak")
        r.xadd(server.keys.tickets_stream(), fields)
        r.xadd(server.keys.tickets_stream(), fields)  # a retry of the Rasa side
        wait_for(lambda: admin.get(f"/api/tickets/{fields['ticket_no']}").status_code == 200, what="ticket")
        wait_for(lambda: _pending(r, server) == 0, what="both entries acked")

        listed = admin.get("/api/tickets", params={"conversation_id": fields["conversation_id"]}).json()
        assert listed["total"] == 1
        ticket = listed["items"][0]
        assert ticket["status"] == "new" and ticket["priority"] == "urgent"
        assert ticket["trigger"] == {"kind": "intent", "name": "report_leak", "confidence": 0.93,
                                     "text": fields["trigger_text"]}
        assert ticket["district"] == "南岗区" and ticket["account_no"] == "2024000001"
        due = dt.datetime.fromisoformat(ticket["sla_due_at"]) - dt.datetime.fromisoformat(ticket["created_at"])
        assert due == dt.timedelta(minutes=10)  # urgent
        with server.engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM tickets WHERE idempotency_key = :k"),
                                {"k": fields["idempotency_key"]}).scalar()
        assert rows == 1
        assert len(_events_for(r, server, fields["ticket_no"], "ticket.created")) == 1


def test_sla_due_is_thirty_minutes_for_normal_tickets(server: ConsoleServer, r: redis.Redis) -> None:
    with server.admin() as admin:
        fields = add_ticket(server, r, admin, priority="normal", created_at="2025-02-15T08:00:00Z")
        ticket = admin.get(f"/api/tickets/{fields['ticket_no']}").json()
        assert ticket["created_at"] == "2025-02-15T08:00:00Z"
        assert ticket["sla_due_at"] == "2025-02-15T08:30:00Z"
        urgent = add_ticket(server, r, admin, priority="urgent", created_at="2025-02-15T08:00:00Z")
        assert admin.get(f"/api/tickets/{urgent['ticket_no']}").json()["sla_due_at"] == "2025-02-15T08:10:00Z"


def test_user_messages_attach_to_the_ticket_once(server: ConsoleServer, r: redis.Redis) -> None:
    with server.admin() as admin:
        fields = add_ticket(server, r, admin)
        first = user_message(fields, "我已经等了半小时了")
        r.xadd(server.keys.tickets_stream(), first)
        r.xadd(server.keys.tickets_stream(), first)  # redelivered
        r.xadd(server.keys.tickets_stream(), user_message(fields, "还有人吗？"))

        def texts() -> list[str]:
            detail = admin.get(f"/api/tickets/{fields['ticket_no']}").json()
            return [m["text"] for m in detail["messages"] if m["sender"] == "user"]

        wait_for(lambda: len(texts()) == 2, what="two user messages")
        wait_for(lambda: _pending(r, server) == 0, what="acks")
        assert texts() == ["我已经等了半小时了", "还有人吗？"]
        events = _events_for(r, server, fields["ticket_no"], "ticket.message")
        assert [json.loads(e["data"])["message"]["text"] for e in events] == texts()


def test_malformed_entries_are_dead_lettered_and_acked(server: ConsoleServer, r: redis.Redis) -> None:
    stream = server.keys.tickets_stream()
    r.xadd(stream, {"type": "ticket.request", "ticket_no": "GDBROKEN1"})  # no idempotency key
    r.xadd(stream, {"type": "something.else", "x": "1"})
    r.xadd(stream, {b"type": b"ticket.request", b"idempotency_key": b"\xff\xfe", b"ticket_no": b"GD\xc3"})
    r.xadd(stream, {"type": "ticket.request", **{k: v for k, v in ticket_request().items() if k != "type"},
                    "trigger_confidence": "very"})
    wait_for(lambda: _pending(r, server) == 0, what="acks of malformed entries")
    dead = r.xrange(server.keys.dead_letter_stream())
    errors = [f["error"] for _id, f in dead[-4:]]
    assert any("idempotency_key" in e for e in errors)
    assert any("unknown entry type" in e for e in errors)
    assert any("trigger_confidence" in e for e in errors)


def test_user_message_waiting_for_its_ticket_is_retried(server: ConsoleServer, r: redis.Redis) -> None:
    """A message whose ticket is not persisted yet stays pending and is attached once it is."""
    with server.admin() as admin:
        fields = ticket_request()
        r.xadd(server.keys.tickets_stream(), user_message(fields, "先到的消息"))
        time.sleep(2.0)  # the consumer tried and postponed it
        assert admin.get(f"/api/tickets/{fields['ticket_no']}").status_code == 404
        r.xadd(server.keys.tickets_stream(), fields)

        def attached() -> bool:
            response = admin.get(f"/api/tickets/{fields['ticket_no']}")
            return response.status_code == 200 and any(m["text"] == "先到的消息" for m in response.json()["messages"])

        wait_for(attached, timeout=20, what="the early message to attach")


def test_stale_pending_entries_of_a_dead_console_are_claimed(server: ConsoleServer, r: redis.Redis) -> None:
    """Another console read an entry and died before acking: this one takes it over."""
    with server.admin() as admin:
        server.stop()
        fields = ticket_request()
        stream = server.keys.tickets_stream()
        r.xadd(stream, fields)
        taken = r.xreadgroup("console", "console-that-died", {stream: ">"}, count=10)
        assert any(f.get("ticket_no") == fields["ticket_no"] for _s, entries in taken for _i, f in entries)
        server.start()
        wait_for(lambda: admin.get(f"/api/tickets/{fields['ticket_no']}").status_code == 200, timeout=20,
                 what="the claimed ticket")
        wait_for(lambda: _pending(r, server) == 0, timeout=20, what="ack of the claimed entry")


def test_requests_written_while_the_console_is_down_are_processed_after_restart(
    server: ConsoleServer, r: redis.Redis
) -> None:
    server.stop(hard=True)
    requests = [ticket_request() for _ in range(3)]
    for fields in requests:
        r.xadd(server.keys.tickets_stream(), fields)
    server.start()
    with server.admin() as admin:
        for fields in requests:
            wait_for(lambda f=fields: admin.get(f"/api/tickets/{f['ticket_no']}").status_code == 200,
                     what="ticket after restart")


def test_csat_from_the_bot_side_is_recorded(server: ConsoleServer, r: redis.Redis) -> None:
    with server.admin() as admin:
        fields = add_ticket(server, r, admin)
        r.xadd(server.keys.tickets_stream(), {"type": "ticket.csat", "idempotency_key": "csat-" + fields["ticket_no"],
                                              "ticket_no": fields["ticket_no"], "score": "4", "comment": "还行"})
        wait_for(lambda: admin.get(f"/api/tickets/{fields['ticket_no']}").json()["csat_score"] == 4, what="csat")


def test_delivery_failures_are_shown_on_the_message(server: ConsoleServer, r: redis.Redis) -> None:
    """The Rasa side could not deliver an agent reply (e.g. WeChat's 48-hour window)."""
    agent, _, _ = server.new_agent()
    with agent:
        fields = add_ticket(server, r, agent, channel="wechat")
        no = fields["ticket_no"]
        agent.post(f"/api/tickets/{no}/claim").raise_for_status()
        message = agent.post(f"/api/tickets/{no}/messages", json={"text": "您好"}).json()["message"]
        failure = {"type": "delivery.failed", "idempotency_key": f"delivery.failed:{message['message_id']}",
                   "ticket_no": no, "message_id": message["message_id"], "conversation_id": fields["conversation_id"],
                   "reason": "48-hour window closed", "created_at": "2025-02-15T08:00:00Z"}
        r.xadd(server.keys.tickets_stream(), failure)
        r.xadd(server.keys.tickets_stream(), failure)  # redelivered
        resolve_failed = {**failure, "message_id": "", "idempotency_key": "delivery.failed:", "reason": "no deliverer"}
        r.xadd(server.keys.tickets_stream(), resolve_failed)

        def history() -> list[dict]:
            return [h for h in agent.get(f"/api/tickets/{no}").json()["history"] if h["kind"] == "delivery_failed"]

        wait_for(lambda: len(history()) == 2, what="two delivery failures")
        wait_for(lambda: _pending(r, server) == 0, what="acks")
        detail = agent.get(f"/api/tickets/{no}").json()
        assert detail["messages"][0]["delivery_error"] == "48-hour window closed"
        assert [h["detail"]["reason"] for h in history()] == ["48-hour window closed", "no deliverer"]
        assert len(_events_for(r, server, no, "ticket.delivery_failed")) == 2
