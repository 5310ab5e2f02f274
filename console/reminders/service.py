"""Campaigns in SQL: plan (with its preview), start, tally. Business rules live here, not in the router.

Planning reads every account once from the billing API (its NDJSON export, or pages of 500
from a billing system without one), computes the targets in-process, snapshots the channels from Redis and writes one row per targeted household, each
already decided: queued (will be sent), no_channel, opted_out or throttled (had this kind within
``min_days_between`` days). The preview is computed from those rows, so what the supervisor sees
is exactly what will be sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from contextlib import aclosing
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from billing_client.bulk import household_of, parse_households
from billing_client.client import BillingClient, BillingError, BillingUnavailable, ExportUnsupported
from billing_client.models import Account
from billing_client.paylink import pay_url
from billing_client.rule import LateFeePolicy
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from console.db import bulk_insert, utcnow
from console.errors import ConflictError, NotFoundError
from console.reminders import channels, planner
from console.reminders.models import REACHED_STATES, Campaign, ReminderSend
from console.settings import Settings
from heatdesk_contract.city import late_fee_policy

logger = logging.getLogger("console.reminders")

PAGE_SIZE = 500
PAGE_TRIES = 4
WIDGET_NOTE = ("Households without WeChat get the notice in the website widget, on the next open of a session "
               "that passed the identity check; households with neither count as no channel.")


def reminder_settings(settings: Settings) -> dict[str, Any]:
    return settings.city().get("reminders") or {}


def policy_of(settings: Settings) -> LateFeePolicy:
    """The late-fee policy from the city file, as the bot and the billing service build it."""
    return late_fee_policy(settings.city())


def quiet_window(settings: Settings) -> tuple[dt.time, dt.time]:
    text = str(reminder_settings(settings).get("quiet_hours", "21:00-08:00"))
    start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    return start, end


def in_quiet_hours(settings: Settings, now: dt.datetime | None = None) -> bool:
    """Whether `now` (local) falls in the city's quiet hours; a window may wrap midnight."""
    moment = (now or settings.local_now()).time()
    start, end = quiet_window(settings)
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def spec_of(campaign: Campaign) -> planner.Spec:
    filters = campaign.filters
    return planner.Spec(
        kind=campaign.kind,
        district=filters.get("district"),
        min_arrears=Decimal(filters.get("min_arrears") or "0"),
        days=filters.get("days"),
    )


def message_for(settings: Settings, kind: str, target: planner.Target, as_of: dt.date, channel: str) -> tuple[
    str, dict[str, dict[str, str]], str | None
]:
    """(customer-service text, template data, pay link) of one household's notice."""
    values = planner.fields(target, as_of, policy_of(settings).credit_warning_days)
    link = pay_url(settings.city().get("payment") or {}, channel, target.account_no)
    return planner.render_text(kind, values, link), planner.render_template_data(kind, values), link


async def _page(billing: BillingClient, after: str, district: str | None) -> tuple[list[Account], str | None]:
    """One page, read again after a timeout (a plan has no resident waiting; a busy billing API may be slow)."""
    attempt = 1
    while True:
        try:
            return await billing.accounts_page(after, PAGE_SIZE, district)
        except BillingUnavailable:
            if attempt >= PAGE_TRIES:
                raise
            await asyncio.sleep(attempt)
            attempt += 1


def bulk_billing_client(settings: Settings) -> BillingClient:
    """A client of its own for planning: its retries and breaker never touch the one agents use."""
    return BillingClient(settings.BILLING_URL, failure_threshold=PAGE_TRIES + 1, cooldown=5.0)


def _plan_lines(campaign: planner.Planner, lines: list[bytes]) -> tuple[list[planner.Target], str | None]:
    """One batch of export lines: parsed (strictly, billing_client.bulk) and planned; with the
    last account number, where a broken export resumes."""
    try:
        households = parse_households(lines)
    except ValueError as exc:  # what the strict parser refuses, named by line and field
        raise BillingError(f"billing system exported a malformed account: {exc}") from None
    return campaign.plan(households), households[-1][0] if households else None


async def targets_of(settings: Settings, billing: BillingClient, spec: planner.Spec,
                     as_of: dt.date) -> list[planner.Target]:
    """Every targeted household, from the billing API's NDJSON export (one request; a stream that
    breaks is resumed after the last household planned, at most PAGE_TRIES times in a row), or page
    by page from a billing system without the export. Batches are parsed and planned in a thread,
    so the console's event loop keeps serving agents meanwhile."""
    campaign = planner.Planner(spec, as_of, policy_of(settings), planner.Rules.from_city(settings.city()))
    targets: list[planner.Target] = []
    after, attempt = "", 1
    while True:
        try:
            async with aclosing(billing.export_accounts(after, spec.district, **campaign.export_filter())) as batches:
                async for lines in batches:
                    planned, last = await asyncio.to_thread(_plan_lines, campaign, lines)
                    targets += planned
                    after, attempt = last or after, 1
            return targets
        except ExportUnsupported:
            logger.info("billing API has no account export; planning from its pages")
            return await _targets_from_pages(billing, campaign, spec.district)
        except BillingUnavailable:
            if attempt >= PAGE_TRIES:
                raise
            logger.warning("billing export broke off after account %r; resuming (try %d)", after, attempt + 1)
            await asyncio.sleep(attempt)
            attempt += 1


async def _targets_from_pages(billing: BillingClient, campaign: planner.Planner,
                              district: str | None) -> list[planner.Target]:
    """The paged read (`GET /api/v1/accounts`): the next page is requested before this one is
    planned, so the billing service builds page N+1 while we compute page N."""
    targets: list[planner.Target] = []
    pending: asyncio.Task[tuple[list[Account], str | None]] | None = asyncio.create_task(
        _page(billing, "", district))
    while pending is not None:
        page, after = await pending
        pending = None
        if after is not None:
            pending = asyncio.create_task(_page(billing, after, district))
            await asyncio.sleep(0)  # let the request go out
        targets.extend(await asyncio.to_thread(campaign.plan, [household_of(account) for account in page]))
    return targets


def throttled_accounts(session: Session, kind: str, since: dt.datetime) -> set[str]:
    """Households that already got this kind of reminder since `since`."""
    rows = session.scalars(
        select(ReminderSend.account_no).where(
            ReminderSend.kind == kind, ReminderSend.state.in_(REACHED_STATES), ReminderSend.sent_at >= since
        )
    )
    return set(rows)


def throttle_since(settings: Settings) -> dt.datetime:
    return utcnow() - dt.timedelta(days=int(reminder_settings(settings).get("min_days_between", 7)))


def _preview(settings: Settings, spec: planner.Spec, as_of: dt.date, decided: list[tuple[str, str | None, str]],
             targets: list[planner.Target]) -> dict[str, Any]:
    """Households per district and state, arrears, and a sample text; ``decided`` is each
    target's (channel, address, state)."""
    districts: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    arrears: dict[str, Decimal] = defaultdict(Decimal)
    for (_channel, _address, state), target in zip(decided, targets):
        tally = districts[target.district]
        tally["households"] += 1
        tally[state] += 1
        arrears[target.district] += target.total
    sample_index = next((i for i, row in enumerate(decided) if row[2] == "queued"), 0 if decided else None)
    sample = None
    if sample_index is not None:
        target = targets[sample_index]
        text, _data, _link = message_for(settings, spec.kind, target, as_of, decided[sample_index][0])
        sample = {"account_no": target.account_no, "text": text}
    return {
        "as_of": as_of.isoformat(),
        "households": len(decided),
        "total_arrears": f"{sum(arrears.values(), Decimal('0')):.2f}",
        "districts": [
            {"district": name, **dict(districts[name]), "total_arrears": f"{arrears[name]:.2f}"}
            for name in sorted(districts)
        ],
        "sample": sample,
        "note": WIDGET_NOTE,
    }


async def plan_campaign(
    settings: Settings,
    session_factory: sessionmaker[Session],
    billing: BillingClient,
    redis: aioredis.Redis,
    spec: planner.Spec,
    created_by: int | None,
    timings: dict[str, float] | None = None,
) -> int:
    """Plan a campaign and store it with its rows; returns its id. ``timings`` (seconds per phase)
    is filled when given, for `make bench`."""
    phases = timings if timings is not None else {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = round(now - clock, 3)
        clock = now

    as_of = settings.today()
    # Who can be reached does not depend on the targets: Redis answers while billing streams.
    reach_task = asyncio.create_task(channels.load_reach(redis, settings.keys))
    try:
        targets = await targets_of(settings, billing, spec, as_of)
    except BaseException:
        reach_task.cancel()
        raise
    lap("accounts_and_late_fees_s")
    reach = await reach_task
    lap("channels_s")
    campaign_id = await asyncio.to_thread(_store_plan, settings, session_factory, spec, as_of, targets, reach,
                                          created_by)
    lap("store_rows_s")
    return campaign_id


def _store_plan(settings: Settings, session_factory: sessionmaker[Session], spec: planner.Spec, as_of: dt.date,
                targets: list[planner.Target], reach: channels.Reach, created_by: int | None) -> int:
    with session_factory() as session:
        throttled = throttled_accounts(session, spec.kind, throttle_since(settings))
        now = utcnow()
        decided: list[tuple[str, str | None, str]] = []
        for target in targets:
            channel, address, state = reach.choose(target.account_no)
            if state == "queued" and target.account_no in throttled:
                state = "throttled"
            decided.append((channel, address, state))
        campaign = Campaign(
            kind=spec.kind,
            status="planned",
            filters={"district": spec.district, "min_arrears": f"{spec.min_arrears:.2f}", "days": spec.days},
            as_of=as_of,
            preview=_preview(settings, spec, as_of, decided, targets),
            created_by=created_by,
            created_at=now,
        )
        session.add(campaign)
        session.flush()
        rows = [(campaign.id, spec.kind, target.account_no, target.district, channel, address, state,
                 f"{target.total:.2f}", 0, now) for target, (channel, address, state) in zip(targets, decided)]
        bulk_insert(session.connection(), ReminderSend.__table__, _SEND_COLUMNS, rows)  # COPY on PostgreSQL
        session.commit()
        return campaign.id


_SEND_COLUMNS = ("campaign_id", "kind", "account_no", "district", "channel", "address", "state", "total_due",
                 "attempts", "updated_at")


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"No campaign {campaign_id}.")
    return campaign


def tally(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(ReminderSend.state, func.count()).where(ReminderSend.campaign_id == campaign_id)
        .group_by(ReminderSend.state)
    )
    return {state: int(count) for state, count in rows}


def start_sending(session: Session, campaign_id: int) -> Campaign:
    """planned → sending. Idempotent: a campaign already sending or done is left as it is
    (its sent rows are never queued again), so re-running a send command sends nothing twice."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status == "cancelled":
        raise ConflictError(f"Campaign {campaign_id} was cancelled.")
    if campaign.status == "planned":
        session.execute(
            update(Campaign).where(Campaign.id == campaign_id, Campaign.status == "planned")
            .values(status="sending", started_at=utcnow())
        )
        session.commit()
        session.refresh(campaign)
    return campaign


def cancel(session: Session, campaign_id: int) -> Campaign:
    """Stops a campaign: rows still queued are never sent."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status in ("planned", "sending"):
        campaign.status = "cancelled"
        campaign.finished_at = utcnow()
        session.commit()
    return campaign


def list_campaigns(session: Session, limit: int = 50) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(limit)))


def sends(session: Session, campaign_id: int, state: str | None, limit: int, offset: int) -> list[ReminderSend]:
    statement = select(ReminderSend).where(ReminderSend.campaign_id == campaign_id)
    if state is not None:
        statement = statement.where(ReminderSend.state == state)
    return list(session.scalars(statement.order_by(ReminderSend.id).limit(limit).offset(offset)))
