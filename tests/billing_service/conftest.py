"""Databases for the billing service tests: a temporary SQLite file and a temporary PostgreSQL database.

Every test that takes ``backend`` runs on both. PostgreSQL databases are created
per use with CREATE DATABASE and dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from billing_service.main import create_app
from billing_service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEMO_SEED = ROOT / "billing_service" / "demo_seed.json"
CITY_FILE = ROOT / "config" / "city.yml"
HEATING_TODAY = dt.date(2025, 2, 15)
PG_ADMIN_URL = os.environ.get("BILLING_TEST_PG_ADMIN_URL", "postgresql://postgres@localhost/postgres")

BACKENDS = ["sqlite", "postgresql"]


def _pg_admin() -> "object":
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")


@pytest.fixture(scope="session")
def make_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Factory: a new empty database URL for a backend; all are dropped at the end of the session."""
    created_pg: list[str] = []

    def make(backend: str) -> str:
        name = f"heatdesk_billing_test_{uuid.uuid4().hex[:12]}"
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / (name + '.db')}"
        if backend == "postgresql":
            with _pg_admin() as conn:  # type: ignore[attr-defined]
                conn.execute(f'CREATE DATABASE "{name}"')
            created_pg.append(name)
            admin = PG_ADMIN_URL.rsplit("/", 1)[0]
            return f"{admin.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
        raise ValueError(backend)

    yield make
    if created_pg:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for name in created_pg:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(database_url: str, seed: Path | None = DEMO_SEED) -> Settings:
    """Settings for a test; every field explicit so the caller's environment cannot leak in."""
    return Settings(
        BILLING_DATABASE_URL=database_url,
        BILLING_SEED_FILE=str(seed) if seed else None,
        HEATING_TODAY=HEATING_TODAY,
        BILLING_PORT=8100,
        HEATING_CITY_FILE=str(CITY_FILE),
    )


@pytest.fixture(scope="session")
def settings_for() -> Callable[..., Settings]:
    """Build test Settings: ``settings_for(database_url, seed=DEMO_SEED)``."""
    return make_settings


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def client(backend: str, make_database: Callable[[str], str]) -> Iterator[TestClient]:
    """The app on a fresh database of the backend, seeded with the demo data."""
    app = create_app(make_settings(make_database(backend)))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
