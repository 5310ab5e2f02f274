"""`make run`'s last step: every Procfile process under honcho, presented for an operator.

* Settings: the environment wins; `var/demo.env` (generated demo secrets) only fills what is unset.
* Output: each process's lines as honcho prints them, minus the warnings that third-party
  packages print (a `…/site-packages/…: SomeWarning:` block); warnings from our own code stay.
* One "HeatDesk is ready" block with the URLs and the login, printed only once every process
  answers its health check; if one exits or stays unhealthy, an error naming it with its last
  log lines, and everything is stopped (exit status 1).

Standard library only: it runs with the service venv's Python before anything else is up.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Deque, Dict, Iterable, List, Mapping, Optional, TextIO

ROOT = Path(__file__).resolve().parent.parent
DEMO_ENV_KEYS = (
    "CONSOLE_ADMIN_USER", "CONSOLE_ADMIN_PASSWORD", "RASA_TOKEN", "ACTION_SERVER_TOKEN", "CONSOLE_SESSION_SECRET"
)
#: process → (port variable, health path); scripts/stack.py (bench, tests) uses the same checks.
HEALTH = {
    "billing": ("BILLING_PORT", "/health"),
    "actions": ("ACTION_PORT", "/health"),
    "rasa": ("RASA_PORT", "/webhooks/rest/"),
    "console": ("CONSOLE_PORT", "/health"),
}
TAIL_LINES = 30
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: honcho's prefix: "10:02:03 rasa.1    | "
HONCHO_LINE = re.compile(r"^(?:\d\d:\d\d:\d\d )?(?P<name>[a-z_]+)\.\d+\s*\| ?(?P<text>.*)$")
WARNING_HEADER = re.compile(r"^(?P<path>\S.*?\.py):\d+: (?P<category>\w*Warning): ")
THIRD_PARTY = ("/site-packages/", "/dist-packages/", "/lib/python3")
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d|INFO|WARNING|ERROR|DEBUG|CRITICAL)")


def load_demo_env(path: Path, environ: Mapping[str, str]) -> Dict[str, str]:
    """The settings `make run` uses: the environment first, the demo file only for what is unset."""
    merged = dict(environ)
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            key = key.strip()
            if sep and key and not key.startswith("#") and not merged.get(key):
                merged[key] = value.strip()
    return merged


class WarningFilter:
    """Drops third-party warning blocks from one process's output, line by line.

    A block is the `path.py:N: Category: message` header, any continuation of the message, and
    the indented source line Python prints under it. Our own files' warnings pass.
    """

    def __init__(self) -> None:
        self.skipping = False

    def keep(self, line: str) -> bool:
        plain = ANSI.sub("", line)
        header = WARNING_HEADER.match(plain)
        if header:
            path = header.group("path")
            self.skipping = any(part in path for part in THIRD_PARTY)
            return not self.skipping
        if not self.skipping:
            return True
        if plain.startswith("  "):  # the source line closes the block
            self.skipping = False
            return False
        if not plain.strip() or LOG_LINE.match(plain) or HONCHO_LINE.match(plain):
            self.skipping = False
            return bool(plain.strip())
        return False  # the message's own continuation lines


def health_url(name: str, env: Mapping[str, str]) -> str:
    port_key, path = HEALTH[name]
    return f"http://127.0.0.1:{env[port_key]}{path}"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own local URL)
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ready_block(env: Mapping[str, str]) -> List[str]:
    console = f"http://localhost:{env['CONSOLE_PORT']}"
    rasa = f"http://localhost:{env['RASA_PORT']}"
    return [
        "",
        "HeatDesk is ready:",
        f"  widget demo page : {console}/",
        f"  agent console    : {console}/console   (login: {env.get('CONSOLE_ADMIN_USER', '')} / "
        f"{env.get('CONSOLE_ADMIN_PASSWORD', '')})",
        f"  REST channel     : {rasa}/webhooks/rest/webhook",
        f"  WeChat webhook   : {rasa}/webhooks/wechat/webhook",
        f"  billing API docs : http://localhost:{env['BILLING_PORT']}/docs",
        "Stop with Ctrl-C.",
        "",
    ]


class Supervisor:
    """honcho as a child; its output filtered and remembered per process; health polled here."""

    def __init__(self, env: Dict[str, str], out: TextIO, timeout: float) -> None:
        self.env = env
        self.out = out
        self.timeout = timeout
        self.tails: Dict[str, Deque[str]] = collections.defaultdict(lambda: collections.deque(maxlen=TAIL_LINES))
        self.filters: Dict[str, WarningFilter] = collections.defaultdict(WarningFilter)
        self.exited: Optional[str] = None
        self.lock = threading.Lock()
        self.proc: Optional[subprocess.Popen[str]] = None

    def say(self, line: str) -> None:
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def pump(self, stream: Iterable[str]) -> None:
        for raw in stream:
            line = raw.rstrip("\n")
            match = HONCHO_LINE.match(ANSI.sub("", line))
            name = match.group("name") if match else "system"
            text = match.group("text") if match else line
            if name == "system":
                stopped = re.search(r"(\w+)\.\d+ stopped", text)
                if stopped and self.exited is None:
                    self.exited = stopped.group(1)
            if not self.filters[name].keep(text):
                continue
            self.tails[name].append(text)
            self.say(line)

    def start(self, procfile: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", str(procfile), "--no-colour"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            encoding="utf-8", errors="replace", bufsize=1, start_new_session=True,
        )
        assert self.proc.stdout is not None
        threading.Thread(target=self.pump, args=(self.proc.stdout,), daemon=True).start()

    def failure(self, name: str, reason: str) -> int:
        self.say("")
        self.say(f"error: HeatDesk did not start: the {name} process {reason}. Its last log lines:")
        for text in list(self.tails.get(name, [])) or ["(no output)"]:
            self.say(f"  {name} | {text}")
        self.say("Stopping the other processes.")
        self.stop()
        return 1

    def wait_ready(self, names: List[str]) -> int:
        pending = list(names)
        deadline = time.monotonic() + self.timeout
        while pending:
            if self.exited or (self.proc is not None and self.proc.poll() is not None):
                return self.failure(self.exited or "supervisor (honcho)", "exited")
            pending = [name for name in pending if not answers(health_url(name, self.env))]
            if pending and time.monotonic() > deadline:
                return self.failure(pending[0], f"did not pass its health check within {int(self.timeout)} s")
            if pending:
                time.sleep(1)
        for line in ready_block(self.env):
            self.say(line)
        return 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-env", type=Path, default=ROOT / "var" / "demo.env")
    parser.add_argument("--procfile", type=Path, default=ROOT / "Procfile")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("HEATDESK_START_TIMEOUT", "300")))
    args = parser.parse_args(argv)
    env = load_demo_env(args.demo_env, os.environ)
    missing = [key for key in ("RASA_PORT", "ACTION_PORT", "CONSOLE_PORT", "BILLING_PORT") if not env.get(key)]
    if missing:
        print(f"error: {', '.join(missing)} not set (make run sets the defaults)", file=sys.stderr)
        return 2
    supervisor = Supervisor(env, sys.stdout, args.timeout)
    signal.signal(signal.SIGTERM, lambda *_: (supervisor.stop(), sys.exit(0)))
    supervisor.say("HeatDesk is starting (the URLs follow once every process answers its health check) ...")
    supervisor.start(args.procfile)
    try:
        status = supervisor.wait_ready(list(HEALTH))
        if status:
            return status
        assert supervisor.proc is not None
        while supervisor.proc.poll() is None and not supervisor.exited:
            time.sleep(0.5)
        if supervisor.exited:
            return supervisor.failure(supervisor.exited, "exited")
        return supervisor.proc.returncode or 0
    except KeyboardInterrupt:
        supervisor.stop()
        return 0


if __name__ == "__main__":
    sys.exit(main())
