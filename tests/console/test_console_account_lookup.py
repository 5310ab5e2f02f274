"""Account lookup from the ticket side panel (issue 15), through the HTTP API of a running console
with the real billing service: the 户号 a resident only typed, verified against the phone tail the
resident gave in the conversation, attached to the ticket and written to its history."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from console_helpers import ConsoleServer, FakeRasa, add_ticket, free_port, user_message, wait_for


def _unverified_ticket(server: ConsoleServer, r: redis.Redis, client: httpx.Client) -> dict[str, str]:
    """A ticket whose resident never proved an account in the bot (no 户号 at all)."""
    return add_ticket(server, r, client, account_no="", summary=json.dumps({"district": "南岗区"}))


def _claimed_ticket(server: ConsoleServer, r: redis.Redis, client: httpx.Client) -> dict[str, str]:
    ticket = _unverified_ticket(server, r, client)
    client.post(f"/api/tickets/{ticket['ticket_no']}/claim").raise_for_status()
    return ticket


def _resident_writes(server: ConsoleServer, r: redis.Redis, client: httpx.Client, ticket: dict[str, str],
                     text: str) -> None:
    """The resident writes to the agent (a `ticket.user_message` from the Rasa side)."""
    r.xadd(server.keys.tickets_stream(), user_message(ticket, text))
    wait_for(lambda: any(m["text"] == text for m in client.get(f"/api/tickets/{ticket['ticket_no']}").json()["messages"]),
             what="the resident's message on the ticket")


def _lookup(client: httpx.Client, ticket_no: str, account_no: object) -> httpx.Response:
    return client.post(f"/api/tickets/{ticket_no}/account-lookup", json={"account_no": account_no})


def _history(client: httpx.Client, ticket_no: str) -> list[dict]:
    return [e for e in client.get(f"/api/tickets/{ticket_no}").json()["history"] if e["kind"] == "account_lookup"]


def test_a_typed_account_with_the_residents_tail_is_verified_and_attached(server: ConsoleServer, r: redis.Redis) -> None:
    agent, me, _ = server.new_agent()
    with agent:
        ticket = _unverified_ticket(server, r, agent)
        no = ticket["ticket_no"]
        assert agent.post(f"/api/tickets/{no}/claim").status_code == 200
        # Full-width digits, as a phone keyboard types them; the tail comes from the resident.
        _resident_writes(server, r, agent, ticket, "我家户号是２０２４０００００１，手机尾号5678")

        answer = _lookup(agent, no, "2024 000 001")
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert (found["account_no"], found["verified"], found["verification"]) == ("2024000001", True, "verified")
        assert found["phone_tail"] == "5678"
        account = found["account"]
        assert account["holder_masked"] == "张*" and account["phone_masked"] == "138****5678"
        assert account["address"] == "阳光小区3号楼2单元501"
        bill = account["bills"][0]
        # 1‰/day: 01-01..01-09 on 2509.00 (22.581) + 01-10..02-15 on 1509.00 (55.833) = 78.41
        assert bill["late_fee"] == "78.41" and bill["unpaid_principal"] == "1509.00"
        assert bill["payments"] == [{"date": "2025-01-10", "amount": "1000.00", "channel": "wechat"}]
        assert "13800005678" not in answer.text and "张三" not in answer.text
        assert found["ticket"]["account_verified"] is True and found["ticket"]["account_masked"] == "2024****01"

        # The ticket carries it from now on: the side panel shows the live account, the queue the household.
        panel = agent.get(f"/api/tickets/{no}/account").json()
        assert panel["available"] is True and panel["verified"] is True
        row = agent.get("/api/tickets", params={"q": no}).json()["items"][0]
        assert row["holder_masked"] == "张*" and row["account_no"] == "2024000001"
        [entry] = _history(agent, no)
        assert entry["agent"]["id"] == me["id"]
        assert entry["detail"]["verified"] is True and entry["detail"]["verification"] == "verified"
        assert entry["detail"]["before"] == {"account_no": None, "verified": False}


def test_without_a_tail_the_account_is_shown_but_unverified(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    server = sqlite_server
    agent, _, _ = server.new_agent()
    with agent:
        ticket = _claimed_ticket(server, r, agent)
        no = ticket["ticket_no"]
        # A year is not a phone tail.
        _resident_writes(server, r, agent, ticket, "我的户号2024000003，2024年的费也没交")
        found = _lookup(agent, no, "2024000003").json()
        assert (found["verified"], found["verification"], found["phone_tail"]) == (False, "no_tail", None)
        assert found["account"]["holder_masked"] == "王**"
        # 2024-2025: 3120.00 × 1‰ × 46 days (2025-01-01..02-15)
        assert [b["late_fee"] for b in found["account"]["bills"] if b["season"] == "2024-2025"] == ["143.52"]
        detail = agent.get(f"/api/tickets/{no}").json()
        assert detail["account_no"] == "2024000003" and detail["account_verified"] is False
        assert detail["holder_masked"] is None  # the queue names no household that was not proven
        # The plain panel keeps showing no bills for an unproven account: only a lookup does, audited.
        assert agent.get(f"/api/tickets/{no}/account").json()["verified"] is False
        assert _history(agent, no)[0]["detail"]["verified"] is False

        # The resident gives the wrong tail: still unverified, and the agent sees why.
        _resident_writes(server, r, agent, ticket, "手机后四位是 9999")
        wrong = _lookup(agent, no, "2024000003").json()
        assert (wrong["verified"], wrong["verification"], wrong["phone_tail"]) == (False, "tail_mismatch", "9999")
        # Then the right one: verified, and the earlier lookups stay in the history.
        _resident_writes(server, r, agent, ticket, "不对，尾号是1111")
        right = _lookup(agent, no, "2024000003").json()
        assert (right["verified"], right["phone_tail"]) == (True, "1111")
        assert [e["detail"]["verification"] for e in _history(agent, no)] == ["no_tail", "tail_mismatch", "verified"]


def test_the_tail_the_resident_told_the_bot_counts(sqlite_server: ConsoleServer, r: redis.Redis,
                                                   fake_rasa: FakeRasa) -> None:
    server = sqlite_server
    agent, _, _ = server.new_agent()
    with agent:
        ticket = _unverified_ticket(server, r, agent)
        fake_rasa.trackers[ticket["conversation_id"]] = [
            {"event": "user", "text": "我的手机号13912341234", "timestamp": time.time() - 30},
            {"event": "bot", "text": "好的", "timestamp": time.time() - 29},
        ]
        try:
            agent.post(f"/api/tickets/{ticket['ticket_no']}/claim").raise_for_status()
            found = _lookup(agent, ticket["ticket_no"], "2024000002").json()
        finally:
            del fake_rasa.trackers[ticket["conversation_id"]]
        assert (found["verified"], found["phone_tail"]) == (True, "1234")
        assert "13912341234" not in json.dumps(found, ensure_ascii=False)


def test_unknown_account_is_404_and_recorded(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    server = sqlite_server
    agent, _, _ = server.new_agent()
    with agent:
        ticket = _claimed_ticket(server, r, agent)
        no = ticket["ticket_no"]
        answer = _lookup(agent, no, "2099999999")
        assert answer.status_code == 404
        assert answer.json() == {"detail": "The billing system has no account 2099999999."}
        assert agent.get(f"/api/tickets/{no}").json()["account_no"] is None
        assert _history(agent, no)[0]["detail"] == {"account_no": "2099999999", "found": False}
        assert _lookup(agent, "GD209901010001", "2024000001").status_code == 404


@pytest.mark.parametrize("value", ["12345", "20240000011", "abc", "2024-00o0-01", "", " "])
def test_bad_numbers_are_refused_with_a_clear_error(sqlite_server: ConsoleServer, r: redis.Redis, value: str) -> None:
    server = sqlite_server
    with server.admin() as admin:
        ticket = _unverified_ticket(server, r, admin)
        answer = _lookup(admin, ticket["ticket_no"], value)
        if value == "":
            assert answer.status_code == 422  # the schema: at least one character
        else:
            assert answer.status_code == 400, answer.text
            assert answer.json() == {"detail": "account_no must be 8 to 10 digits (the 户号 printed on the heating bill)."}
        assert _history(admin, ticket["ticket_no"]) == []


def test_malformed_bodies_get_json_errors_never_500(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    server = sqlite_server
    with server.admin() as admin:
        no = _unverified_ticket(server, r, admin)["ticket_no"]
        for body in ({}, {"account_no": 2024000001}, {"account_no": ["2024000001"]}, {"account_no": "9" * 41}):
            answer = admin.post(f"/api/tickets/{no}/account-lookup", json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert isinstance(answer.json()["detail"], list)
        raw = admin.post(f"/api/tickets/{no}/account-lookup", content=b"{not json", headers={"Content-Type": "application/json"})
        assert raw.status_code == 422


def test_only_the_holder_or_a_supervisor_may_look_up(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    server = sqlite_server
    holder, _, _ = server.new_agent()
    other, _, _ = server.new_agent()
    with holder, other, server.admin() as supervisor:
        no = _unverified_ticket(server, r, holder)["ticket_no"]
        unclaimed = _lookup(other, no, "2024000001")
        assert unclaimed.status_code == 403 and "holding ticket" in unclaimed.json()["detail"]
        holder.post(f"/api/tickets/{no}/claim").raise_for_status()
        assert _lookup(other, no, "2024000001").status_code == 403
        assert _history(holder, no) == []
        assert _lookup(supervisor, no, "2024000001").status_code == 200
        assert _lookup(holder, no, "2024000001").status_code == 200
        assert httpx.post(f"{server.url}/api/tickets/{no}/account-lookup", json={"account_no": "2024000001"}).status_code == 401


@pytest.fixture
def console_without_billing(workdir: Path, fake_rasa: FakeRasa, r: redis.Redis) -> Iterator[ConsoleServer]:
    """A console whose billing system is down: nothing listens at its BILLING_URL."""
    server = ConsoleServer(
        backend="nobilling", database_url=f"sqlite:///{workdir}/console-nobilling.db",
        prefix=f"hdtest-{uuid.uuid4().hex[:8]}-nobilling:", workdir=workdir,
        extra_env={"RASA_PORT": str(fake_rasa.port), "RASA_HOST": "127.0.0.1",
                   "BILLING_URL": f"http://127.0.0.1:{free_port()}"},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        keys = list(r.scan_iter(match=f"{server.prefix}*", count=1000))
        if keys:
            r.delete(*keys)


def test_billing_down_is_503_and_changes_nothing(console_without_billing: ConsoleServer, r: redis.Redis) -> None:
    server = console_without_billing
    with server.admin() as admin:
        ticket = _claimed_ticket(server, r, admin)
        no = ticket["ticket_no"]
        _resident_writes(server, r, admin, ticket, "户号2024000001 尾号5678")
        for _ in range(4):  # past the client's circuit breaker too: still a clear 503
            answer = _lookup(admin, no, "2024000001")
            assert answer.status_code == 503, answer.text
            assert "billing system did not answer" in answer.json()["detail"]
        detail = admin.get(f"/api/tickets/{no}").json()
        assert detail["account_no"] is None and _history(admin, no) == []
        assert "Traceback" not in server.log_text()
