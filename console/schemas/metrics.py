"""The supervisors' dashboard and the health answer."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DurationStats(BaseModel):
    count: int
    avg_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None


class OldestWaiting(BaseModel):
    ticket_no: str
    created_at: dt.datetime
    waiting_seconds: int
    priority: str


class QueueStats(BaseModel):
    length: int = Field(description="unclaimed tickets (status new)")
    open: int = Field(description="tickets not yet resolved")
    by_status: dict[str, int]
    by_priority: dict[str, int] = Field(description="unclaimed tickets by priority")
    oldest_waiting: OldestWaiting | None


class SlaStats(BaseModel):
    met: int
    breached: int
    pending: int
    attainment: float | None = Field(description="met / (met + breached); null when nothing is decided yet")


class HandoffStats(BaseModel):
    tickets: int
    conversations: int | None
    rate: float | None
    conversations_source: Literal["redis", "unavailable"]


class DayCount(BaseModel):
    date: dt.date
    count: int


class DistrictCount(BaseModel):
    district: str
    count: int


class DistrictArrears(BaseModel):
    """One district of the billing system's arrears report (amounts in yuan, two decimals)."""

    district: str
    accounts: int = Field(description="households in arrears")
    households: int
    amount: str = Field(description="total owed: unpaid principal plus late fees")
    unpaid_principal: str
    late_fees: str
    credit_warnings: int = Field(description="households overdue beyond the 征信 threshold")


class ArrearsStats(BaseModel):
    available: bool
    as_of: dt.date
    items: list[DistrictArrears]
    error: str | None = None


class CsatStats(BaseModel):
    count: int
    average: float | None


class Window(BaseModel):
    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")
    timezone: str

    model_config = ConfigDict(populate_by_name=True)


class Dashboard(BaseModel):
    generated_at: dt.datetime
    window: Window
    queue: QueueStats
    first_response: DurationStats
    handle_time: DurationStats
    sla: SlaStats
    handoff: HandoffStats
    tickets_per_day: list[DayCount]
    complaints_per_day: list[DayCount]
    complaints_per_district: list[DistrictCount]
    csat: CsatStats
    arrears_by_district: ArrearsStats


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str
    redis: str
    #: "aof", "rdb", "none" or "unknown" (CONFIG refused): a warning, never a failure.
    redis_persistence: str = "unknown"
    warnings: list[str] = []
