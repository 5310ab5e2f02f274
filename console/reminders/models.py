"""Tables of reminder campaigns: one row per campaign, one row per (campaign, household).

The unique (campaign_id, account_no) row is the exactly-once record: a household's send is
claimed by moving its row from ``queued`` to ``sending`` in one conditional UPDATE, so neither a
re-run nor a second worker nor a restarted console can send it twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from console.db import Base, UTCDateTime, utcnow

KINDS = ("bill_issued", "deadline_approaching", "overdue", "credit_warning", "payment_credited")
CAMPAIGN_STATUSES = ("planned", "sending", "done", "cancelled")
# queued → sending → sent | failed (widget: sent = stored for the session, → delivered once shown); decided at plan or send time: no_channel, opted_out, throttled, skipped_paid.
SEND_STATES = ("queued", "sending", "sent", "delivered", "failed", "no_channel", "opted_out", "throttled", "skipped_paid")
OPEN_SEND_STATES = ("queued", "sending")
REACHED_STATES = ("sent", "delivered")  # what counts for "one reminder per kind per N days"


class Campaign(Base):
    __tablename__ = "reminder_campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    as_of: Mapped[dt.date] = mapped_column(Date)
    preview: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set after a WeChat rate limit (45009, 45011, …): the worker resumes at this time.
    paused_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pause_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ReminderSend(Base):
    __tablename__ = "reminder_sends"
    __table_args__ = (
        UniqueConstraint("campaign_id", "account_no", name="uq_reminder_sends_campaign_account"),
        Index("ix_reminder_sends_campaign_state", "campaign_id", "state"),
        Index("ix_reminder_sends_account_kind_sent", "account_no", "kind", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("reminder_campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    account_no: Mapped[str] = mapped_column(String(10))
    district: Mapped[str] = mapped_column(String(50))
    channel: Mapped[str] = mapped_column(String(16), default="none")
    address: Mapped[str | None] = mapped_column(String(128), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    total_due: Mapped[str] = mapped_column(String(20), default="0.00")
    api: Mapped[str | None] = mapped_column(String(16), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    errcode: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
