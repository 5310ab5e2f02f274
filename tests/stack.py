"""Starts HeatDesk's real processes for tests, from the same Procfile `make run` uses.

Stdlib + httpx only, so both test environments can import it. Each process gets
free ports, its own SQLite files under var/test-stack-*, a Redis database of its
own (flushed at start) and a fixed HEATING_TODAY, so end-to-end results are exact.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEST_REDIS_DB = int(os.environ.get("HEATDESK_TEST_REDIS_DB", "9"))
#: Seconds a process may take to answer its health check (raise it on a loaded machine).
START_TIMEOUT = float(os.environ.get("HEATDESK_TEST_START_TIMEOUT", "240"))
TODAY = "2025-02-15"
#: Seconds a process may take to become healthy; a busy shared machine needs more than the default.
START_TIMEOUT = float(os.environ.get("HEATDESK_TEST_START_TIMEOUT", "240"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def procfile() -> Dict[str, str]:
    """name → command line of every process in the Procfile."""
    entries: Dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        match = re.match(r"^([a-z_]+):\s*(.+)$", line.strip())
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


@dataclass
class Stack:
    """A running set of HeatDesk processes."""

    env: Dict[str, str]
    workdir: Path
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)

    @classmethod
    def create(cls, **overrides: str) -> "Stack":
        workdir = Path(tempfile.mkdtemp(prefix="test-stack-", dir=ROOT / "var"))
        base_redis = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RASA_PORT": str(free_port()),
            "ACTION_PORT": str(free_port()),
            "CONSOLE_PORT": str(free_port()),
            "BILLING_PORT": str(free_port()),
            "REDIS_URL": f"{base_redis}/{TEST_REDIS_DB}",
            "DATABASE_URL": f"sqlite:///{workdir}/console.db",
            "BILLING_DATABASE_URL": f"sqlite:///{workdir}/billing.db",
            "BILLING_SEED_FILE": str(ROOT / "tests" / "data" / "billing_seed.json"),
            "HEATING_TODAY": TODAY,
            "RASA_TOKEN": "test-rasa-token",
            "ACTION_SERVER_TOKEN": "test-action-server-token",
            "CONSOLE_ADMIN_USER": "admin",
            "CONSOLE_ADMIN_PASSWORD": "admin-test-password",
            "CONSOLE_SESSION_SECRET": "test-session-secret-0123456789abcdef",
            "WECHAT_TOKEN": "test-wechat-token",
            "WECHAT_APPID": "wx0000000000000001",
            "WECHAT_APPSECRET": "test-secret",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        env["BILLING_URL"] = f"http://127.0.0.1:{env['BILLING_PORT']}"
        env.update(overrides)
        return cls(env, workdir)

    def url(self, name: str) -> str:
        port = {"rasa": "RASA_PORT", "actions": "ACTION_PORT", "console": "CONSOLE_PORT", "billing": "BILLING_PORT"}[name]
        return f"http://127.0.0.1:{self.env[port]}"

    def health_url(self, name: str) -> str:
        return self.url(name) + ("/webhooks/rest/" if name == "rasa" else "/health")

    def flush_redis(self) -> None:
        """Empties the test database only (never database 0)."""
        from redis import Redis  # both test environments have redis-py

        Redis.from_url(self.env["REDIS_URL"]).flushdb()

    def start(self, names: Iterable[str], timeout: float = START_TIMEOUT) -> None:
        commands = procfile()
        for name in names:
            command = re.sub(r"\$\{(\w+)\}", lambda m: self.env[m.group(1)], commands[name])
            log = open(self.workdir / f"{name}.log", "ab")
            self.processes[name] = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for name in names:
            self.wait_healthy(name, timeout)

    def wait_healthy(self, name: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
            try:
                if httpx.get(self.health_url(name), timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{name} not healthy after {timeout} s:\n{self.log_tail(name)}")

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start([name])

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Polls `predicate` until it returns something truthy; returns it or raises."""
    deadline = time.monotonic() + timeout
    last: Optional[object] = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


ALL: List[str] = ["billing", "actions", "rasa", "console"]
