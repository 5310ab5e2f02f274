"""Benchmark planning a reminder campaign over N households (issue 17: 100 000 in under 30 s).

Builds a billing database of N accounts (one or two bills each, some paid, some partly paid),
starts the reference billing service on it, binds a third of the households to WeChat OpenIDs
in Redis, then times the console's real planner (console.reminders.service.plan_campaign): the
bulk account pages from the billing API, the late fee of every bill with billing_client's rule,
the channel snapshot from Redis and the per-household rows in SQL. Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert  # noqa: E402

from billing_service.db import upgrade_to_head  # noqa: E402
from billing_service.models import Account, Bill, Payment  # noqa: E402
from heatdesk_contract.keys import DEFAULT as KEYS  # noqa: E402
from scripts.stack import free_port, wait_until  # noqa: E402

DISTRICTS = ("南岗区", "道里区", "道外区", "香坊区", "松北区", "平房区")
TODAY = "2025-02-15"
BOUND_SHARE = 3
GOAL_SECONDS = 30.0  # every third household is bound to a WeChat OpenID


def build_billing_db(path: Path, households: int, seed: int) -> None:
    """Accounts, bills and payments written with bulk inserts (the seed loader is for small files)."""
    rng = random.Random(seed)
    engine = create_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    accounts, bills, payments = [], [], []
    bill_id = 0
    for index in range(households):
        account_no = f"{2050000000 + index}"
        area = rng.randint(4000, 15000) / 100
        accounts.append({"account_no": account_no, "holder": "张三", "phone": "13800005678",
                         "address": f"测试小区{index}号", "district": DISTRICTS[index % len(DISTRICTS)],
                         "area_m2": dt_money(area)})
        seasons = [("2024-2025", dt.date(2024, 12, 31))]
        if rng.random() < 0.3:
            seasons.insert(0, ("2023-2024", dt.date(2023, 12, 31)))
        for season, due in seasons:
            bill_id += 1
            principal = round(area * 26, 2)
            bills.append({"id": bill_id, "account_no": account_no, "season": season,
                          "principal": dt_money(principal), "due_date": due})
            roll = rng.random()
            if roll < 0.5:
                payments.append({"bill_id": bill_id, "paid_on": due - dt.timedelta(days=rng.randint(1, 60)),
                                 "amount": dt_money(principal), "channel": "wechat"})
            elif roll < 0.7:
                payments.append({"bill_id": bill_id, "paid_on": due + dt.timedelta(days=rng.randint(1, 40)),
                                 "amount": dt_money(round(principal / 2, 2)), "channel": "bank"})
    with engine.begin() as connection:
        for table, rows in ((Account, accounts), (Bill, bills), (Payment, payments)):
            for start in range(0, len(rows), 10_000):
                connection.execute(insert(table), rows[start:start + 10_000])
    engine.dispose()


def dt_money(value: float) -> Any:
    from decimal import Decimal

    return Decimal(f"{value:.2f}")


def bind_openids(redis_url: str, households: int) -> list[str]:
    from redis import Redis

    client = Redis.from_url(redis_url, decode_responses=True)
    names = []
    with client.pipeline(transaction=False) as pipe:
        for index in range(0, households, BOUND_SHARE):
            name = KEYS.wechat_binding(f"obench{index:024d}")
            pipe.set(name, f"{2050000000 + index}")
            names.append(name)
        pipe.execute()
    client.close()
    return names


def unbind(redis_url: str, names: list[str]) -> None:
    from redis import Redis

    client = Redis.from_url(redis_url)
    for start in range(0, len(names), 10_000):
        client.delete(*names[start:start + 10_000])
    client.close()


async def plan(settings: Any) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from console.db import make_engine, make_session_factory, upgrade_to_head as console_schema
    from console.reminders import planner, service

    engine = make_engine(settings.database_url)
    console_schema(engine)
    factory = make_session_factory(engine)
    redis = aioredis.from_url(settings.REDIS_URL, decode_responses=True)
    billing = service.bulk_billing_client(settings)
    timings: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()  # every thread of this process: the planner's too
    campaign_id = await service.plan_campaign(settings, factory, billing, redis, planner.Spec(kind="overdue"), None,
                                              timings)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with factory() as session:
        campaign = service.get_campaign(session, campaign_id)
        preview = campaign.preview
        tally = service.tally(session, campaign_id)
    await billing.aclose()
    await redis.aclose()
    engine.dispose()
    return {"plan_s": round(elapsed, 2), "console_cpu_s": round(cpu, 2), "phases": timings,
            "targeted": preview["households"],
            "total_arrears": preview["total_arrears"], "tally": tally}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://localhost:6379/12"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-reminders-", dir=ROOT / "var"))
    started = time.perf_counter()
    build_billing_db(workdir / "billing.db", args.households, args.seed)
    build_s = time.perf_counter() - started
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BILLING_DATABASE_URL": f"sqlite:///{workdir}/billing.db",
           "BILLING_SEED_FILE": "none", "HEATING_TODAY": TODAY}
    log = open(workdir / "billing.log", "ab")
    billing = subprocess.Popen([sys.executable, "-m", "uvicorn", "billing_service.main:app", "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    names: list[str] = []
    result: dict[str, Any] = {"households": args.households, "build_db_s": round(build_s, 2), "ok": False}
    try:
        import httpx

        wait_until(lambda: _healthy(httpx, port), timeout=60)
        names = bind_openids(args.redis_url, args.households)
        from console.settings import Settings

        settings = Settings(DATABASE_URL=f"sqlite:///{workdir}/console.db", REDIS_URL=args.redis_url,
                            BILLING_URL=f"http://127.0.0.1:{port}", HEATING_TODAY=dt.date.fromisoformat(TODAY))
        billing_cpu = _cpu_seconds(billing.pid)
        result.update(asyncio.run(plan(settings)))
        result["cpu_s"] = {"console": result.pop("console_cpu_s"),
                           "billing_service": round(_cpu_seconds(billing.pid) - billing_cpu, 2)}
        result["loadavg"] = list(os.getloadavg())
        result["bound"] = len(names)
        result["meets_goal"] = result["plan_s"] < GOAL_SECONDS
        result["ok"] = result["targeted"] > 0
    finally:
        billing.terminate()
        billing.wait(timeout=20)
        log.close()
        if names:
            unbind(args.redis_url, names)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["ok"] else 1  # the goal is reported (meets_goal), not enforced: machines differ


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc), to tell our cost from a busy machine's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _healthy(httpx: Any, port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
