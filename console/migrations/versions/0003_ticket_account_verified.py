"""Tickets carry `account_verified` (issue 13): only an account the resident proved in the bot
(户号 + phone tail, this session) is verified; the console shows no bills for any other.

Existing tickets become unverified: their account numbers were never marked as proven.

Revision ID: 0003_ticket_account_verified
Revises: 0002_delivery_status
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_ticket_account_verified"
down_revision = "0002_delivery_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database without alembic_version is stamped as the baseline whatever `create_all` made
    # it, so a newer `create_all` may already have the column: add it only when missing.
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("tickets")}
    if "account_verified" in columns:
        return
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("account_verified", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("account_verified")
