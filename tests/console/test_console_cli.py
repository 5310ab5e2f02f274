"""python -m console.cli: accounts from the shell, against the same database the console uses."""

from __future__ import annotations

import subprocess
import sys
import uuid

from console_helpers import ROOT, ConsoleServer


def _cli(server: ConsoleServer, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], input=stdin, capture_output=True, text=True,
        cwd=ROOT, env=server.env, timeout=60,
    )


def test_add_agent_login_and_deactivate(server: ConsoleServer) -> None:
    name = "cli" + uuid.uuid4().hex[:8]
    password = "Cli-pass-" + uuid.uuid4().hex[:6]
    added = _cli(server, "add-agent", name, "--role", "supervisor", "--display-name", "客服主管", "--password-stdin",
                 stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    assert password not in added.stdout + added.stderr
    client = server.login(name, password)
    with client:
        me = client.get("/api/me").json()
        assert me["role"] == "supervisor" and me["display_name"] == "客服主管"
        again = _cli(server, "add-agent", name, "--password-stdin", stdin=password + "\n")
        assert again.returncode == 1 and "already exists" in again.stderr
        gone = _cli(server, "deactivate", name)
        assert gone.returncode == 0, gone.stderr
        assert client.get("/api/me").status_code == 401  # the session stops at once
    listed = _cli(server, "list")
    assert any(line.split("\t")[1:4] == [name, "supervisor", "inactive"] for line in listed.stdout.splitlines())


def test_cli_refuses_bad_input_without_a_traceback(server: ConsoleServer) -> None:
    short = _cli(server, "add-agent", "cli" + uuid.uuid4().hex[:6], "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 8" in short.stderr and "Traceback" not in short.stderr
    bad_name = _cli(server, "add-agent", "名字", "--password-stdin", stdin="long-enough-1\n")
    assert bad_name.returncode == 1 and "Traceback" not in bad_name.stderr
    no_tty = _cli(server, "add-agent", "cli" + uuid.uuid4().hex[:6])
    assert no_tty.returncode == 1 and "--password-stdin" in no_tty.stderr
    missing = _cli(server, "deactivate", "nobody-" + uuid.uuid4().hex[:6])
    assert missing.returncode == 1 and "no agent" in missing.stderr
    role = _cli(server, "add-agent", "x" + uuid.uuid4().hex[:6], "--role", "boss")
    assert role.returncode == 2
