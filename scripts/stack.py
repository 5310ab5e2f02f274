"""Starts HeatDesk's real processes from the Procfile `make run` uses, each on a free port.

Used by `make bench` (scripts/bench.py), scripts/conversations.py and the tests (tests/stack.py
puts the test Redis database on top). Every stack gets its own SQLite files under
var/test-stack-*, a Redis database given by the caller, fixed secrets and a fixed HEATING_TODAY
(`FIXED_TODAY`, the day tests/data/billing_seed.json is written for), so results are exact and a
running `make run` is not disturbed. Stdlib + httpx + redis-py, which both environments have.
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
from typing import Any, Callable, Dict, Iterable, List, Optional

import httpx

from scripts.run import HEALTH, health_url

ROOT = Path(__file__).resolve().parent.parent
#: Every Procfile process, in start order.
ALL: List[str] = ["billing", "actions", "rasa", "console"]
FIXED_TODAY = "2025-02-15"
#: Seconds a process may take to answer its health check by default (a busy machine needs more).
START_TIMEOUT = 240.0


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


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.2) -> Any:
    """Polls `predicate` until it returns something truthy; returns it or raises."""
    deadline = time.monotonic() + timeout
    last: Optional[object] = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


@dataclass
class Stack:
    """A running set of HeatDesk processes."""

    env: Dict[str, str]
    workdir: Path
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)
    start_timeout: float = START_TIMEOUT

    @classmethod
    def create(cls, redis_db: int, start_timeout: float = START_TIMEOUT, **overrides: str) -> "Stack":
        """Settings for a stack on free ports and Redis database `redis_db` of REDIS_URL's server."""
        workdir = Path(tempfile.mkdtemp(prefix="test-stack-", dir=ROOT / "var"))
        base_redis = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RASA_PORT": str(free_port()),
            "ACTION_PORT": str(free_port()),
            "CONSOLE_PORT": str(free_port()),
            "BILLING_PORT": str(free_port()),
            "REDIS_URL": f"{base_redis}/{redis_db}",
            "DATABASE_URL": f"sqlite:///{workdir}/console.db",
            "BILLING_DATABASE_URL": f"sqlite:///{workdir}/billing.db",
            "BILLING_SEED_FILE": str(ROOT / "tests" / "data" / "billing_seed.json"),
            "HEATING_TODAY": FIXED_TODAY,
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
        return cls(env, workdir, start_timeout=start_timeout)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.env[HEALTH[name][0]]}"

    def health_url(self, name: str) -> str:
        return health_url(name, self.env)

    def flush_redis(self) -> None:
        """Empties this stack's Redis database only."""
        from redis import Redis

        Redis.from_url(self.env["REDIS_URL"]).flushdb()

    def start(self, names: Iterable[str], timeout: Optional[float] = None) -> None:
        names = list(names)
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

    def wait_healthy(self, name: str, timeout: Optional[float] = None) -> None:
        timeout = self.start_timeout if timeout is None else timeout
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
