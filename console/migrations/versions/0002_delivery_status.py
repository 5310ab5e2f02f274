"""Delivery you can see, and ticket numbers that cannot collide (issue 14).

* tickets.requested_no: the number the resident was first told when the console had to renumber
  the request (the Redis counter was reset); their messages may still carry it.
* ticket_messages.delivery_status (queued | delivered | failed), delivered_at, sent_at,
  delivery_attempts: an agent message is queued until its channel confirms it or gives up, and
  re-sent from SQL while unconfirmed. Agent messages of earlier releases keep a NULL status.

Revision ID: 0002_delivery_status
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_delivery_status"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("requested_no", sa.String(length=32), nullable=True))
    with op.batch_alter_table("ticket_messages") as batch:
        batch.add_column(sa.Column("delivery_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("delivered_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index(batch.f("ix_ticket_messages_delivery_status"), ["delivery_status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_messages") as batch:
        batch.drop_index(batch.f("ix_ticket_messages_delivery_status"))
        batch.drop_column("delivery_attempts")
        batch.drop_column("sent_at")
        batch.drop_column("delivered_at")
        batch.drop_column("delivery_status")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("requested_no")
