"""Soak: many short conversations, then Redis keys and memory must fall back to a plateau.

Each conversation takes the path a REST message takes inside a Rasa server, through the real code:
the handoff router (owner lookup, daily conversation counter), the conversation lock
(`HeatDeskLockStore`), the tracker (`HeatDeskTrackerStore`, expiry `TRACKER_EXPIRY_SECONDS`) with
the resident's message and the bot's answer; every tenth conversation also gets an agent reply in
its REST inbox (`deliver_to_inbox`, expiry `REST_INBOX_TTL_SECONDS`) that nobody collects. NLU and
policies are left out: they keep nothing in Redis. With `--rest URL` the conversations are sent to
a running REST channel instead (then the Rasa server's own settings decide the expiries).

Runs on a redis-server of its own (free port, under var/soak) unless --redis-url is given, with short
expiries, and prints the key count and memory while it runs and while the expiries pass:

    .venv/rasa/bin/python scripts/soak.py --conversations 10000 --ttl 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server without persistence (what is measured is only this run's keys)."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server missing: run scripts/ensure_redis.sh")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    return process, f"redis://127.0.0.1:{port}/0"


def sample(client: Any, started: float, label: str) -> Dict[str, Any]:
    info = client.info("memory")
    row = {"t": round(time.monotonic() - started, 1), "phase": label, "keys": client.dbsize(),
           "used_memory": int(info["used_memory"]), "used_memory_human": info["used_memory_human"]}
    print(json.dumps(row), flush=True)
    return row


async def conversation_direct(index: int, stores: Dict[str, Any]) -> None:
    """One short REST conversation through the router, the lock store and the tracker store."""
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from connectors.rest import deliver_to_inbox

    sender = f"rest:soak-{index}"
    domain = stores["domain"]

    async def handle(message: UserMessage) -> None:
        async with stores["locks"].lock(message.sender_id):
            tracker = await stores["trackers"].retrieve(message.sender_id)
            if tracker is None:
                tracker = DialogueStateTracker(message.sender_id, domain.slots)
            tracker.update(UserUttered(message.text, intent={"name": "greet", "confidence": 0.99}))
            tracker.update(ActionExecuted("utter_greet"))
            tracker.update(BotUttered("您好，我是供热智能客服，请问有什么可以帮您？"))
            tracker.update(ActionExecuted("action_listen"))
            await stores["trackers"].save(tracker)

    await stores["router"].route(UserMessage("你好", sender_id=sender, input_channel="rest"), handle)
    if index % 10 == 0:
        await deliver_to_inbox(sender, "您好，我是客服小王。", {"agent_name": "小王", "message_id": f"soak{index}"})


def conversation_rest(url: str, index: int, client: Any) -> None:
    answer = client.post(url, json={"sender": f"soak-{index}", "message": "你好"}, timeout=60)
    answer.raise_for_status()


async def run(args: argparse.Namespace, redis_url: str) -> List[Dict[str, Any]]:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    started = time.monotonic()
    rows = [sample(client, started, "before")]
    stores: Dict[str, Any] = {}
    http: Any = None
    if args.rest:
        import httpx

        http = httpx.Client()
    else:
        from rasa.shared.core.domain import Domain

        from bot.handoff.router import HandoffRouter
        from bot.stores.lock import HeatDeskLockStore
        from bot.stores.tracker import HeatDeskTrackerStore

        domain = Domain.load(str(ROOT / "domain.yml"))
        stores = {"domain": domain, "trackers": HeatDeskTrackerStore(domain), "locks": HeatDeskLockStore(),
                  "router": HandoffRouter()}
    for index in range(args.conversations):
        if http is not None:
            await asyncio.to_thread(conversation_rest, args.rest, index, http)
        else:
            await conversation_direct(index, stores)
        if (index + 1) % max(1, args.conversations // 10) == 0:
            rows.append(sample(client, started, f"after {index + 1} conversations"))
    finished = time.monotonic()
    # Wait until the expiries have passed and the key count stops falling.
    deadline = finished + args.ttl + args.settle
    while time.monotonic() < deadline:
        await asyncio.sleep(args.every)
        rows.append(sample(client, started, "idle"))
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--ttl", type=int, default=60, help="TRACKER_EXPIRY_SECONDS and REST_INBOX_TTL_SECONDS")
    parser.add_argument("--settle", type=int, default=30, help="seconds to keep sampling after the expiries")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples while idle")
    parser.add_argument("--redis-url", default="", help="an existing Redis (default: a private redis-server)")
    parser.add_argument("--rest", default="", help="drive this REST webhook URL instead of the code paths")
    parser.add_argument("--json", default="", help="write the samples to this file")
    args = parser.parse_args(argv)
    if args.conversations < 1 or args.ttl < 1:
        parser.error("--conversations and --ttl must be positive")

    process = None
    workdir = Path(tempfile.mkdtemp(prefix="soak-", dir=ROOT / "var")) if (ROOT / "var").is_dir() else Path(
        tempfile.mkdtemp(prefix="heatdesk-soak-"))
    redis_url = args.redis_url
    if not redis_url and not args.rest:
        process, redis_url = start_redis(workdir)
        time.sleep(0.5)
    elif args.rest and not redis_url:
        parser.error("--rest needs --redis-url (the Redis of the Rasa server under test)")
    # bot.settings reads the environment once: set it before the first import.
    os.environ.update({"REDIS_URL": redis_url, "TRACKER_EXPIRY_SECONDS": str(args.ttl),
                       "REST_INBOX_TTL_SECONDS": str(args.ttl)})
    sys.path.insert(0, str(ROOT))
    try:
        rows = asyncio.run(run(args, redis_url))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    peak = max(rows, key=lambda row: row["keys"])
    end = rows[-1]
    summary = {"conversations": args.conversations, "ttl_seconds": args.ttl, "before": rows[0], "peak": peak,
               "end": end}
    print(json.dumps(summary), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "samples": rows}, indent=1))
    # A plateau: after the expiries, the keys are back near where they started (the day's counter
    # and the like may remain), whatever the number of conversations.
    return 0 if end["keys"] <= rows[0]["keys"] + 10 else 1


if __name__ == "__main__":
    sys.exit(main())
