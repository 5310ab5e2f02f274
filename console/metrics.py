"""Dashboard figures, computed from the ticket rows (human replies only, never bot turns).

Definitions (also in docs/console_api.md):
* first response time = first_human_reply_at − created_at (only agents set first_human_reply_at);
* handle time = resolved_at − assigned_at (first claim), for resolved tickets;
* SLA attainment = met / (met + breached), where met means the first human reply
  (or, without one, the resolution) came by sla_due_at, and an unanswered ticket
  past its due time counts as breached;
* handoff rate = tickets / conversations of the window; conversations are counted
  by the Rasa side in daily HyperLogLogs (``KeySpace.conversations_of_day``);
* complaints = tickets whose category is ``complain`` or that angry emotion triggered.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.models import OPEN_STATUSES, Ticket
from console.schemas.metrics import (
    CsatStats,
    DayCount,
    DistrictCount,
    DurationStats,
    HandoffStats,
    OldestWaiting,
    QueueStats,
    SlaStats,
)
from console.schemas.tickets import sla_state
from console.settings import Settings

MAX_WINDOW_DAYS = 366
UNKNOWN_DISTRICT = "未知"


def window_bounds(settings: Settings, date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Local calendar days [from, to] as a half-open UTC interval."""
    tz = settings.timezone
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=tz).astimezone(dt.timezone.utc)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz).astimezone(dt.timezone.utc)
    return start, end


def tickets_in_window(session: Session, start: dt.datetime, end: dt.datetime) -> Sequence[Ticket]:
    return session.scalars(
        select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end).order_by(Ticket.created_at)
    ).all()


def duration_stats(values: Iterable[float]) -> DurationStats:
    data = sorted(v for v in values if v >= 0)
    if not data:
        return DurationStats(count=0, avg_seconds=None, median_seconds=None, p90_seconds=None)
    p90 = data[min(len(data) - 1, int(round(0.9 * (len(data) - 1))))]
    return DurationStats(
        count=len(data),
        avg_seconds=round(statistics.fmean(data), 1),
        median_seconds=round(statistics.median(data), 1),
        p90_seconds=round(p90, 1),
    )


def queue_stats(session: Session, now: dt.datetime) -> QueueStats:
    """The queue as it is now (not limited to the window)."""
    by_status = {status: 0 for status in ("new", "assigned", "in_progress")}
    for status, count in session.execute(
        select(Ticket.status, func.count(Ticket.id)).where(Ticket.status.in_(OPEN_STATUSES)).group_by(Ticket.status)
    ):
        by_status[status] = int(count)
    by_priority = {p: 0 for p in ("urgent", "high", "normal")}
    for priority, count in session.execute(
        select(Ticket.priority, func.count(Ticket.id)).where(Ticket.status == "new").group_by(Ticket.priority)
    ):
        by_priority[priority] = int(count)
    oldest = session.scalars(
        select(Ticket).where(Ticket.status == "new").order_by(Ticket.created_at, Ticket.id).limit(1)
    ).first()
    return QueueStats(
        length=by_status["new"],
        open=sum(by_status.values()),
        by_status=by_status,
        by_priority=by_priority,
        oldest_waiting=OldestWaiting(
            ticket_no=oldest.ticket_no,
            created_at=oldest.created_at,
            waiting_seconds=max(0, int((now - oldest.created_at).total_seconds())),
            priority=oldest.priority,
        ) if oldest else None,
    )


def is_complaint(ticket: Ticket) -> bool:
    return ticket.category == "complain" or (ticket.trigger_kind == "emotion" and ticket.trigger_name == "angry")


def local_day(settings: Settings, moment: dt.datetime) -> dt.date:
    return moment.astimezone(settings.timezone).date()


def days(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    return [date_from + dt.timedelta(days=i) for i in range((date_to - date_from).days + 1)]


def per_day(settings: Settings, tickets: Iterable[Ticket], date_from: dt.date, date_to: dt.date) -> list[DayCount]:
    counts = Counter(local_day(settings, t.created_at) for t in tickets)
    return [DayCount(date=d, count=counts.get(d, 0)) for d in days(date_from, date_to)]


def per_district(tickets: Iterable[Ticket]) -> list[DistrictCount]:
    counts = Counter(t.district or UNKNOWN_DISTRICT for t in tickets)
    return [DistrictCount(district=d, count=c) for d, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def sla_stats(tickets: Iterable[Ticket], now: dt.datetime) -> SlaStats:
    counts = Counter(sla_state(t, now)[0] for t in tickets)
    decided = counts["met"] + counts["breached"]
    return SlaStats(
        met=counts["met"], breached=counts["breached"], pending=counts["pending"],
        attainment=round(counts["met"] / decided, 4) if decided else None,
    )


def conversation_count(
    client: redis.Redis, settings: Settings, date_from: dt.date, date_to: dt.date
) -> int | None:
    """Distinct conversations of the window from the Rasa side's daily HyperLogLogs, if any exist."""
    keys = [settings.keys.conversations_of_day(f"{d:%Y%m%d}") for d in days(date_from, date_to)]
    try:
        if not client.exists(*keys):
            return None
        return int(client.pfcount(*keys))
    except redis.RedisError:
        return None


def handoff_stats(ticket_count: int, conversations: int | None) -> HandoffStats:
    if conversations is None:
        return HandoffStats(tickets=ticket_count, conversations=None, rate=None, conversations_source="unavailable")
    rate = round(ticket_count / conversations, 4) if conversations else None
    return HandoffStats(tickets=ticket_count, conversations=conversations, rate=rate, conversations_source="redis")


def csat_stats(tickets: Iterable[Ticket]) -> CsatStats:
    scores = [t.csat_score for t in tickets if t.csat_score is not None]
    return CsatStats(count=len(scores), average=round(statistics.fmean(scores), 2) if scores else None)


def first_response_seconds(ticket: Ticket) -> float | None:
    if ticket.first_human_reply_at is None:
        return None
    return (ticket.first_human_reply_at - ticket.created_at).total_seconds()


def handle_seconds(ticket: Ticket) -> float | None:
    if ticket.resolved_at is None or ticket.assigned_at is None:
        return None
    return (ticket.resolved_at - ticket.assigned_at).total_seconds()


CSV_COLUMNS = (
    "ticket_no", "created_at", "channel", "category", "priority", "trigger_kind", "trigger_name",
    "trigger_confidence", "district", "account_no", "status", "assignee", "assigned_at", "first_human_reply_at",
    "first_response_seconds", "resolved_at", "handle_seconds", "sla_due_at", "sla_status", "resolution_category",
    "csat_score", "reopen_count",
)


def _cell(value: object) -> str:
    """Text for a CSV cell; a leading = + - @ is defused so spreadsheets do not run it as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(tickets: Iterable[Ticket], now: dt.datetime) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for t in tickets:
        first = first_response_seconds(t)
        handle = handle_seconds(t)
        writer.writerow([_cell(v) for v in (
            t.ticket_no, t.created_at, t.channel, t.category, t.priority, t.trigger_kind, t.trigger_name,
            t.trigger_confidence, t.district, t.account_no, t.status,
            t.assignee.username if t.assignee else None, t.assigned_at, t.first_human_reply_at,
            None if first is None else int(first), t.resolved_at, None if handle is None else int(handle),
            t.sla_due_at, sla_state(t, now)[0], t.resolution_category, t.csat_score, t.reopen_count,
        )])
    return buffer.getvalue()
