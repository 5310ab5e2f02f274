"""Reminder campaigns (issue 17): one row per campaign, one row per (campaign, household).

A database whose tables were made by `create_all` with the reminder models already in the
metadata (before this migration existed) is stamped at the baseline and then reaches this
revision with the tables present: they are left as they are.

Revision ID: 0004_reminders
Revises: 0003_ticket_account_verified
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_reminders"
down_revision = "0003_ticket_account_verified"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "reminder_campaigns" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "reminder_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("preview", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("paused_until", sa.DateTime(), nullable=True),
        sa.Column("pause_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_reminder_campaigns_status"), "reminder_campaigns", ["status"], unique=False)
    op.create_table(
        "reminder_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("account_no", sa.String(length=10), nullable=False),
        sa.Column("district", sa.String(length=50), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total_due", sa.String(length=20), nullable=False),
        sa.Column("api", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["reminder_campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "account_no", name="uq_reminder_sends_campaign_account"),
    )
    op.create_index("ix_reminder_sends_account_kind_sent", "reminder_sends", ["account_no", "kind", "sent_at"],
                    unique=False)
    op.create_index("ix_reminder_sends_campaign_state", "reminder_sends", ["campaign_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reminder_sends_campaign_state", table_name="reminder_sends")
    op.drop_index("ix_reminder_sends_account_kind_sent", table_name="reminder_sends")
    op.drop_table("reminder_sends")
    op.drop_index(op.f("ix_reminder_campaigns_status"), table_name="reminder_campaigns")
    op.drop_table("reminder_campaigns")
