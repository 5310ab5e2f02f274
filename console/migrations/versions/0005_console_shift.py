"""A console for a whole shift (issue 15): queue rows, search, display names, canned replies.

* ``last_user_text`` is filled from each ticket's newest resident message (else its trigger),
  ``waiting_since`` from the creation time of tickets nobody has claimed yet, ``search_text``
  from the ticket's number, 户号, district and summary.
* Agents whose display name is their login (the old default, e.g. the bootstrap ``admin``)
  get a staff number (``7号``) instead: residents are never told a login.
* ``canned_replies``, with the replies a new installation starts with (supervisors edit them).
* On PostgreSQL, trigram GIN indexes for the search box when ``pg_trgm`` can be created
  (they are optional: the search works without them, by scanning).

Revision ID: 0005_console_shift
Revises: 0004_reminders
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from alembic import op

from console.messages import DEFAULT_CANNED_REPLIES, DEFAULT_DISPLAY_NAME
from console.search import TRIGRAM_INDEXES, preview, search_facts

revision = "0005_console_shift"
down_revision = "0004_reminders"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

_tickets = sa.table(
    "tickets", sa.column("id", sa.Integer), sa.column("ticket_no", sa.String), sa.column("requested_no", sa.String),
    sa.column("account_no", sa.String), sa.column("district", sa.String), sa.column("summary", sa.JSON),
    sa.column("status", sa.String), sa.column("trigger_text", sa.Text), sa.column("created_at", sa.DateTime),
    sa.column("last_user_text", sa.String), sa.column("waiting_since", sa.DateTime),
    sa.column("search_text", sa.Text),
)
_messages = sa.table("ticket_messages", sa.column("ticket_id", sa.Integer), sa.column("sender", sa.String),
                     sa.column("text", sa.Text), sa.column("created_at", sa.DateTime), sa.column("id", sa.Integer))
_agents = sa.table("agents", sa.column("id", sa.Integer), sa.column("username", sa.String),
                   sa.column("display_name", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    columns = {column["name"] for column in sa.inspect(bind).get_columns("tickets")}
    with op.batch_alter_table("tickets") as batch:
        if "last_user_text" not in columns:
            batch.add_column(sa.Column("last_user_text", sa.String(length=200), nullable=True))
        if "waiting_since" not in columns:
            batch.add_column(sa.Column("waiting_since", sa.DateTime(), nullable=True))
        if "search_text" not in columns:
            batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    _backfill_tickets(bind)
    for agent_id, username, display_name in bind.execute(
        sa.select(_agents.c.id, _agents.c.username, _agents.c.display_name)
    ).all():
        if not display_name or display_name == username:
            bind.execute(_agents.update().where(_agents.c.id == agent_id)
                         .values(display_name=DEFAULT_DISPLAY_NAME.format(number=agent_id)))
    if "canned_replies" not in sa.inspect(bind).get_table_names():
        _canned_replies()
    if bind.dialect.name == "postgresql":
        _trigram_indexes(bind)


def _canned_replies() -> None:
    table = op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shortcut", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shortcut"),
    )
    op.create_index(op.f("ix_canned_replies_category"), "canned_replies", ["category"], unique=False)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # naive UTC, as UTCDateTime stores it
    op.bulk_insert(table, [
        {"shortcut": shortcut, "title": title, "text": text, "category": category, "active": True,
         "created_at": now, "updated_at": now}
        for shortcut, title, text, category in DEFAULT_CANNED_REPLIES
    ])


def _backfill_tickets(bind: sa.Connection) -> None:
    rows = bind.execute(sa.select(
        _tickets.c.id, _tickets.c.ticket_no, _tickets.c.requested_no, _tickets.c.account_no, _tickets.c.district,
        _tickets.c.summary, _tickets.c.status, _tickets.c.trigger_text, _tickets.c.created_at,
    )).all()
    for row in rows:
        last = bind.execute(
            sa.select(_messages.c.text).where(_messages.c.ticket_id == row.id, _messages.c.sender == "user")
            .order_by(_messages.c.created_at.desc(), _messages.c.id.desc()).limit(1)
        ).scalar()
        bind.execute(_tickets.update().where(_tickets.c.id == row.id).values(
            last_user_text=preview(last or row.trigger_text),
            waiting_since=row.created_at if row.status == "new" else None,
            search_text=search_facts(row.ticket_no, row.requested_no, row.account_no, row.district, row.summary),
        ))


def _trigram_indexes(bind: sa.Connection) -> None:
    """Optional: a managed PostgreSQL may refuse CREATE EXTENSION; the search then scans."""
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        logger.warning("pg_trgm is not available (%s); ticket search works without its indexes",
                       type(exc.orig).__name__ if exc.orig else type(exc).__name__)
        return
    tickets_index, messages_index = TRIGRAM_INDEXES
    bind.execute(sa.text(
        f"CREATE INDEX IF NOT EXISTS {tickets_index} ON tickets USING gin (search_text gin_trgm_ops)"))
    bind.execute(sa.text(
        f"CREATE INDEX IF NOT EXISTS {messages_index} ON ticket_messages USING gin (text gin_trgm_ops)"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
    op.drop_index(op.f("ix_canned_replies_category"), table_name="canned_replies")
    op.drop_table("canned_replies")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("search_text")
        batch.drop_column("waiting_since")
        batch.drop_column("last_user_text")
