"""Alembic on the billing database: a database made by the pre-migration `create_all` and
seeded is stamped and upgraded when the service starts, and keeps every account, bill and payment."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from billing_service.db import MIGRATIONS, make_engine, upgrade_to_head
from billing_service.main import create_app
from billing_service.models import Account, Base, Bill, Payment
from billing_service.seed import load_seed
from billing_service.settings import Settings

DEMO_SEED = Path(__file__).resolve().parents[2] / "billing_service" / "demo_seed.json"
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()


def counts(engine: Engine) -> tuple[int, int, int, int]:
    with engine.connect() as connection:
        return (
            connection.scalar(select(func.count()).select_from(Account)) or 0,
            connection.scalar(select(func.count()).select_from(Bill)) or 0,
            connection.scalar(select(func.count()).select_from(Payment)) or 0,
            connection.scalar(select(func.sum(Bill.principal))) or 0,
        )


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_service_upgrades_a_legacy_database_and_keeps_its_data(
    backend: str, make_database: Callable[[str], str], settings_for: Callable[..., Settings]
) -> None:
    url = make_database(backend)
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)  # how the service made its tables before migrations
        load_seed(engine, DEMO_SEED)
        before = counts(engine)
        assert before[0] == 40 and revision(engine) is None
        with TestClient(create_app(settings_for(url, seed=None))) as client:
            assert client.get("/health").status_code == 200
            assert client.get("/api/v1/accounts/2024000001").status_code == 200
        assert revision(engine) == HEAD
        assert counts(engine) == before
    finally:
        engine.dispose()


def test_fresh_database_at_head_matches_the_models(backend: str, make_database: Callable[[str], str]) -> None:
    engine = make_engine(make_database(backend))
    try:
        upgrade_to_head(engine)
        upgrade_to_head(engine)
        assert revision(engine) == HEAD
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()
