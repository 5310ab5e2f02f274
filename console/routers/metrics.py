"""Supervisor dashboard and CSV export."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Query, Response

from console import metrics
from console.db import utcnow
from console.deps import BillingDep, CurrentSupervisor, RedisDep, SessionDep, SettingsDep
from console.errors import BadRequestError
from console.integrations import arrears_by_district
from console.schemas.metrics import Dashboard, Window
from console.settings import Settings

router = APIRouter(prefix="/api/metrics", tags=["metrics"])

DateFrom = Annotated[dt.date | None, Query(alias="from", description="first local day (default: 6 days before `to`)")]
DateTo = Annotated[dt.date | None, Query(alias="to", description="last local day, inclusive (default: today)")]
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)
_SUPERVISOR_ONLY = {403: {"description": "needs a supervisor account"}, 400: {"description": "bad date window"}}


def resolve_window(settings: Settings, date_from: dt.date | None, date_to: dt.date | None) -> tuple[dt.date, dt.date]:
    """Default: the last seven local days. Ticket times are real times, so 'today' is the real
    local date here (HEATING_TODAY only moves billing's as-of date)."""
    for day in (date_from, date_to):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise BadRequestError(f"Dates must lie between {EARLIEST} and {LATEST}.")
    to = date_to or utcnow().astimezone(settings.timezone).date()
    start = date_from or to - dt.timedelta(days=6)
    if start > to:
        raise BadRequestError("'from' must not be after 'to'.")
    if (to - start).days >= metrics.MAX_WINDOW_DAYS:
        raise BadRequestError(f"The window may span at most {metrics.MAX_WINDOW_DAYS} days.")
    return start, to


@router.get("/dashboard", response_model=Dashboard, summary="Supervisor dashboard", responses=_SUPERVISOR_ONLY)
def dashboard(
    session: SessionDep, settings: SettingsDep, client: RedisDep, billing: BillingDep, supervisor: CurrentSupervisor,
    date_from: DateFrom = None, date_to: DateTo = None,
) -> Dashboard:
    start_day, end_day = resolve_window(settings, date_from, date_to)
    start, end = metrics.window_bounds(settings, start_day, end_day)
    now = utcnow()
    tickets = metrics.tickets_in_window(session, start, end)
    complaints = [t for t in tickets if metrics.is_complaint(t)]
    arrears = anyio.from_thread.run(arrears_by_district, billing, settings.today())
    return Dashboard(
        generated_at=now,
        window=Window(date_from=start_day, date_to=end_day, timezone=settings.CONSOLE_TIMEZONE),
        queue=metrics.queue_stats(session, now),
        first_response=metrics.duration_stats(
            s for s in (metrics.first_response_seconds(t) for t in tickets) if s is not None
        ),
        handle_time=metrics.duration_stats(s for s in (metrics.handle_seconds(t) for t in tickets) if s is not None),
        sla=metrics.sla_stats(tickets, now),
        handoff=metrics.handoff_stats(len(tickets), metrics.conversation_count(client, settings, start_day, end_day)),
        tickets_per_day=metrics.per_day(settings, tickets, start_day, end_day),
        complaints_per_day=metrics.per_day(settings, complaints, start_day, end_day),
        complaints_per_district=metrics.per_district(complaints),
        csat=metrics.csat_stats(tickets),
        arrears_by_district=arrears,
    )


@router.get(
    "/export.csv",
    summary="Tickets of the window as CSV (UTF-8 with BOM, for Excel)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per ticket"}, **_SUPERVISOR_ONLY},
)
def export_csv(
    session: SessionDep, settings: SettingsDep, supervisor: CurrentSupervisor,
    date_from: DateFrom = None, date_to: DateTo = None,
) -> Response:
    start_day, end_day = resolve_window(settings, date_from, date_to)
    start, end = metrics.window_bounds(settings, start_day, end_day)
    body = metrics.export_csv(metrics.tickets_in_window(session, start, end), utcnow())
    filename = f"heatdesk-tickets-{start_day:%Y%m%d}-{end_day:%Y%m%d}.csv"
    return Response(
        content="\ufeff" + body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
