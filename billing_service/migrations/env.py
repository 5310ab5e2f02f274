"""Alembic environment of the reference billing database.

The service runs it at start-up on its own connection (`billing_service.db.upgrade_to_head`);
`alembic -c billing_service/alembic.ini ...` runs it on BILLING_DATABASE_URL for an operator.
"""

from __future__ import annotations

from alembic import context

from billing_service.db import make_engine
from billing_service.models import Base
from billing_service.settings import Settings


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        engine = make_engine(Settings().database_url)
        with engine.begin() as connection:
            _migrate(connection)
        engine.dispose()
    else:
        _migrate(connection)


def _migrate(connection: object) -> None:
    # Batch mode: SQLite can only ALTER a table by copying it.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
