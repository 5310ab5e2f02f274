"""Engine and session factory for the console's SQL database (SQLite or PostgreSQL)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any, Iterator, Sequence

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, DateTime, Engine, Table, create_engine, event, inspect, text
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


def bulk_insert(connection: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert many rows, each a tuple of values for the columns ``names``: COPY on PostgreSQL,
    the driver's executemany on SQLite, SQLAlchemy's executemany elsewhere.

    A reminder campaign writes a row per household (tens of thousands); SQLAlchemy's per-row
    parameter processing cost more than the inserts. Values still go through each column's own
    type (a ``UTCDateTime`` is stored as the same naive UTC text or timestamp SQLAlchemy stores),
    once per distinct value.
    """
    if not rows:
        return
    dialect = connection.dialect
    if (dialect.name, dialect.driver) not in (("postgresql", "psycopg"), ("sqlite", "pysqlite")):
        connection.execute(table.insert(), [dict(zip(names, row)) for row in rows])
        return
    processors = [(index, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
                  for index, name in enumerate(names)]
    processors = [(index, processor) for index, processor in processors if processor is not None]
    if processors:
        seen: dict[Any, Any] = {}
        rows = [_processed(row, processors, seen) for row in rows]
    column_list = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    target = dialect.identifier_preparer.format_table(table)
    if dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {target} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        placeholders = ", ".join("?" for _ in names)
        connection.exec_driver_sql(f"INSERT INTO {target} ({column_list}) VALUES ({placeholders})", list(rows))


def _processed(row: Sequence[Any], processors: list[tuple[int, Any]], seen: dict[Any, Any]) -> tuple[Any, ...]:
    """The row with its values bound by their column types; ``seen`` remembers hashable results
    (a plan's rows share one ``updated_at``)."""
    values = list(row)
    for index, processor in processors:
        value = values[index]
        if value is None:
            continue
        try:
            values[index] = seen[index, value]
        except KeyError:
            values[index] = seen[index, value] = processor(value)
        except TypeError:  # unhashable, e.g. a JSON value
            values[index] = processor(value)
    return tuple(values)


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
