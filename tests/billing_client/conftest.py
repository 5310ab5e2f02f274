"""Real servers for the client tests: the billing service under uvicorn, and scripted local HTTP servers."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "billing_service" / "demo_seed.json"
HEATING_TODAY = "2025-02-15"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service_python() -> Optional[str]:
    """The service runtime's interpreter: this one if it has FastAPI, else .venv/svc."""
    probe = subprocess.run([sys.executable, "-c", "import fastapi, uvicorn, sqlalchemy"], capture_output=True)
    if probe.returncode == 0:
        return sys.executable
    candidate = ROOT / ".venv" / "svc" / "bin" / "python"
    return str(candidate) if candidate.exists() else None


@pytest.fixture(scope="session")
def billing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reference billing service on a free port, with a temporary SQLite database and the demo seed."""
    python = _service_python()
    if python is None:
        pytest.fail("no service runtime (.venv/svc) to run billing_service")
    workdir = tmp_path_factory.mktemp("billing_server")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BILLING_DATABASE_URL": f"sqlite:///{workdir / 'billing.db'}",
        "BILLING_SEED_FILE": str(SEED),
        "HEATING_TODAY": HEATING_TODAY,
        "HEATING_CITY_FILE": str(ROOT / "config" / "city.yml"),
    }
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen(
        [python, "-m", "uvicorn", "billing_service.main:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                log.flush()
                pytest.fail(f"billing service exited early:\n{(workdir / 'server.log').read_text()}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail("billing service did not become healthy within 30 s")
            time.sleep(0.1)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


class ScriptedServer:
    """A real HTTP server on localhost whose behaviour a test sets: status, body, delay.

    Counts the requests it received, so a test can prove a call never left the client.
    """

    def __init__(self) -> None:
        self.status = 200
        self.body: object = {"status": "ok"}
        self.delay = 0.0
        self.truncate = False  # announce more bytes than are sent, then close (a cut stream)
        self.hits = 0
        self.paths: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                with server._lock:
                    server.hits += 1
                    server.paths.append(self.path)
                    status, body, delay, truncate = server.status, server.body, server.delay, server.truncate
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if delay:
                    time.sleep(delay)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-ndjson" if isinstance(body, bytes)
                                     else "application/json")
                    self.send_header("Content-Length", str(len(payload) + (1000 if truncate else 0)))
                    if truncate:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first: exactly what the slow-server test wants

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dead_url() -> str:
    """A local URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def seed_accounts() -> dict[str, dict[str, object]]:
    data = json.loads(SEED.read_text(encoding="utf-8"))
    return {account["account_no"]: account for account in data["accounts"]}

