"""Alembic on the console database: a database made by the pre-migration `create_all`,
with tickets in it, is stamped and upgraded by the real console at start-up and loses nothing;
a fresh database upgraded to head is exactly what the models describe."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.orm import Session

from console import models
from console.db import BASELINE, MIGRATIONS, Base, upgrade_to_head
from console.search import TRIGRAM_INDEXES
from console_helpers import ADMIN_PASSWORD, ADMIN_USER, ConsoleServer, temporary_pg_database

BACKENDS = ("sqlite", "postgresql")
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()


@contextlib.contextmanager
def empty_database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/legacy-{uuid.uuid4().hex[:8]}.db"
    else:
        with temporary_pg_database() as url:
            yield url


def legacy_database_with_tickets(url: str) -> list[dict[str, object]]:
    """What an installation before migrations has: `create_all` tables, an agent, tickets, messages, notes."""
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    now = dt.datetime(2025, 2, 15, 8, 0, tzinfo=dt.timezone.utc)
    with Session(engine) as session:
        agent = models.Agent(username="wang", display_name="客服小王", role="agent", password_hash="x")
        session.add(agent)
        session.flush()
        for n in range(3):
            ticket = models.Ticket(
                ticket_no=f"GD20250215{n:04d}", idempotency_key=f"legacy-{n}", conversation_id=f"user-{n}",
                channel="rest", account_no="2024000001", category="complain", priority="high",
                trigger_kind="intent", trigger_name="complain", trigger_text=f"投诉第{n}次",
                summary={"account_no": "2024000001", "intent": "complain"}, status="in_progress",
                assignee_id=agent.id, created_at=now, sla_due_at=now + dt.timedelta(minutes=30),
            )
            session.add(ticket)
            session.flush()
            session.add(models.TicketMessage(message_id=f"m-{n}", ticket_id=ticket.id, sender="user", text=f"暖气不热{n}"))
            session.add(models.Note(ticket_id=ticket.id, agent_id=agent.id, text=f"回访{n}"))
        session.commit()
    rows = snapshot(engine)
    # Back to the baseline's shape (the columns later revisions add are dropped, rows kept), without
    # alembic_version: what `create_all` of the release before migrations left.
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.stamp(config, "head")
        command.downgrade(config, BASELINE)
        connection.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    return rows


def snapshot(engine: object) -> list[dict[str, object]]:
    with Session(engine) as session:  # type: ignore[arg-type]
        tickets = session.scalars(select(models.Ticket).order_by(models.Ticket.id)).all()
        return [
            {
                "ticket_no": t.ticket_no, "conversation_id": t.conversation_id, "status": t.status,
                "summary": t.summary, "trigger_text": t.trigger_text, "created_at": t.created_at,
                "assignee": t.assignee.username if t.assignee else None,
                "messages": session.scalars(select(models.TicketMessage.text).where(models.TicketMessage.ticket_id == t.id)).all(),
                "notes": session.scalars(select(models.Note.text).where(models.Note.ticket_id == t.id)).all(),
            }
            for t in tickets
        ]


def include_object(obj: object, name: str | None, type_: str, reflected: bool, _compare_to: object) -> bool:
    """The optional PostgreSQL trigram indexes of migration 0005 are not in the models."""
    return not (type_ == "index" and reflected and name in TRIGRAM_INDEXES)


def alembic_revision(engine: object) -> str | None:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return MigrationContext.configure(connection).get_current_revision()


@pytest.mark.parametrize("backend", BACKENDS)
def test_console_upgrades_a_legacy_database_and_keeps_every_ticket(backend: str, workdir: Path) -> None:
    with empty_database(backend, workdir) as url:
        before = legacy_database_with_tickets(url)
        assert len(before) == 3
        server = ConsoleServer(backend=f"legacy-{backend}", database_url=url, prefix=f"hdmig-{uuid.uuid4().hex[:8]}:",
                               workdir=workdir)
        try:
            server.start()  # the console migrates at start-up, before it answers /health
            with server.login(ADMIN_USER, ADMIN_PASSWORD) as admin:
                listed = admin.get("/api/tickets", params={"status": "open"}).json()
                assert sorted(item["ticket_no"] for item in listed["items"]) == [t["ticket_no"] for t in before]
                detail = admin.get(f"/api/tickets/{before[0]['ticket_no']}").json()
                assert [n["text"] for n in detail["notes"]] == ["回访0"]
                # SQLite copies a table to alter it: nothing hanging off a ticket may be lost with it.
                assert "暖气不热0" in [m["text"] for m in detail["messages"]]
        finally:
            server.stop()
        engine = create_engine(url)
        try:
            assert alembic_revision(engine) == HEAD
            assert snapshot(engine) == before
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_fresh_database_at_head_matches_the_models(backend: str, workdir: Path) -> None:
    with empty_database(backend, workdir) as url:
        engine = create_engine(url)
        try:
            upgrade_to_head(engine)
            upgrade_to_head(engine)  # a second start changes nothing
            assert alembic_revision(engine) == HEAD
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"include_object": include_object})
                differences = compare_metadata(context, Base.metadata)
                assert differences == []
                if backend == "postgresql":  # pg_trgm is installed here: the search box gets its indexes
                    indexes = {i["name"] for t in ("tickets", "ticket_messages")
                               for i in inspect(connection).get_indexes(t)}
                    assert set(TRIGRAM_INDEXES) <= indexes
                assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        finally:
            engine.dispose()
