"""What the console rebuilds from SQL when Redis forgets: ticket numbers, owners, agent replies.

A console of its own (SQLite) with short upkeep, re-send and attempt settings, so that re-sends and
failures show within seconds; Redis is the machine's (db 15, a key prefix of this module).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import text

from console_helpers import ConsoleServer, FakeRasa, add_ticket, ticket_request, user_message, wait_for

DAY = "20250215"


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory, fake_rasa: FakeRasa, billing_url: str) -> Iterator[ConsoleServer]:
    workdir: Path = tmp_path_factory.mktemp("console-durability")
    server = ConsoleServer(
        backend="sqlite-durability",
        database_url=f"sqlite:///{workdir}/console.db",
        prefix=f"hdtest-{uuid.uuid4().hex[:8]}-durable:",
        workdir=workdir,
        extra_env={
            "RASA_PORT": str(fake_rasa.port), "RASA_HOST": "127.0.0.1", "BILLING_URL": billing_url,
            "CONSOLE_UPKEEP_SECONDS": "0.5", "CONSOLE_RESEND_AFTER_SECONDS": "1",
            "CONSOLE_DELIVERY_MAX_ATTEMPTS": "2",
        },
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.engine.dispose()
        client = redis.Redis.from_url("redis://127.0.0.1:6379/15", decode_responses=True)
        keys = list(client.scan_iter(match=f"{server.prefix}*", count=1000))
        if keys:
            client.delete(*keys)


def _outbox(r: redis.Redis, server: ConsoleServer, conversation_id: str) -> list[dict[str, str]]:
    return [f for _id, f in r.xrange(server.keys.outbox_stream()) if f.get("conversation_id") == conversation_id]


def _claimed_reply(
    server: ConsoleServer, r: redis.Redis, admin: httpx.Client, reply: str
) -> tuple[dict[str, str], str]:
    fields = add_ticket(server, r, admin)
    assert admin.post(f"/api/tickets/{fields['ticket_no']}/claim").status_code == 200
    sent = admin.post(f"/api/tickets/{fields['ticket_no']}/messages", json={"text": reply})
    assert sent.status_code == 201, sent.text
    return fields, sent.json()["message"]["message_id"]


def _message(admin: httpx.Client, ticket_no: str, message_id: str) -> dict[str, object]:
    detail = admin.get(f"/api/tickets/{ticket_no}").json()
    return next(m for m in detail["messages"] if m["message_id"] == message_id)


def test_a_taken_number_is_renumbered_and_the_resident_told(durable: ConsoleServer, r: redis.Redis) -> None:
    """Redis lost its counter: B is told A's number. B gets a new number, A's ticket is untouched."""
    with durable.admin() as admin:
        number = f"GD{DAY}{uuid.uuid4().int % 9000 + 1000:04d}"
        first = add_ticket(durable, r, admin, ticket_no=number)
        second = ticket_request(ticket_no=number)
        # What the handoff action wrote for B before the console saw the request.
        r.hset(durable.keys.owner(second['conversation_id']),
               mapping={"owner": "agent", "ticket_no": number, "channel": "rest", "agent": "",
                        "ticket_key": second["idempotency_key"]})
        r.xadd(durable.keys.tickets_stream(), second)

        def renumbered() -> dict[str, object] | None:
            items = admin.get("/api/tickets", params={"conversation_id": second["conversation_id"]}).json()["items"]
            return items[0] if items else None

        ticket_b = wait_for(renumbered, what="B's ticket")
        new_no = str(ticket_b["ticket_no"])
        assert new_no != number and new_no.startswith(f"GD{DAY}")
        assert int(new_no[10:]) > int(number[10:])  # numbered from SQL, above every number of the day
        a_listed = admin.get("/api/tickets", params={"conversation_id": first["conversation_id"]}).json()["items"]
        assert [t["ticket_no"] for t in a_listed] == [number]
        assert not r.xrange(durable.keys.dead_letter_stream())  # not dead-lettered

        # B's owner key follows, the counter is raised, and B is told the final number.
        wait_for(lambda: r.hget(durable.keys.owner(second['conversation_id']), "ticket_no") == new_no,
                 what="owner key renumbered")
        assert int(r.get(durable.keys.ticket_seq(DAY)) or 0) >= int(new_no[10:])
        notices = wait_for(lambda: [f for f in _outbox(r, durable, second["conversation_id"])
                                    if f["type"] == "ticket.renumbered"], what="renumber notice")
        assert notices[0]["ticket_no"] == new_no and notices[0]["previous_no"] == number
        assert not [f for f in _outbox(r, durable, first["conversation_id"]) if f["type"] == "ticket.renumbered"]
        with durable.engine.connect() as conn:
            kinds = conn.execute(text("SELECT e.kind FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
                                      "WHERE t.ticket_no = :n"), {"n": new_no}).scalars().all()
        assert "renumbered" in kinds

        # B's messages still carry the first number: they land on B's ticket, never on A's.
        r.xadd(durable.keys.tickets_stream(),
               {**user_message({**second, "ticket_no": number}, "B 的消息"), "ticket_key": second["idempotency_key"]})
        r.xadd(durable.keys.tickets_stream(), user_message({**second, "ticket_no": number}, "B 的第二条"))
        r.xadd(durable.keys.tickets_stream(), user_message(first, "A 的消息"))

        def user_texts(ticket_no: str) -> list[str]:
            detail = admin.get(f"/api/tickets/{ticket_no}").json()
            return [m["text"] for m in detail["messages"] if m["sender"] == "user"]

        wait_for(lambda: len(user_texts(new_no)) == 2 and user_texts(number), what="messages attached")
        assert user_texts(new_no) == ["B 的消息", "B 的第二条"]
        assert user_texts(number) == ["A 的消息"]


def test_a_number_alone_never_names_a_ticket(durable: ConsoleServer, r: redis.Redis) -> None:
    with durable.admin() as admin:
        ticket = add_ticket(durable, r, admin)
        stranger = user_message({**ticket, "conversation_id": f"other-{uuid.uuid4().hex[:6]}"}, "陌生人的消息")
        r.xadd(durable.keys.tickets_stream(), stranger)
        # Retried while the request might be in flight, then dead-lettered: never attached.
        wait_for(lambda: any(f.get("orig.idempotency_key") == stranger["idempotency_key"]
                             for _id, f in r.xrange(durable.keys.dead_letter_stream())),
                 timeout=60, what="dead-lettered")
        detail = admin.get(f"/api/tickets/{ticket['ticket_no']}").json()
        assert "陌生人的消息" not in [m["text"] for m in detail["messages"]]


def test_agent_reply_is_queued_until_the_channel_confirms(durable: ConsoleServer, r: redis.Redis) -> None:
    with durable.admin() as admin:
        fields, message_id = _claimed_reply(durable, r, admin, "您好，马上处理")
        assert _message(admin, fields["ticket_no"], message_id)["delivery_status"] == "queued"
        r.xadd(durable.keys.tickets_stream(), {
            "type": "delivery.confirmed", "idempotency_key": f"delivery.confirmed:{message_id}",
            "ticket_no": fields["ticket_no"], "message_id": message_id,
            "conversation_id": fields["conversation_id"],
        })
        wait_for(lambda: _message(admin, fields["ticket_no"], message_id)["delivery_status"] == "delivered",
                 what="delivered")
        # A confirmed message is never re-sent.
        count = len(_outbox(r, durable, fields["conversation_id"]))
        time.sleep(2.5)  # longer than CONSOLE_RESEND_AFTER_SECONDS plus an upkeep pass
        assert len(_outbox(r, durable, fields["conversation_id"])) == count


def test_unconfirmed_reply_is_resent_then_failed_then_retried(durable: ConsoleServer, r: redis.Redis) -> None:
    """The outbox entry is lost (no channel ever confirms): re-sent from SQL, then visibly failed."""
    with durable.admin() as admin:
        fields, message_id = _claimed_reply(durable, r, admin, "请问您的户号是多少？")
        conversation = fields["conversation_id"]

        def sends() -> list[dict[str, str]]:
            return [f for f in _outbox(r, durable, conversation) if f.get("message_id") == message_id]

        wait_for(lambda: len(sends()) == 2, timeout=15, what="one re-send")
        message = wait_for(lambda: (m := _message(admin, fields["ticket_no"], message_id))
                           and m["delivery_status"] == "failed" and m, timeout=15, what="failed")
        assert "not confirmed" in str(message["delivery_error"])
        assert len(sends()) == 2  # two attempts (CONSOLE_DELIVERY_MAX_ATTEMPTS), then no more

        retried = admin.post(f"/api/tickets/{fields['ticket_no']}/messages/{message_id}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["message"]["delivery_status"] == "queued"
        assert retried.json()["message"]["delivery_error"] is None
        wait_for(lambda: len(sends()) == 3, what="the retry on the outbox")
        assert {f["text"] for f in sends()} == {"请问您的户号是多少？"}
        # Only a failed message can be retried; a bad id is a 404, never a 500.
        again = admin.post(f"/api/tickets/{fields['ticket_no']}/messages/{message_id}/retry")
        assert again.status_code == 409, again.text
        missing = admin.post(f"/api/tickets/{fields['ticket_no']}/messages/{'0' * 32}/retry")
        assert missing.status_code == 404
        malformed = admin.post(f"/api/tickets/{fields['ticket_no']}/messages/not%20an%20id/retry")
        assert malformed.status_code == 422


def test_owners_rebuilt_from_sql_on_start(durable: ConsoleServer, r: redis.Redis) -> None:
    with durable.admin() as admin:
        claimed = add_ticket(durable, r, admin)
        assert admin.post(f"/api/tickets/{claimed['ticket_no']}/claim").status_code == 200
        waiting = add_ticket(durable, r, admin)
        resolved = add_ticket(durable, r, admin)
        assert admin.post(f"/api/tickets/{resolved['ticket_no']}/claim").status_code == 200
        assert admin.post(f"/api/tickets/{resolved['ticket_no']}/resolve",
                          json={"resolution_category": "answered"}).status_code == 200
    for fields in (claimed, waiting, resolved):
        r.delete(durable.keys.owner(fields['conversation_id']))
    r.delete(durable.keys.queue())
    durable.restart()
    for fields in (claimed, waiting):
        owner = wait_for(lambda f=fields: r.hgetall(durable.keys.owner(f['conversation_id'])),
                         what="owner rebuilt")
        assert owner["owner"] == "agent" and owner["ticket_no"] == fields["ticket_no"]
        assert owner["ticket_key"] == fields["idempotency_key"]
    assert r.hget(durable.keys.owner(claimed['conversation_id']), "agent")  # the claiming agent's name
    assert r.zscore(durable.keys.queue(), waiting["ticket_no"]) is not None
    assert r.zscore(durable.keys.queue(), claimed["ticket_no"]) is None
    assert not r.exists(durable.keys.owner(resolved['conversation_id']))


def test_acked_ticket_entries_are_trimmed(durable: ConsoleServer, r: redis.Redis) -> None:
    with durable.admin() as admin:
        for _ in range(3):
            add_ticket(durable, r, admin)
    stream = durable.keys.tickets_stream()
    wait_for(lambda: r.xlen(stream) == 0, timeout=10, what="acked entries trimmed")
    # The group's position survives trimming: a new request is still read.
    with durable.admin() as admin:
        add_ticket(durable, r, admin)


def test_health_reports_redis_without_persistence(durable: ConsoleServer, r: redis.Redis) -> None:
    body = httpx.get(f"{durable.url}/health", timeout=10)
    assert body.status_code == 200  # a warning, not a failure
    aof = int(r.info("persistence")["aof_enabled"])
    save = r.config_get("save").get("save", "")
    expected = "aof" if aof else ("rdb" if save.strip() else "none")
    assert body.json()["redis_persistence"] == expected
    assert bool(body.json()["warnings"]) == (expected == "none")
