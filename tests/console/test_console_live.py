"""The live stream stays live with the PRODUCTION timings (issue 15).

The other console tests shorten the stream's timings, which hid that with the defaults the
live stream's XREAD blocked exactly as long as the Redis client's read timeout: every ~6 s the
read timed out, the stream sent `unavailable` and the UI showed 重新连接中…. This console runs
with no timing setting overridden.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console_helpers import ConsoleServer, FakeRasa

# The default block between heartbeats is 5 s (CONSOLE_SSE_CHECK_SECONDS); the broken build
# dropped the stream after the first one. Four heartbeats prove the point without a minute's wait.
HEARTBEATS = 4


@pytest.fixture(scope="module")
def default_server(workdir: Path, fake_rasa: FakeRasa, billing_url: str) -> Iterator[ConsoleServer]:
    server = ConsoleServer(
        backend="sqlite-defaults",
        database_url=f"sqlite:///{workdir}/console-defaults.db",
        prefix=f"hdtest-{uuid.uuid4().hex[:8]}-defaults:",
        workdir=workdir,
        production_timings=True,
        extra_env={"RASA_PORT": str(fake_rasa.port), "RASA_HOST": "127.0.0.1", "BILLING_URL": billing_url},
    )
    server.start()
    yield server
    server.stop()


def test_stream_holds_for_several_heartbeats_with_the_default_settings(default_server: ConsoleServer) -> None:
    agent, _, _ = default_server.new_agent()
    heartbeats: list[float] = []
    events: list[str] = []
    started = time.monotonic()
    with agent, httpx.Client(base_url=default_server.url, cookies=agent.cookies, timeout=30.0) as client:
        with client.stream("GET", "/api/events") as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith(": heartbeat") or line == ":heartbeat":
                    heartbeats.append(time.monotonic() - started)
                elif line.startswith("event:"):
                    events.append(line.partition(":")[2].strip())
                if "unavailable" in events or len(heartbeats) >= HEARTBEATS:
                    break
    held = time.monotonic() - started
    assert events == [], f"the stream sent {events} after {held:.1f} s"
    assert len(heartbeats) == HEARTBEATS
    assert held >= (HEARTBEATS - 1) * 4.0, heartbeats  # the default block is ~5 s, not a shortened one
    log = default_server.log_path.read_text(errors="replace")
    assert "event stream interrupted" not in log
