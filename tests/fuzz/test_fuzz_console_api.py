"""schemathesis against the running console's /openapi.json, logged in, in the real stack
(real Rasa trackers through nginx, real billing, SQLite, the cluster's Redis): no 5xx, no hang.

Bounded: at most ten examples per operation (about 900 requests, ~10 s), a request timeout, and a
hard limit on the whole run. (`--max-time` is not a limit in schemathesis 4: fuzzing repeats
until that time is spent.)
tests/console/test_console_schemathesis.py fuzzes a console of its own more deeply; this run
checks the deployed wiring. The fuzzer logs in as a supervisor of its own; endpoints that
would end its session or never return are left out (their own tests cover them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.scale.cluster import ADMIN, Cluster

SESSION_COOKIE = "heatdesk_session"  # console/security.py
EXCLUDED_PATHS = ("/api/events", "/api/logout", "/api/me/password", "/api/agents/{agent_id}/password")
TIME_LIMIT_SECONDS = 180


def test_the_console_api_never_fails_on_generated_requests(cluster: Cluster, tmp_path: Path) -> None:
    username, password = f"fuzz{uuid.uuid4().hex[:10]}", "pw-" + uuid.uuid4().hex
    with httpx.Client(base_url=cluster.console_url, timeout=20) as admin:
        admin.post("/api/login", json=ADMIN).raise_for_status()
        created = admin.post("/api/agents", json={"username": username, "password": password,
                                                   "role": "supervisor", "display_name": "模糊测试"})
        assert created.status_code == 201, created.text
    fuzzer = httpx.Client(base_url=cluster.console_url, timeout=20)
    fuzzer.post("/api/login", json={"username": username, "password": password}).raise_for_status()
    cookie = fuzzer.cookies.get(SESSION_COOKIE)
    assert cookie

    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis CLI not installed in this environment"
    log_before = len(cluster.log("console"))
    command = [
        st, "run", f"{cluster.console_url}/openapi.json",
        "--checks", "not_a_server_error",
        "--max-response-time", "10",
        "--max-examples", "10",
        "--phases", "examples,coverage,fuzzing",
        "--workers", "1",
        "--seed", "20250215",
        "--request-timeout", "15",
        "--generation-database", "none",
        "--header", f"Cookie: {SESSION_COOKIE}={cookie}",
        "--no-color",
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    try:
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                                timeout=TIME_LIMIT_SECONDS)
    finally:
        # Whatever the fuzzer switched off (it may deactivate other accounts), switch it on again.
        for agent in fuzzer.get("/api/agents").json():
            if isinstance(agent, dict) and agent.get("active") is False:
                fuzzer.post(f"/api/agents/{agent['id']}/activate")
        fuzzer.close()
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    new_log = cluster.log("console")[log_before:]
    assert "Traceback" not in new_log and "Internal Server Error" not in new_log, new_log[-3000:]
    assert httpx.get(cluster.console_url + "/health", timeout=10).status_code == 200


def test_a_transfer_to_an_impossible_agent_id_is_refused_not_a_crash(cluster: Cluster) -> None:
    """Found by the run above: an agent id beyond SQL's integers made the transfer a 500."""
    with cluster.agent_client() as agent:
        answer = agent.post("/api/tickets/GD202502150001/transfer", json={"agent_id": 17568438284095116541952})
        assert answer.status_code in (400, 422), answer.text
