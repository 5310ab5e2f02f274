"""`make run` as an operator sees it, for real: free ports, a Redis database and SQLite files of
the test's own, the venvs and model `make test` has already made. The demo file says one password
and the environment another: the environment's is printed and works. "HeatDesk is ready" comes
once, after every process is up, every URL it prints answers, and no third-party warning shows."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import List

import httpx

from tests.stack import ROOT, START_TIMEOUT, TEST_REDIS_DB, TODAY, free_port

READY = "HeatDesk is ready:"
THIRD_PARTY_WARNING = re.compile(r"(site|dist)-packages/\S+\.py:\d+: \w*Warning: ")
SETTINGS = ("RASA_", "ACTION_", "CONSOLE_", "BILLING_", "DATABASE_URL", "REDIS_URL", "HEATING_", "WECHAT_",
            "PYTHONWARNINGS", "DEMO_ENV")


def test_make_run_prints_ready_last_with_working_urls_and_the_environments_login(tmp_path: Path) -> None:
    # Never let this test rebuild the shared venvs: make run must find them ready.
    dry = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "rm -rf" not in dry.stdout and "-m venv" not in dry.stdout, "make run would (re)build the venvs: run make setup"

    demo = tmp_path / "demo.env"
    demo.write_text("CONSOLE_ADMIN_USER=admin\nCONSOLE_ADMIN_PASSWORD=from-the-file-1234\nRASA_TOKEN=file-token\n"
                    "CONSOLE_SESSION_SECRET=file-secret-0123456789abcdef\n")
    password = "from-the-environment-5678"
    ports = {name: str(free_port()) for name in ("RASA_PORT", "ACTION_PORT", "CONSOLE_PORT", "BILLING_PORT")}
    base_redis = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
    env = {key: value for key, value in os.environ.items() if not key.startswith(SETTINGS)}
    env.update(ports)
    env.update({
        "REDIS_URL": f"{base_redis}/{TEST_REDIS_DB}",
        "DATABASE_URL": f"sqlite:///{tmp_path}/console.db",
        "BILLING_DATABASE_URL": f"sqlite:///{tmp_path}/billing.db",
        "BILLING_URL": f"http://localhost:{ports['BILLING_PORT']}",
        "HEATING_TODAY": TODAY,
        "CONSOLE_ADMIN_PASSWORD": password,
        "DEMO_ENV": str(demo),
        "HEATDESK_START_TIMEOUT": str(START_TIMEOUT),
    })
    from redis import Redis

    Redis.from_url(env["REDIS_URL"]).flushdb()
    lines: List[str] = []
    make = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, encoding="utf-8", errors="replace", start_new_session=True)
    assert make.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in make.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT + 120
        while READY not in lines and make.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        output = "\n".join(lines)
        assert READY in lines, f"no ready line; make run said:\n{output[-4000:]}"
        ready_at = lines.index(READY)
        block = lines[ready_at:ready_at + 8]

        # The order an operator sees: the model check, then the processes starting, then ready once.
        model_line = next(i for i, line in enumerate(lines) if "model up to date" in line or "training" in line)
        rasa_up = next(i for i, line in enumerate(lines) if "Rasa server is up and running" in line)
        console_up = next(i for i, line in enumerate(lines) if "console ready" in line)
        assert model_line < rasa_up < ready_at and console_up < ready_at
        assert lines.count(READY) == 1
        assert [line for line in lines if THIRD_PARTY_WARNING.search(line)] == []

        # Every URL printed answers now, and the printed login is the environment's and works.
        urls = re.findall(r"http://localhost:\d+\S*", "\n".join(block))
        assert len(urls) == 5, block
        for url in urls:
            if url.endswith("/webhooks/wechat/webhook"):
                continue  # answers only WeChat's signed GET
            answer = httpx.get(url, timeout=10, follow_redirects=True)
            assert answer.status_code in (200, 405), (url, answer.status_code)
        assert f"login: admin / {password}" in "\n".join(block)
        console = f"http://localhost:{ports['CONSOLE_PORT']}"
        assert httpx.post(f"{console}/api/login", json={"username": "admin", "password": password}).status_code == 200
        refused = httpx.post(f"{console}/api/login", json={"username": "admin", "password": "from-the-file-1234"})
        assert refused.status_code == 401
    finally:
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    reader.join(timeout=10)
