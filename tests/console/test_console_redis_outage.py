"""Redis is down for a while: tickets stay in SQL, replies wait in the outbox table, nothing is lost.

Uses a private redis-server (real Redis, its own port, no persistence), so killing it
does not disturb anybody else's Redis.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from console_helpers import ConsoleServer, FakeRasa, add_ticket, free_port, wait_for

from heatdesk_contract.keys import DEFAULT as KEYS


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), timeout=10, what="private redis")
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def outage(workdir: Path, fake_rasa: FakeRasa, billing_url: str) -> Iterator[tuple[ConsoleServer, PrivateRedis]]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    private = PrivateRedis(workdir)
    private.start()
    server = ConsoleServer(
        backend="outage", database_url=f"sqlite:///{workdir}/outage-{uuid.uuid4().hex[:6]}.db",
        prefix=KEYS.prefix, workdir=workdir,
        extra_env={"REDIS_URL": private.url, "RASA_PORT": str(fake_rasa.port), "RASA_HOST": "127.0.0.1",
                   "BILLING_URL": billing_url},
    )
    server.start()
    yield server, private
    server.stop()
    private.stop()


def test_a_redis_restart_loses_no_ticket_and_no_reply(outage: tuple[ConsoleServer, PrivateRedis]) -> None:
    server, private = outage
    r = redis.Redis.from_url(private.url, decode_responses=True)
    agent, _, _ = server.new_agent()
    with agent:
        fields = add_ticket(server, r, agent)
        no = fields["ticket_no"]
        agent.post(f"/api/tickets/{no}/claim").raise_for_status()

        private.stop()
        assert agent.get(f"/api/tickets/{no}").status_code == 200  # tickets live in SQL
        assert server.client().get("/health").status_code == 503
        sent = agent.post(f"/api/tickets/{no}/messages", json={"text": "Redis 断了也不会丢"})
        assert sent.status_code == 201 and sent.json()["delivery"] == "pending"
        login = server.client().post("/api/login", json={"username": "admin", "password": "whatever"})
        assert login.status_code == 503  # the rate limiter fails closed

        private.start()  # empty: no persistence, like a fresh Redis
        r = redis.Redis.from_url(private.url, decode_responses=True)
        # Written after the restart, but must not overtake the reply saved during the outage.
        after = agent.post(f"/api/tickets/{no}/messages", json={"text": "恢复后的第二条"})
        assert after.status_code == 201 and after.json()["delivery"] == "queued"
        resolved = agent.post(f"/api/tickets/{no}/resolve", json={"resolution_category": "answered"})
        assert resolved.status_code == 200
        outbox = [f for _id, f in r.xrange(KEYS.outbox_stream())]
        assert [(f["type"], f.get("text")) for f in outbox] == [
            ("agent.message", "Redis 断了也不会丢"), ("agent.message", "恢复后的第二条"), ("ticket.resolved", None)]
        wait_for(lambda: server.client().get("/health").status_code == 200, timeout=10, what="health")

        # The consumer re-created its group on the empty Redis and takes new tickets again.
        later = add_ticket(server, r, agent)
        assert agent.get(f"/api/tickets/{later['ticket_no']}").json()["status"] == "new"
        events = [f["type"] for _id, f in r.xrange(KEYS.events_stream())]
        assert "ticket.message" in events and "ticket.resolved" in events
    r.close()
