"""Alembic environment of the console database.

The console runs it at start-up on its own connection (`console.db.upgrade_to_head`);
`alembic -c console/alembic.ini ...` runs it on DATABASE_URL for an operator.
"""

from __future__ import annotations

from alembic import context

from console import models  # noqa: F401  (registers the tables)
from console.db import Base, make_engine
from console.search import TRIGRAM_INDEXES
from console.settings import get_settings


def include_object(obj: object, name: str | None, type_: str, reflected: bool, _compare_to: object) -> bool:
    """Autogenerate ignores the optional PostgreSQL trigram indexes (migration 0005, not in the models)."""
    return not (type_ == "index" and reflected and name in TRIGRAM_INDEXES)


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        engine = make_engine(get_settings().database_url)
        with engine.begin() as connection:
            _migrate(connection)
        engine.dispose()
    else:
        _migrate(connection)


def _migrate(connection: object) -> None:
    # Batch mode: SQLite can only ALTER a table by copying it.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


run()
