"""What the console answers (and logs) when the database refuses a request: a clear 4xx/503,
never a 500 with a traceback. The handlers are the app's own (``install_error_handlers``)."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from console.main import install_error_handlers


class DriverError(Exception):
    """Stands for the DB driver's own exception class (what the log names)."""


def _app(exc: DBAPIError) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    "exc_type, status_code, detail, level, logged",
    [
        (OperationalError, 503, "The database is unavailable; try again shortly.", logging.WARNING,
         "database unavailable: {}"),
        (IntegrityError, 409, "This conflicts with a concurrent change; reload and try again.", logging.INFO,
         "integrity conflict: {}"),
        (DataError, 400, "A value in the request is out of range.", logging.INFO, "database refused a value: {}"),
    ],
)
@pytest.mark.parametrize("orig", [DriverError("x"), None])
def test_database_refusals(
    caplog: pytest.LogCaptureFixture, exc_type: type[DBAPIError], status_code: int, detail: str, level: int,
    logged: str, orig: Exception | None,
) -> None:
    caplog.set_level(logging.INFO, logger="console")
    response = _app(exc_type("SELECT 1", {}, orig))  # type: ignore[arg-type]
    answer = response.get("/boom")
    assert answer.status_code == status_code
    assert answer.json() == {"detail": detail}
    records = [r for r in caplog.records if r.name == "console"]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (level, logged.format("DriverError" if orig else exc_type.__name__))
    ]
