"""Engine and session factory for the console's SQL database (SQLite or PostgreSQL)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, DateTime, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001_baseline"


class Base(DeclarativeBase):
    """Declarative base of every console table."""


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite drops the offset, PostgreSQL keeps it; storing naive UTC and handing
    back aware UTC makes comparisons and JSON output identical on both.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    """The console's clock (aware UTC); one seam for time."""
    return dt.datetime.now(dt.timezone.utc)


def make_engine(database_url: str) -> Engine:
    """An engine tuned for concurrent API requests plus the stream consumer."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_pre_ping=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the SSE/metrics readers run while a claim writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextlib.contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for Alembic, with SQLite's foreign keys off.

    SQLite alters a table by copying it and dropping the original; with foreign keys on,
    that DROP would cascade to the notes and messages of every ticket.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside any transaction
            connection.commit()
        try:
            with connection.begin():
                yield connection
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade_to_head(engine: Engine) -> None:
    """Migrate the database to the newest schema with Alembic (console/migrations).

    A database made by the `create_all` of earlier releases has the tables but no
    alembic_version: it is stamped as the baseline first, so its rows stay untouched.
    """
    with migration_connection(engine) as connection:
        if connection.dialect.name == "postgresql":
            # Two consoles starting together must not both run the same migration.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('heatdesk-console-schema'))"))
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        tables = inspect(connection).get_table_names()
        if "alembic_version" not in tables and "tickets" in tables:
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
