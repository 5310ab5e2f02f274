"""Fixtures: one console per SQL backend (SQLite file, temporary PostgreSQL database),
each with its own Redis key prefix in db 15, plus the real billing service and a fake Rasa."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from console_helpers import (
    HEATING_TODAY,
    RASA_TOKEN,
    ROOT,
    ConsoleServer,
    FakeRasa,
    free_port,
    redis_client,
    temporary_pg_database,
    wait_http,
)

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console")


@pytest.fixture(scope="session")
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa(RASA_TOKEN)
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def billing_url(workdir: Path) -> Iterator[str]:
    """The reference billing service (billing_service/), seeded with the test accounts."""
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "BILLING_DATABASE_URL": f"sqlite:///{workdir}/billing.db",
        "BILLING_SEED_FILE": str(ROOT / "tests" / "data" / "billing_seed.json"),
        "HEATING_TODAY": HEATING_TODAY,
        "BILLING_PORT": str(port),
    }
    log = open(workdir / "billing.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "billing_service.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", proc=proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """The temporary PostgreSQL database of this test session's PostgreSQL console."""
    with temporary_pg_database() as url:
        yield url


class _Servers:
    def __init__(self) -> None:
        self.running: dict[str, ConsoleServer] = {}


@pytest.fixture(scope="session")
def _servers(
    request: pytest.FixtureRequest, workdir: Path, fake_rasa: FakeRasa, billing_url: str
) -> Iterator[_Servers]:
    holder = _Servers()
    yield holder
    r = redis_client()
    for server in holder.running.values():
        server.stop()
        if server._engine is not None:
            server._engine.dispose()
        keys = list(r.scan_iter(match=f"{server.prefix}*", count=1000))
        if keys:
            r.delete(*keys)
    r.close()


def _server(backend: str, request: pytest.FixtureRequest, holder: _Servers) -> ConsoleServer:
    if backend not in holder.running:
        workdir: Path = request.getfixturevalue("workdir")
        fake: FakeRasa = request.getfixturevalue("fake_rasa")
        billing: str = request.getfixturevalue("billing_url")
        if backend == "sqlite":
            database_url = f"sqlite:///{workdir}/console.db"
        else:
            database_url = request.getfixturevalue("pg_database_url")
        server = ConsoleServer(
            backend=backend,
            database_url=database_url,
            prefix=f"hdtest-{uuid.uuid4().hex[:8]}-{backend}:",
            workdir=workdir,
            extra_env={"RASA_PORT": str(fake.port), "RASA_HOST": "127.0.0.1", "BILLING_URL": billing},
        )
        server.start()
        holder.running[backend] = server
    server = holder.running[backend]
    if server.proc is None or server.proc.poll() is not None:
        server.start()
    return server


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, _servers: _Servers) -> ConsoleServer:
    """The console on each SQL backend in turn."""
    return _server(request.param, request, _servers)


@pytest.fixture
def sqlite_server(request: pytest.FixtureRequest, _servers: _Servers) -> ConsoleServer:
    return _server("sqlite", request, _servers)


@pytest.fixture
def r() -> Iterator[redis.Redis]:
    client = redis_client()
    yield client
    client.close()
