"""Property-based fuzzing of the whole API from its OpenAPI schema: no input yields a 500."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from console_helpers import ConsoleServer, FakeRasa, add_ticket, temporary_pg_database
from console.security import SESSION_COOKIE

# Endpoints that would end the fuzzer's own session or never return are left out;
# they have their own tests (events, logout, password changes).
EXCLUDED_PATHS = ("/api/events", "/api/logout", "/api/me/password", "/api/agents/{agent_id}/password")


@pytest.fixture(params=["sqlite", "postgresql"])
def fuzz_server(
    request: pytest.FixtureRequest, workdir: Path, fake_rasa: FakeRasa, billing_url: str, r: redis.Redis
) -> Iterator[ConsoleServer]:
    """A console of its own, so that whatever the fuzzer creates or deactivates stays there.

    PostgreSQL too: its typed columns refuse values SQLite would take (e.g. huge integers)."""
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            database_url = stack.enter_context(temporary_pg_database())
        else:
            database_url = f"sqlite:///{workdir}/fuzz-{uuid.uuid4().hex[:6]}.db"
        yield from _run_fuzz_server(request.param, database_url, workdir, fake_rasa, billing_url, r)


def _run_fuzz_server(
    backend: str, database_url: str, workdir: Path, fake_rasa: FakeRasa, billing_url: str, r: redis.Redis
) -> Iterator[ConsoleServer]:
    server = ConsoleServer(
        backend=f"fuzz-{backend}", database_url=database_url, prefix=f"hdtest-{uuid.uuid4().hex[:8]}-fuzz:",
        workdir=workdir,
        extra_env={"RASA_PORT": str(fake_rasa.port), "RASA_HOST": "127.0.0.1", "BILLING_URL": billing_url,
                   "CONSOLE_LOGIN_MAX_ATTEMPTS": "1000"},
    )
    server.start()
    yield server
    server.stop()
    keys = list(r.scan_iter(match=f"{server.prefix}*"))
    if keys:
        r.delete(*keys)


def test_no_input_makes_the_api_fail(fuzz_server: ConsoleServer, r: redis.Redis, workdir: Path) -> None:
    fuzzer, _info, _ = fuzz_server.new_agent(role="supervisor")
    with fuzzer:
        # A few real tickets, so that examples with real-looking numbers reach the code paths too.
        # GD202502150001 is also the documented example of {ticket_no}, so the examples phase finds it.
        add_ticket(fuzz_server, r, fuzzer, ticket_no="GD202502150001")
        for _ in range(2):
            add_ticket(fuzz_server, r, fuzzer)
        cookie = fuzzer.cookies.get(SESSION_COOKIE)
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis CLI not installed in this environment"
    command = [
        st, "run", f"{fuzz_server.url}/openapi.json",
        "--checks", "not_a_server_error",
        "--max-examples", "6",
        "--phases", "examples,coverage,fuzzing",
        "--workers", "1",
        "--seed", "4242",
        "--request-timeout", "15",
        "--generation-database", "none",
        "--header", f"Cookie: {SESSION_COOKIE}={cookie}",
        "--no-color",
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "Internal Server Error" not in fuzz_server.log_text()
