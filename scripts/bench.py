"""HeatDesk benchmark (issue 7, part 1): `make bench` prints a table and writes var/bench.json.

Run by the service environment (`.venv/svc/bin/python scripts/bench.py`). It starts its
own stack from the Procfile (scripts/stack.py: free ports, its own Redis database and
SQLite files, fixed HEATING_TODAY) and, beside it, a bare `rasa run` of the same model
(Rasa's plain `rest:` channel, in-memory tracker and lock store, only the action
endpoint), then measures on loopback only, every phase bounded in count and time:

* NLU: `POST /model/parse` latency for messages drawn from tests/data/nlu_heldout, and
  the emotion detector's cost per message (scripts/bench_emotion.py in the Rasa env);
* turns through the REST channel at 1, 10 and 50 concurrent users, (a) a plain reply
  (你好) and (b) a balance turn (action server + billing API), full stack and bare Rasa
  interleaved point by point, with the full/bare ratios;
* the late-fee CLI batch (scripts/bench_late_fee.py) and the billing API's requests/s;
* RSS of every process (with its children) and the cold start of the whole stack.

The driver is asyncio + httpx: each simulated user sends its next message as soon as it
has the answer to the previous one (closed loop), so throughput is turns/s at that
concurrency and latency includes queueing inside the server.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench_emotion import summary_ms  # noqa: E402
from scripts.stack import ALL, Stack, free_port  # noqa: E402

RASA_PYTHON = ROOT / ".venv" / "rasa" / "bin" / "python"
RASA_BIN = ROOT / ".venv" / "rasa" / "bin" / "rasa"
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout"
DEFAULT_OUT = ROOT / "var" / "bench.json"

# The tests use Redis db 9 (HEATDESK_TEST_REDIS_DB), the WeChat e2e 11, the console tests 15;
# the bench flushes its own database only.
BENCH_REDIS_DB = int(os.environ.get("HEATDESK_BENCH_REDIS_DB", "12"))

# Seed account of tests/data/billing_seed.json (DESIGN.md's example): 未交 1509.00 at 2025-02-15.
ACCOUNT_NO, PHONE_TAIL, BALANCE_MARK = "2024000001", "5678", "1509.00"
PLAIN_TEXT, PLAIN_MARK = "你好", "您好"
BALANCE_TEXT = "我家欠多少暖气费"
APOLOGY_MARK = "系统开小差"

GOALS = {"plain": 1.2, "balance": 1.3}  # issue 12: full ÷ bare mean latency
#: Identity checks at once per load point: below `identity.account_ceiling` (10) of config/city.yml.
SETUP_CONCURRENCY = 4


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Profile:
    """How much to measure; `smoke` only proves the driver still works end to end."""

    users: Sequence[int] = (1, 10, 50)
    rounds: int = 3  # per point, full and bare take turns this many times (who starts alternates)
    round_seconds: float = 4.0  # each server runs this long per round…
    max_round_seconds: float = 10.0  # …or up to this, so that 50 users go round ~3 times (see `round_length`)
    turns_per_conversation: int = 10  # then a simulated user moves on to a fresh conversation
    parse_messages: int = 300
    emotion_messages: int = 300
    billing_requests: int = 3000
    billing_seconds: float = 10.0
    billing_concurrency: int = 10
    late_fee_lines: int = 100_000
    reminder_households: int = 100_000
    budget_seconds: float = 540.0  # the whole run, start-up included (issue: under 10 minutes)


PROFILES = {
    "full": Profile(),
    "smoke": Profile(
        users=(1, 2),
        rounds=2,
        round_seconds=0.5,
        max_round_seconds=1.0,
        turns_per_conversation=3,
        parse_messages=5,
        emotion_messages=5,
        billing_requests=20,
        billing_seconds=2.0,
        billing_concurrency=2,
        late_fee_lines=200,
        reminder_households=500,
        budget_seconds=400.0,
    ),
}


# ----------------------------------------------------------------------------- statistics


def latency_summary(seconds: Sequence[float]) -> Dict[str, Optional[float]]:
    """p50/p95/p99/mean in milliseconds (the same statistics as scripts/bench_emotion.py)."""
    return summary_ms(seconds)


def ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


# ----------------------------------------------------------------------------- machine and inputs


RUNTIME_PATHS = ["bot", "connectors", "actions", "billing_client", "billing_service", "console", "heatdesk_contract",
                 "config.yml", "domain.yml", "endpoints.yml", "credentials.yml", "Procfile", "config"]


def code_version() -> Dict[str, Any]:
    """The commit measured, and the runtime files that differ from it (the tree is shared)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", *RUNTIME_PATHS).splitlines() if line]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted_runtime_files": changed}


def machine_info() -> Dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python_driver": platform.python_version(),
        "loadavg_start": list(os.getloadavg()),
    }


_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def heldout_texts(count: int, seed: int = 7) -> List[str]:
    """`count` texts from the held-out NLU files (entity markup removed), seeded, cycling if needed."""
    texts: List[str] = []
    for path in sorted(HELDOUT.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []):
            examples = block.get("examples", [])
            if isinstance(examples, str):  # the plain "- text" list form
                examples = [{"text": line.lstrip("- ").strip()} for line in examples.splitlines() if line.strip()]
            for example in examples:
                text = example.get("text") if isinstance(example, dict) else str(example)
                if text:
                    texts.append(_MARKUP.sub(r"\1", str(text)).strip())
    if not texts:
        raise RuntimeError(f"no held-out messages under {HELDOUT}")
    rng = random.Random(seed)
    drawn: List[str] = []
    while len(drawn) < count:
        batch = list(texts)
        rng.shuffle(batch)
        drawn.extend(batch)
    return drawn[:count]


# ----------------------------------------------------------------------------- processes


def _children() -> Dict[int, List[int]]:
    tree: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_tree(pid: int) -> Dict[str, Any]:
    """VmRSS (and VmHWM, the peak) of `pid` plus all its descendants, in MiB."""
    tree = _children()
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(tree.get(current, []))
    rss = sum(_status_kib(p, "VmRSS") for p in pids)
    hwm = sum(_status_kib(p, "VmHWM") for p in pids)
    return {"rss_mib": round(rss / 1024, 1), "peak_mib": round(hwm / 1024, 1), "processes": len(pids)}


class HealthWatcher(threading.Thread):
    """Polls health URLs from a start time and notes when each first answers 200."""

    def __init__(self, urls: Dict[str, str], started: float, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.urls, self.started, self.interval = urls, started, interval
        self.green: Dict[str, float] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=2.0) as client:
            while not self._halt.is_set() and len(self.green) < len(self.urls):
                for name, url in self.urls.items():
                    if name in self.green:
                        continue
                    try:
                        if client.get(url).status_code == 200:
                            self.green[name] = round(time.perf_counter() - self.started, 2)
                    except httpx.HTTPError:
                        pass
                self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


class BareRasa:
    """`rasa run` of the same model with Rasa's own `rest:` channel and in-memory stores."""

    def __init__(self, stack: Stack, model: Path) -> None:
        self.stack = stack
        self.model = model
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        self.dir = Path(tempfile.mkdtemp(prefix="bare-rasa-", dir=stack.workdir))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        credentials = self.dir / "credentials.yml"
        credentials.write_text("rest:\n", encoding="utf-8")
        endpoints = self.dir / "endpoints.yml"
        endpoints.write_text(
            # the same URL form and token header as endpoints.yml (the action server refuses calls
            # without it), so only the channel and the stores differ
            f"action_endpoint:\n  url: http://localhost:{self.stack.env['ACTION_PORT']}/webhook\n"
            "  headers:\n    X-Action-Token: ${ACTION_SERVER_TOKEN}\n",
            encoding="utf-8",
        )
        command = [
            str(RASA_BIN), "run", "--model", str(self.model),
            "--enable-api", "--auth-token", self.stack.env["RASA_TOKEN"],
            "--credentials", str(credentials), "--endpoints", str(endpoints),
            "--port", str(self.port), "--cors", "*",
        ]
        log = open(self.dir / "rasa.log", "ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**self.stack.env, "RASA_PORT": str(self.port)},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"bare rasa exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/webhooks/rest/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"bare rasa not healthy after {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        path = self.dir / "rasa.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


# ----------------------------------------------------------------------------- load driver


@dataclass
class TurnStats:
    latencies: List[float] = field(default_factory=list)
    failed: int = 0  # transport error or non-200
    unexpected: int = 0  # 200 but not the expected answer (apology, identity question, empty, …)
    samples: List[str] = field(default_factory=list)

    def note(self, sample: str) -> None:
        if len(self.samples) < 3:
            self.samples.append(sample[:200])


async def say(client: httpx.AsyncClient, base: str, sender: str, text: str) -> List[str]:
    answer = await client.post(base + "/webhooks/rest/webhook", json={"sender": sender, "message": text})
    answer.raise_for_status()
    return [str(item.get("text", "")) for item in answer.json()]


def expected(scenario: str, replies: List[str]) -> bool:
    joined = "\n".join(replies)
    if APOLOGY_MARK in joined:
        return False
    return (PLAIN_MARK if scenario == "plain" else BALANCE_MARK) in joined


async def setup_conversation(client: httpx.AsyncClient, base: str, scenario: str, sender: str) -> bool:
    """Unmeasured: a first 你好, or the identity check of a balance user (then `verified_account` is set)."""
    try:
        if scenario == "plain":
            return expected("plain", await say(client, base, sender, PLAIN_TEXT))
        await say(client, base, sender, "查欠费")
        return expected("balance", await say(client, base, sender, f"{ACCOUNT_NO} {PHONE_TAIL}"))
    except httpx.HTTPError:
        return False


class LoadPoint:
    """`users` closed-loop users of one scenario against one server, measured in timed rounds.

    Each user sends its next message as soon as the previous one is answered, and moves on
    to a fresh conversation every `per_conversation` turns: Rasa's cost per turn grows with
    the tracker's length and a resident's conversation is short, so both servers see
    conversations of the same lengths even when one of them answers more turns.

    A plain conversation needs no set-up: its first 你好 (which also starts Rasa's session)
    is measured like the others. A balance conversation needs the identity check first; those
    are done before the rounds (`conversations_per_user` of them per user, unmeasured), and
    should a user run out it does the next check within the round, unmeasured but taking
    server time (`inline_setups`).
    """

    def __init__(
        self, client: httpx.AsyncClient, base: str, scenario: str, users: int,
        conversations_per_user: int, per_conversation: int, tag: str,
    ) -> None:
        self.client, self.base, self.scenario, self.users = client, base, scenario, users
        self.text = PLAIN_TEXT if scenario == "plain" else BALANCE_TEXT
        self.needs_setup = scenario != "plain"
        self.per_conversation = max(1, per_conversation)
        self.tag = tag
        prepared = max(1, conversations_per_user) if self.needs_setup else 0
        self.senders: List[List[str]] = [[self._name(u, c) for c in range(prepared)] for u in range(users)]
        self.done = [0] * users  # turns per user so far
        self.stats = TurnStats()
        self.window_turns = 0  # turns answered before their round's deadline
        self.window_seconds = 0.0
        self.inline_setups = 0
        self.setup_failed = 0
        self.rounds: List[Dict[str, Any]] = []
        # Identity checks in flight count as failed tries until billing confirms them, and every
        # bench user checks the same account from the same address: more than the account's
        # ceiling at once (config/city.yml, `identity.account_ceiling`) cools the account down for
        # everyone, and every later balance turn gets the busy answer instead of the amounts.
        self.setup_gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    def _name(self, user: int, conversation: int) -> str:
        return f"bench-{self.tag}-{user}-{conversation}"

    async def setup(self) -> None:
        async def one(sender: str) -> bool:
            async with self.setup_gate:
                return await setup_conversation(self.client, self.base, self.scenario, sender)

        ready = await asyncio.gather(*(one(s) for senders in self.senders for s in senders))
        self.setup_failed += len(ready) - sum(ready)

    async def _sender(self, user: int) -> str:
        conversations = self.senders[user]
        index = self.done[user] // self.per_conversation
        while index >= len(conversations):
            sender = self._name(user, len(conversations))
            if self.needs_setup:
                self.inline_setups += 1
                async with self.setup_gate:
                    ready = await setup_conversation(self.client, self.base, self.scenario, sender)
                if not ready:
                    self.setup_failed += 1
            conversations.append(sender)
        return conversations[index]

    async def measure(self, seconds: float) -> None:
        """Every user talks until `seconds` have passed; a turn in flight then still completes.

        Throughput counts the turns answered within the window; latency counts every turn.
        """
        latencies: List[float] = []
        in_window = 0
        started = time.perf_counter()
        deadline = started + seconds

        async def user(index: int) -> None:
            nonlocal in_window
            while time.perf_counter() < deadline:
                sender = await self._sender(index)
                if time.perf_counter() >= deadline:
                    break
                self.done[index] += 1
                sent = time.perf_counter()
                try:
                    replies = await say(self.client, self.base, sender, self.text)
                except httpx.HTTPError as error:
                    self.stats.failed += 1
                    self.stats.note(f"{type(error).__name__}: {error}")
                    continue
                answered = time.perf_counter()
                latencies.append(answered - sent)
                if answered <= deadline:
                    in_window += 1
                if not expected(self.scenario, replies):
                    self.stats.unexpected += 1
                    self.stats.note(" / ".join(replies) or "(no reply)")

        await asyncio.gather(*(user(index) for index in range(self.users)))
        self.stats.latencies.extend(latencies)
        self.window_turns += in_window
        self.window_seconds += seconds
        self.rounds.append({
            "turns": len(latencies),
            "turns_per_s": round(in_window / seconds, 2),
            "p50_ms": latency_summary(latencies)["p50"],
            "drain_s": round(time.perf_counter() - deadline, 3),
        })

    def summary(self) -> Dict[str, Any]:
        return {
            "scenario": self.scenario,
            "users": self.users,
            "turns": len(self.stats.latencies),
            "conversations": sum(len(s) for s in self.senders),
            "inline_setups": self.inline_setups,
            "window_s": round(self.window_seconds, 3),
            "turns_per_s": round(self.window_turns / self.window_seconds, 2) if self.window_seconds else None,
            "latency_ms": latency_summary(self.stats.latencies),
            "failed": self.stats.failed,
            "unexpected": self.stats.unexpected,
            "setup_failed": self.setup_failed,
            "rounds": self.rounds,
            "samples": self.stats.samples,
        }


def round_length(profile: "Profile", users: int, single_turn_s: float) -> float:
    """Long enough for every user to go round about three times (steady state, not one burst).

    One server process answers one turn at a time, so with `users` waiting a user's turn
    comes back after about users × (one turn's time); 50 balance users need ~10 s per round.
    """
    return min(profile.max_round_seconds, max(profile.round_seconds, 3.0 * users * single_turn_s))


def conversations_needed(profile: "Profile", users: int, seconds: float, single_turn_s: float) -> int:
    """Balance conversations to prepare per user for `rounds` rounds of `seconds`.

    One user gets about 1 ÷ (one turn's time) turns per second; many users together ~1.1–1.3
    times that (Rasa, the action server, Redis and the driver overlap on two cores, but one
    Rasa process answers one turn at a time): reckon 1.5 times, and half as much again to spare.
    """
    total = 1.5 * profile.rounds * seconds * min(users, 1.5) / max(single_turn_s, 0.002)
    return min(200, int(total / users // profile.turns_per_conversation) + 1)


async def compare(
    targets: Dict[str, str], scenario: str, users: int, profile: "Profile", single_turn_s: float, tag: str,
) -> List[Dict[str, Any]]:
    """One point on every target: set-up, then `rounds` timed rounds each, taking turns.

    Who goes first alternates from round to round, so a change in the machine's background
    load hits every target about equally.
    """
    seconds = round_length(profile, users, single_turn_s)
    conversations = conversations_needed(profile, users, seconds, single_turn_s)
    limits = httpx.Limits(max_connections=users + 4, max_keepalive_connections=users + 4)
    clients = {name: httpx.AsyncClient(timeout=60.0, limits=limits) for name in targets}
    try:
        points = {
            name: LoadPoint(clients[name], base, scenario, users, conversations, profile.turns_per_conversation,
                            f"{tag}-{name}")
            for name, base in targets.items()
        }
        for point in points.values():
            await point.setup()
        names = list(targets)
        for index in range(profile.rounds):
            for name in names if index % 2 == 0 else names[::-1]:
                await points[name].measure(seconds)
        return [{**point.summary(), "stack": name, "round_s": seconds} for name, point in points.items()]
    finally:
        for client in clients.values():
            await client.aclose()


async def single_turn_seconds(base: str, scenario: str, turns: int = 5) -> float:
    """Warms a server up (the first TensorFlow calls are slow) and returns one turn's mean time."""
    async with httpx.AsyncClient(timeout=60.0) as client:
        sender = f"bench-warm-{scenario}-{os.getpid()}-{time.monotonic_ns()}"
        await setup_conversation(client, base, scenario, sender)
        text = PLAIN_TEXT if scenario == "plain" else BALANCE_TEXT
        durations = []
        for _ in range(turns):
            started = time.perf_counter()
            await say(client, base, sender, text)
            durations.append(time.perf_counter() - started)
    return sum(durations[1:]) / max(1, len(durations) - 1)


def point_seconds_estimate(profile: "Profile", users: int, single_turn_s: float, targets: int) -> float:
    """Rough wall time of one point: the timed rounds plus the set-up of its conversations."""
    seconds = round_length(profile, users, single_turn_s)
    setup = conversations_needed(profile, users, seconds, single_turn_s) * users * single_turn_s
    return targets * (profile.rounds * (seconds + users * single_turn_s) + setup)


async def turn_matrix(
    targets: Dict[str, str], users_levels: Sequence[int], profile: "Profile", budget: "Budget"
) -> tuple:
    """Every scenario × concurrency on every target; skips points the time budget has no room for."""
    points: List[Dict[str, Any]] = []
    skipped: List[str] = []
    single: Dict[str, float] = {}
    for scenario in ("plain", "balance"):
        # warm every target up the same way; size the rounds on the slowest single turn
        single[scenario] = max([await single_turn_seconds(base, scenario) for base in targets.values()])
    for scenario in ("plain", "balance"):
        for users in users_levels:
            label = f"{scenario}/{users}"
            # ~45 s stay for billing, the late-fee batch and stopping
            if budget.left() < point_seconds_estimate(profile, users, single[scenario], len(targets)) + 45:
                skipped.append(label)
                continue
            pair = await compare(targets, scenario, users, profile, single[scenario], f"{scenario}-{users}-{os.getpid()}")
            points.extend(pair)
            for point in pair:
                log(f"{label}/{point['stack']}: {point['turns']} turns, p50 {point['latency_ms']['p50']} ms, "
                    f"{point['turns_per_s']} turns/s")
    return points, skipped, single


async def parse_latency(base: str, token: str, texts: Sequence[str]) -> Dict[str, Any]:
    """One message at a time through `POST /model/parse` (HTTP included)."""
    durations: List[float] = []
    failed = missing_emotion = 0
    async with httpx.AsyncClient(timeout=30.0) as client:
        for text in texts[:5]:  # warm-up
            await client.post(f"{base}/model/parse", params={"token": token}, json={"text": text})
        for text in texts:
            started = time.perf_counter()
            try:
                answer = await client.post(f"{base}/model/parse", params={"token": token}, json={"text": text})
                answer.raise_for_status()
            except httpx.HTTPError:
                failed += 1
                continue
            durations.append(time.perf_counter() - started)
            if "emotion" not in answer.json():
                missing_emotion += 1
    return {"messages": len(durations), "failed": failed, "missing_emotion": missing_emotion,
            "latency_ms": latency_summary(durations)}


async def billing_rps(base: str, concurrency: int, requests: int, seconds: float) -> Dict[str, Any]:
    """GET /api/v1/accounts/{no} with `concurrency` clients, at most `requests` within `seconds`."""
    durations: List[float] = []
    failed = 0
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        url = f"{base}/api/v1/accounts/{ACCOUNT_NO}"
        for _ in range(3):
            await client.get(url)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal remaining, failed
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                started = time.perf_counter()
                try:
                    (await client.get(url)).raise_for_status()
                except httpx.HTTPError:
                    failed += 1
                    continue
                durations.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"concurrency": concurrency, "requests": len(durations), "failed": failed,
            "elapsed_s": round(elapsed, 3), "requests_per_s": round(len(durations) / elapsed, 1) if elapsed else None,
            "latency_ms": latency_summary(durations)}


def late_fee_batch(lines: int, workdir: Path) -> Dict[str, Any]:
    out = workdir / "bench_late_fee.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_late_fee.py"), "--lines", str(lines), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    if not out.exists():
        return {"ok": False, "error": (proc.stderr or proc.stdout)[-500:]}
    return json.loads(out.read_text(encoding="utf-8"))


def reminder_planning(households: int, workdir: Path, redis_url: str) -> Dict[str, Any]:
    """scripts/bench_reminders.py: planning a reminder campaign over `households` (goal < 30 s)."""
    out = workdir / "bench_reminders.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_reminders.py"), "--households", str(households),
         "--redis-url", redis_url, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    if not out.exists():
        return {"ok": False, "error": (proc.stderr or proc.stdout)[-500:]}
    return json.loads(out.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- the run


class Budget:
    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def start_emotion_helper(model: Path, workdir: Path) -> subprocess.Popen:
    """Loads the model now (while the bare server loads too); measures when it gets the messages."""
    return subprocess.Popen(
        [str(RASA_PYTHON), str(ROOT / "scripts" / "bench_emotion.py"), "--model", str(model)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(workdir / "bench_emotion.log", "ab"),
        text=True, start_new_session=True,
    )


def finish_emotion_helper(helper: subprocess.Popen, texts: List[str], timeout: float) -> Dict[str, Any]:
    try:
        stdout, _ = helper.communicate(json.dumps(texts, ensure_ascii=False), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(helper.pid, signal.SIGKILL)
        helper.wait(timeout=10)
        return {"ok": False, "error": f"no result within {timeout:.0f} s"}
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if helper.returncode != 0 or not lines:
        return {"ok": False, "error": f"exit {helper.returncode}"}
    return {"ok": True, **json.loads(lines[-1])}


def run(profile: Profile, out: Path, only_users: Optional[Sequence[int]] = None) -> Dict[str, Any]:
    budget = Budget(profile.budget_seconds)
    users_levels = list(only_users or profile.users)
    model = (ROOT / "var" / "models" / "current.tar.gz").resolve()
    if not model.exists():
        raise RuntimeError("no trained model: run `make train` (make bench does it)")
    result: Dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "model": model.name,
        "code": code_version(),
        "profile": {k: (list(v) if isinstance(v, tuple) else v) for k, v in profile.__dict__.items()},
        "notes": [],
    }
    stack = Stack.create(BENCH_REDIS_DB)
    stack.flush_redis()
    bare = BareRasa(stack, model)
    helper: Optional[subprocess.Popen] = None
    try:
        # 1. cold start: spawn every process, until every health check is green
        log("starting the stack (cold start) ...")
        started = time.perf_counter()
        watcher = HealthWatcher({name: stack.health_url(name) for name in ALL}, started)
        watcher.start()
        stack.start(ALL, timeout=max(60.0, min(300.0, budget.left() - 60)))
        cold = time.perf_counter() - started
        watcher.stop()
        for name in ALL:  # green between the watcher's last poll and stack.start's own check
            watcher.green.setdefault(name, round(cold, 2))
        result["cold_start"] = {"stack_s": round(cold, 2), "healthy_after_s": watcher.green}
        log(f"stack healthy after {cold:.1f} s")
        memory: Dict[str, Any] = {name: {"idle": rss_tree(stack.processes[name].pid)} for name in ALL}

        # 2. the bare server and the emotion helper load the model side by side (nothing is measured meanwhile)
        started = time.perf_counter()
        bare.spawn()
        helper = start_emotion_helper(model, stack.workdir)
        bare.wait_healthy(timeout=max(60.0, min(300.0, budget.left() - 60)))
        result["cold_start"]["bare_rasa_s"] = round(time.perf_counter() - started, 2)
        result["cold_start"]["bare_rasa_note"] = "loaded beside the emotion helper's model load"
        memory["rasa (bare)"] = {"idle": rss_tree(bare.process.pid)}  # type: ignore[union-attr]
        log(f"bare rasa healthy after {result['cold_start']['bare_rasa_s']} s")

        # 3. emotion detector, in-process (the helper waits for its messages until now)
        result["emotion"] = finish_emotion_helper(
            helper, heldout_texts(profile.emotion_messages), timeout=max(30.0, budget.left() - 30)
        )
        helper = None
        log(f"emotion: {result['emotion'].get('emotion_score_ms')}")

        # 4. NLU parse through the HTTP API of the full stack
        result["nlu_parse"] = asyncio.run(
            parse_latency(stack.url("rasa"), stack.env["RASA_TOKEN"], heldout_texts(profile.parse_messages))
        )
        log(f"parse: {result['nlu_parse']['latency_ms']}")

        # 5. turns: full and bare interleaved point by point, so both see the same background load
        targets = {"full": stack.url("rasa"), "bare": bare.url}
        points, skipped, single = asyncio.run(turn_matrix(targets, users_levels, profile, budget))
        result["single_turn_ms"] = {k: round(v * 1000, 1) for k, v in single.items()}
        result["turns"] = points
        result["ratios"] = ratios(points)
        if skipped:
            result["notes"].append(f"skipped for the time budget: {', '.join(skipped)}")
        for point in points:
            if point["inline_setups"]:
                result["notes"].append(
                    f"{point['scenario']}/{point['users']}/{point['stack']}: {point['inline_setups']} identity "
                    f"checks within the rounds (more turns than conversations prepared)"
                )
            errors = point["failed"] + point["unexpected"] + point["setup_failed"]
            if errors:
                result["notes"].append(
                    f"{point['scenario']}/{point['users']}/{point['stack']}: {errors} failed or wrong answers, "
                    f"e.g. {point['samples'][:1]}"
                )
        for name in ALL:
            memory[name]["after_load"] = rss_tree(stack.processes[name].pid)
        memory["rasa (bare)"]["after_load"] = rss_tree(bare.process.pid)  # type: ignore[union-attr]
        bare.stop()

        # 6. billing API and late-fee batch
        result["billing_api"] = asyncio.run(
            billing_rps(stack.url("billing"), profile.billing_concurrency, profile.billing_requests,
                        profile.billing_seconds)
        )
        log(f"billing: {result['billing_api']['requests_per_s']} req/s")
        result["late_fee_batch"] = late_fee_batch(profile.late_fee_lines, stack.workdir)
        log(f"late fee: {result['late_fee_batch'].get('lines_per_s')} lines/s")
        result["reminder_planning"] = reminder_planning(profile.reminder_households, stack.workdir,
                                                        stack.env["REDIS_URL"])
        log(f"reminder planning: {result['reminder_planning'].get('plan_s')} s "
            f"for {profile.reminder_households} households")
        memory["billing"]["after_load"] = rss_tree(stack.processes["billing"].pid)
        result["memory"] = memory
    finally:
        if helper is not None and helper.poll() is None:
            os.killpg(helper.pid, signal.SIGKILL)
            helper.wait(timeout=10)
        bare.stop()
        stack.stop_all()
        try:
            stack.flush_redis()  # the bench's own database only
        except Exception as error:  # noqa: BLE001 - the figures matter more than the clean-up
            log(f"could not empty Redis db {BENCH_REDIS_DB}: {error}")
    result["machine"]["loadavg_end"] = list(os.getloadavg())
    result["elapsed_s"] = round(budget.elapsed(), 1)
    result["ok"] = healthy(result)
    if result["ok"]:
        shutil.rmtree(stack.workdir, ignore_errors=True)  # logs are kept only when something failed
    else:
        result["notes"].append(f"process logs kept in {stack.workdir}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return result


def ratios(points: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """full ÷ bare per scenario and concurrency.

    The goal is judged on the mean latency: with a fixed number of closed-loop users the
    mean latency is users ÷ throughput (Little's law), so this one ratio is both "how much
    longer a resident waits on average" and "how much less the server can take". The p50
    and p95 ratios are shown too; at saturation they also depend on how fairly each server
    interleaves waiting requests, not only on how much work a turn costs.
    """
    by_key = {(p["scenario"], p["users"], p["stack"]): p for p in points}
    rows = []
    for (scenario, users, stack), full in by_key.items():
        bare = by_key.get((scenario, users, "bare"))
        if stack != "full" or bare is None:
            continue
        mean = ratio(full["latency_ms"]["mean"], bare["latency_ms"]["mean"])
        rows.append({
            "scenario": scenario,
            "users": users,
            "mean": mean,
            "p50": ratio(full["latency_ms"]["p50"], bare["latency_ms"]["p50"]),
            "p95": ratio(full["latency_ms"]["p95"], bare["latency_ms"]["p95"]),
            "throughput": ratio(bare["turns_per_s"], full["turns_per_s"]),
            "goal": GOALS[scenario],
            "meets_goal": mean is not None and mean <= GOALS[scenario],
        })
    return rows


def healthy(result: Dict[str, Any]) -> bool:
    """True when every measurement ran and the full stack never failed nor answered wrongly.

    Errors of the bare server are reported in the table and the notes, not held against the run.
    """
    points = result.get("turns", [])
    full = [p for p in points if p["stack"] == "full"]
    return bool(
        full
        and all(p["failed"] == 0 and p["unexpected"] == 0 and p["setup_failed"] == 0 for p in full)
        and result.get("nlu_parse", {}).get("failed", 1) == 0
        and result.get("emotion", {}).get("ok")
        and result.get("billing_api", {}).get("failed", 1) == 0
        and result.get("late_fee_batch", {}).get("ok")
        and result.get("reminder_planning", {}).get("ok")
    )


# ----------------------------------------------------------------------------- the table


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(result: Dict[str, Any]) -> str:
    """The result as Markdown tables (what docs/benchmarks.md pastes)."""
    m = result["machine"]
    out = [
        f"HeatDesk bench, {result['date']}, {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, "
        f"load average {m['loadavg_start'][0]:.2f} at start / {m.get('loadavg_end', [0])[0]:.2f} at end, "
        f"model {result['model']}, commit {result.get('code', {}).get('commit', '?')}"
        f"{' + uncommitted changes' if result.get('code', {}).get('uncommitted_runtime_files') else ''}, "
        f"run took {result.get('elapsed_s')} s",
        "",
    ]
    parse, emotion = result.get("nlu_parse", {}), result.get("emotion", {})
    out += ["| NLU | messages | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    if parse:
        lat = parse["latency_ms"]
        out.append(f"| `POST /model/parse` (HTTP, full stack) | {parse['messages']} | "
                   f"{_fmt(lat['p50'])} | {_fmt(lat['p95'])} | {_fmt(lat['p99'])} |")
    if emotion.get("ok"):
        for key, label in (("parse_in_process_ms", "whole NLU parse, in-process"),
                           ("emotion_score_ms", "`EmotionDetector.score`"),
                           ("emotion_classifier_ms", "  of which the classifier"),
                           ("emotion_lexicon_ms", "  of which anger lexicon")):
            lat = emotion[key]
            out.append(f"| {label} | {emotion['messages']} | {_fmt(lat['p50'], 2)} | "
                       f"{_fmt(lat['p95'], 2)} | {_fmt(lat['p99'], 2)} |")
        out.append("")
        out.append(f"Emotion detector: {emotion['emotion_share_of_parse'] * 100:.1f} % of the in-process parse time (means).")
    out.append("")
    out += ["| turn | users | stack | turns | mean ms | p50 ms | p95 ms | p99 ms | turns/s | errors |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in result.get("turns", []):
        lat = p["latency_ms"]
        errors = p["failed"] + p["unexpected"] + p["setup_failed"]
        out.append(f"| {p['scenario']} | {p['users']} | {p['stack']} | {p['turns']} | {_fmt(lat['mean'])} | "
                   f"{_fmt(lat['p50'])} | {_fmt(lat['p95'])} | {_fmt(lat['p99'])} | {_fmt(p['turns_per_s'])} | {errors} |")
    out.append("")
    out += ["| full ÷ bare | users | mean latency | p50 | p95 | throughput (bare ÷ full) | goal (mean) | met |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in result.get("ratios", []):
        out.append(f"| {r['scenario']} | {r['users']} | **{_fmt(r['mean'], 2)}×** | {_fmt(r['p50'], 2)}× | "
                   f"{_fmt(r['p95'], 2)}× | {_fmt(r['throughput'], 2)}× | ≤ {r['goal']}× | "
                   f"{'yes' if r['meets_goal'] else 'no'} |")
    out.append("")
    billing, late = result.get("billing_api", {}), result.get("late_fee_batch", {})
    out += ["| throughput | figure |", "|---|---:|"]
    if late:
        out.append(f"| late-fee CLI batch ({late.get('lines')} lines, one core) | {_fmt(late.get('lines_per_s'))} lines/s |")
    plan = result.get("reminder_planning", {})
    if plan.get("plan_s") is not None:
        goal = ""  # issue 17's goal is for a city of 100 000 households, not the smoke profile's 500
        if plan["households"] >= 100_000:
            goal = f"; goal < 30 s: {'met' if plan.get('meets_goal') else 'not met'}"
        out.append(f"| reminder campaign planning, {plan['households']} households ({plan['targeted']} targeted; "
                   f"CPU: console {plan['cpu_s']['console']} s, billing {plan['cpu_s']['billing_service']} s{goal}) | "
                   f"{_fmt(plan['plan_s'])} s |")
    if billing:
        out.append(f"| billing API `GET /api/v1/accounts/{{no}}`, {billing['concurrency']} concurrent "
                   f"(p50 {_fmt(billing['latency_ms']['p50'])} ms) | {_fmt(billing['requests_per_s'])} req/s |")
    out.append("")
    out += ["| process | RSS idle MiB | RSS after load MiB | peak MiB |", "|---|---:|---:|---:|"]
    for name, snap in result.get("memory", {}).items():
        after = snap.get("after_load", {})
        out.append(f"| {name} | {_fmt(snap['idle']['rss_mib'])} | {_fmt(after.get('rss_mib'))} | {_fmt(after.get('peak_mib'))} |")
    out.append("")
    cold = result.get("cold_start", {})
    if cold:
        parts = ", ".join(f"{k} {v} s" for k, v in sorted(cold.get("healthy_after_s", {}).items(), key=lambda kv: kv[1]))
        out.append(f"Cold start of the whole stack (spawn → every health check green): {cold['stack_s']} s ({parts}); "
                   f"bare rasa {cold.get('bare_rasa_s')} s ({cold.get('bare_rasa_note', '')}).")
    for note in result.get("notes", []):
        out.append(f"Note: {note}")
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full",
                        help="full (make bench) or smoke (tiny counts: proves the driver works)")
    parser.add_argument("--users", type=lambda s: [int(x) for x in s.split(",")],
                        help="concurrency levels, e.g. 1,10,50 (default: the profile's)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result (default var/bench.json)")
    args = parser.parse_args(argv)
    result = run(PROFILES[args.profile], args.out, args.users)
    print(table(result))
    print(f"\nwritten to {args.out}")
    if not result["ok"]:
        print("some measurements failed or got wrong answers: see the JSON", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
