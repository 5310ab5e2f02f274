"""API shapes of reminder campaigns (docs/reminders.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from console.reminders.models import Campaign, ReminderSend

Kind = Literal["bill_issued", "deadline_approaching", "overdue", "credit_warning", "payment_credited"]
State = Literal["queued", "sending", "sent", "delivered", "failed", "no_channel", "opted_out", "throttled", "skipped_paid"]


class CampaignIn(BaseModel):
    """What to send and to whom; the plan and its preview are computed from it."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    district: str | None = Field(default=None, min_length=1, max_length=50, description="one district, or all")
    min_arrears: Decimal = Field(default=Decimal("0"), ge=0, le=Decimal("1000000000"), decimal_places=2,
                                 description="only households owing at least this much (yuan, late fee included)")
    days: int | None = Field(
        default=None, ge=0, le=3650,
        description="overdue: at least N days overdue (default 1); credit_warning: from day N (default 25); "
        "deadline_approaching: due within N days (default 7); payment_credited: paid within the last N days "
        "(default 1); bill_issued: unused",
    )


class CampaignOut(BaseModel):
    id: int
    kind: str
    status: str
    filters: dict[str, Any]
    as_of: dt.date
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    paused_until: dt.datetime | None = Field(description="set while a WeChat rate limit is being waited out")
    pause_reason: str | None
    quiet_hours_now: bool = Field(description="true when nothing goes out now because of the city's quiet hours")
    preview: dict[str, Any] = Field(description="households per district and state, total arrears, a sample message")
    tally: dict[str, int] = Field(description="rows per state, live while sending")


class SendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    account_no: str
    district: str
    channel: str
    state: str
    total_due: str
    api: str | None
    text: str | None
    errcode: int | None
    error: str | None
    attempts: int
    sent_at: dt.datetime | None


def campaign_out(campaign: Campaign, tally: dict[str, int], quiet: bool) -> CampaignOut:
    return CampaignOut(
        id=campaign.id, kind=campaign.kind, status=campaign.status, filters=campaign.filters, as_of=campaign.as_of,
        created_at=campaign.created_at, started_at=campaign.started_at, finished_at=campaign.finished_at,
        paused_until=campaign.paused_until, pause_reason=campaign.pause_reason, quiet_hours_now=quiet,
        preview=campaign.preview, tally=tally,
    )


def send_out(row: ReminderSend) -> SendOut:
    return SendOut.model_validate(row)
