"""Test harness of the console: real processes (uvicorn, billing service), real Redis and SQL.

Only Rasa is stood in for (a tiny HTTP server answering the tracker endpoint),
because the Rasa runtime is another Python and another engineer's part.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import psycopg
import pytest
import redis
from sqlalchemy import Engine, create_engine

from heatdesk_contract.keys import KeySpace

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB_URL = os.environ.get("HEATDESK_CONSOLE_TEST_REDIS", "redis://127.0.0.1:6379/15")
PG_ADMIN_URL = os.environ.get("HEATDESK_CONSOLE_TEST_PG", "postgresql+psycopg://postgres@localhost/postgres")
ADMIN_USER = "admin"
ADMIN_PASSWORD = "Admin-pass-7391"
SESSION_SECRET = "console-test-secret-" + uuid.uuid4().hex
RASA_TOKEN = "rasa-test-token-" + uuid.uuid4().hex[:8]
HEATING_TODAY = "2025-02-15"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class SessionClient(httpx.Client):
    """An httpx client that may be used in ``with`` after it already logged in."""

    def __enter__(self) -> "SessionClient":
        return self


@dataclass
class ConsoleServer:
    """The console as `make run` starts it: uvicorn in its own process."""

    backend: str
    database_url: str
    prefix: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Leave the timing settings at their production defaults (the tests shorten them otherwise).
    production_timings: bool = False
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _engine: Engine | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"console-{self.backend}.log"

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("CONSOLE_", "SLA_", "RASA_", "BILLING_", "HEATDESK_"))
        }
        env.update({
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_DB_URL,
            "HEATDESK_KEY_PREFIX": self.prefix,
            "CONSOLE_PORT": str(self.port),
            "CONSOLE_ADMIN_USER": ADMIN_USER,
            "CONSOLE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CONSOLE_SESSION_SECRET": SESSION_SECRET,
            "CONSOLE_CONSUMER_NAME": f"console-test-{self.backend}",
            "CONSOLE_LOGIN_MAX_ATTEMPTS": "5",
            "HEATING_TODAY": HEATING_TODAY,
            "RASA_TOKEN": RASA_TOKEN,
        })
        if not self.production_timings:
            env.update({"CONSOLE_CLAIM_IDLE_SECONDS": "2", "CONSOLE_SSE_CHECK_SECONDS": "1"})
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "console.main:app", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        self.starts += 1
        wait_http(f"{self.url}/health", proc=self.proc)

    def stop(self, hard: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, hard: bool = False) -> None:
        self.stop(hard=hard)
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = self.database_url
            self._engine = create_engine(url)
        return self._engine

    @property
    def keys(self) -> KeySpace:
        """This console's Redis key names (its own prefix)."""
        return KeySpace(self.prefix)

    def client(self) -> SessionClient:
        return SessionClient(base_url=self.url, timeout=15.0)

    def login(self, username: str, password: str) -> SessionClient:
        client = self.client()
        response = client.post("/api/login", json={"username": username, "password": password})
        if response.status_code != 200:
            raise AssertionError(f"login of {username} failed: {response.status_code} {response.text}")
        return client

    def admin(self) -> SessionClient:
        return self.login(ADMIN_USER, ADMIN_PASSWORD)

    def new_agent(
        self, role: str = "agent", display_name: str | None = None
    ) -> tuple[SessionClient, dict[str, Any], str]:
        """A fresh account (created by the admin over the API), logged in."""
        username = f"{role[:3]}{uuid.uuid4().hex[:10]}"
        password = "pw-" + uuid.uuid4().hex
        with self.admin() as admin:
            created = admin.post("/api/agents", json={
                "username": username, "password": password, "role": role,
                "display_name": display_name or f"客服{username[-4:]}",
            })
            assert created.status_code == 201, created.text
        client = self.login(username, password)
        return client, created.json(), password


class FakeRasa:
    """Answers GET /conversations/{id}/tracker like Rasa's HTTP API (token required)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.trackers: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                parsed = urlparse(self.path)
                fake.requests.append(self.path)
                parts = parsed.path.strip("/").split("/")
                token = parse_qs(parsed.query).get("token", [""])[0]
                if token != fake.token:
                    self._send(401, {"status": "failure", "reason": "NotAuthenticated"})
                elif len(parts) == 3 and parts[0] == "conversations" and parts[2] == "tracker":
                    conversation = unquote(parts[1])
                    self._send(200, {"sender_id": conversation, "events": fake.trackers.get(conversation, [])})
                else:
                    self._send(404, {"status": "failure"})

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ticket_request(**overrides: str) -> dict[str, str]:
    """A `ticket.request` entry as the Rasa side writes it (docs/architecture.md)."""
    suffix = uuid.uuid4().hex[:8]
    fields = {
        "type": "ticket.request",
        "idempotency_key": f"req-{suffix}",
        "ticket_no": f"GD20250215{suffix}",
        "conversation_id": f"conv-{suffix}",
        "channel": "rest",
        "account_no": "2024000001",
        "category": "ask_balance",
        "priority": "high",
        "trigger_kind": "emotion",
        "trigger_name": "angry",
        "trigger_confidence": "0.93",
        "trigger_text": "你们这是抢钱吗！！！欠费怎么这么多？",
        "summary": json.dumps({
            "account_no": "2024000001", "holder_masked": "张*", "address": "阳光小区3号楼2单元501",
            "district": "南岗区", "bills": [{"season": "2024-2025", "late_fee": "68.62"}],
            "last_messages": [
                {"sender": "user", "text": "查一下欠费", "ts": time.time() - 60},
                {"sender": "bot", "text": "请提供户号", "ts": time.time() - 50},
            ],
            "intent": {"name": "ask_balance", "confidence": 0.88},
            "emotion": {"name": "angry", "confidence": 0.93},
        }, ensure_ascii=False),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    fields.update(overrides)
    return fields


def user_message(ticket: dict[str, str], text: str, key: str | None = None) -> dict[str, str]:
    return {
        "type": "ticket.user_message",
        "idempotency_key": key or f"msg-{uuid.uuid4().hex[:10]}",
        "ticket_no": ticket["ticket_no"],
        "conversation_id": ticket["conversation_id"],
        "text": text,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(REDIS_DB_URL, decode_responses=True)


def add_ticket(server: ConsoleServer, r: redis.Redis, client: httpx.Client, **overrides: str) -> dict[str, str]:
    """XADD a ticket request and wait until the console lists it."""
    fields = ticket_request(**overrides)
    r.xadd(server.keys.tickets_stream(), fields)
    wait_for(lambda: client.get(f"/api/tickets/{fields['ticket_no']}").status_code == 200,
             what=f"ticket {fields['ticket_no']}")
    return fields


def sse_events(
    response: httpx.Response, stop: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
) -> Iterator[dict[str, Any]]:
    """Parse an SSE body into {id, event, data} dicts until ``stop(events)`` says so."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            raise AssertionError(f"SSE stream: timed out; got {events}")
        if line == "":
            if "event" in current or "data" in current:
                if "data" in current:
                    current["data"] = json.loads(current["data"])
                events.append(current)
                yield current
                if stop(events):
                    return
            current = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            current["data"] = current.get("data", "") + value
        elif name in ("id", "event", "retry"):
            current[name] = value


class SseReader(threading.Thread):
    """Reads /api/events in the background, like a browser's EventSource would."""

    def __init__(self, server: ConsoleServer, cookies: httpx.Cookies, last_event_id: str | None = None,
                 via_query: bool = False) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.cookies = cookies
        self.last_event_id = last_event_id
        self.via_query = via_query
        self.events: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.finished = threading.Event()
        self.status: int | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()

    def run(self) -> None:
        headers = {}
        params = {}
        if self.last_event_id:
            if self.via_query:
                params["last_event_id"] = self.last_event_id
            else:
                headers["Last-Event-ID"] = self.last_event_id
        try:
            with httpx.Client(base_url=self.server.url, cookies=self.cookies, timeout=30.0) as client:
                with client.stream("GET", "/api/events", headers=headers, params=params) as response:
                    self.status = response.status_code
                    if response.status_code != 200:
                        return
                    current: dict[str, Any] = {}
                    for line in response.iter_lines():
                        if self._stop.is_set():
                            return
                        if line.startswith(":"):
                            if "connected" in line:
                                self.connected.set()
                            continue
                        if line == "":
                            if "data" in current:
                                current["data"] = json.loads(current["data"])
                                self.events.append(current)
                            current = {}
                            continue
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if name == "data":
                            current["data"] = current.get("data", "") + value
                        elif name in ("id", "event", "retry"):
                            current[name] = value
        except httpx.HTTPError as exc:
            self.error = exc
        finally:
            self.connected.set()
            self.finished.set()

    def start_and_wait(self) -> "SseReader":
        self.start()
        if not self.connected.wait(15):
            raise AssertionError("SSE stream did not connect")
        return self

    def for_ticket(self, ticket_no: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("data", {}).get("ticket_no") == ticket_no]

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0) -> None:
        wait_for(lambda: predicate(self.events), timeout=timeout, what="SSE events")

    def close(self) -> None:
        self._stop.set()


def _pg_conninfo() -> str:
    return PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")


@contextlib.contextmanager
def temporary_pg_database() -> Iterator[str]:
    """A PostgreSQL database of its own (skips the test when PostgreSQL is not there), dropped afterwards."""
    name = f"console_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(_pg_conninfo(), autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_pg_conninfo(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
