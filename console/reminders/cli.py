"""`python -m console.cli remind …`: reminder campaigns from cron (the running console sends).

    remind preview --kind overdue [--district 南岗区] [--min-arrears 100] [--days 1]
    remind send CAMPAIGN_ID        (idempotent: a campaign already sending or done sends nothing again)
    remind run --kind …            (preview, then send)
    remind status CAMPAIGN_ID
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal, InvalidOperation

import redis.asyncio as aioredis
from billing_client.client import BillingError
from sqlalchemy.orm import Session, sessionmaker

from console.reminders import planner, service
from console.reminders.models import KINDS
from console.settings import Settings


class RemindError(Exception):
    """A mistake or an unavailable dependency: one line on stderr, exit status 1."""


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    remind = commands.add_parser("remind", help="arrears reminders and bill notices (docs/reminders.md)")
    actions = remind.add_subparsers(dest="remind_command", required=True)
    for name, text in (("preview", "plan a campaign and print its preview"), ("run", "plan and send")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("--kind", choices=KINDS, required=True)
        sub.add_argument("--district")
        sub.add_argument("--min-arrears", default="0", help="yuan, late fee included")
        sub.add_argument("--days", type=int, help="per kind: see docs/reminders.md")
    for name, text in (("send", "start sending a planned campaign"), ("status", "print a campaign's tally")):
        actions.add_parser(name, help=text).add_argument("campaign_id", type=int)


def _spec(args: argparse.Namespace) -> planner.Spec:
    try:
        min_arrears = Decimal(args.min_arrears)
    except InvalidOperation:
        raise RemindError(f"--min-arrears is not an amount: {args.min_arrears}") from None
    if not min_arrears.is_finite() or min_arrears < 0:
        raise RemindError("--min-arrears must be zero or more")
    if args.days is not None and not 0 <= args.days <= 3650:
        raise RemindError("--days must be between 0 and 3650")
    return planner.Spec(kind=args.kind, district=args.district or None, min_arrears=min_arrears, days=args.days)


async def _plan(settings: Settings, factory: sessionmaker[Session], spec: planner.Spec) -> int:
    billing = service.bulk_billing_client(settings)
    redis = aioredis.from_url(settings.REDIS_URL, decode_responses=True)
    try:
        return await service.plan_campaign(settings, factory, billing, redis, spec, None)
    except BillingError as exc:
        raise RemindError(f"billing API unavailable: {exc}") from None
    finally:
        await billing.aclose()
        await redis.aclose()


def _print(session: Session, campaign_id: int) -> None:
    campaign = service.get_campaign(session, campaign_id)
    preview = campaign.preview
    print(f"campaign {campaign.id} ({campaign.kind}, {campaign.status}), amounts as of {preview['as_of']}: "
          f"{preview['households']} households, arrears {preview['total_arrears']} yuan")
    for row in preview["districts"]:
        print(f"  {row['district']}: {row['households']} households, arrears {row['total_arrears']}")
    tally = service.tally(session, campaign_id)
    print("  " + ", ".join(f"{state} {count}" for state, count in sorted(tally.items())))
    if preview.get("sample"):
        print(f"sample ({preview['sample']['account_no']}):\n{preview['sample']['text']}")


def run(args: argparse.Namespace, settings: Settings, factory: sessionmaker[Session]) -> None:
    command = args.remind_command
    if command in ("preview", "run"):
        campaign_id = asyncio.run(_plan(settings, factory, _spec(args)))
    else:
        campaign_id = args.campaign_id
    with factory() as session:
        if command in ("send", "run"):
            service.start_sending(session, campaign_id)
            if service.in_quiet_hours(settings):
                print("quiet hours now: the console sends when they end")
        _print(session, campaign_id)
