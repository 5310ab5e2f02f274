"""The FastAPI application: ``uvicorn billing_service.main:app --port $BILLING_PORT``."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from billing_service.db import upgrade_to_head, make_engine, make_session_factory
from billing_service.deps import SessionDep
from billing_service.errors import install_error_handlers
from billing_service.routers import accounts, reports
from billing_service.seed import load_seed
from billing_service.settings import Settings

logger = logging.getLogger("billing_service")

DESCRIPTION = """\
The billing API that HeatDesk (供热智能客服) reads balances from.

This reference implementation keeps accounts (户), bills (one per heating
season) and payments in SQL. A heating company can serve the same endpoints
over its own billing system; docs/billing_api.md is the full contract.

* Amounts are strings with two decimals (`"2509.00"`), dates `YYYY-MM-DD`.
* Errors are `{"code": "...", "message": "..."}` with the HTTP status.
* Late fees are not stored; they follow from bills and payments by the rule
  (1‰ of the unpaid principal per day after the due date, from 2024-01-01,
  capped at the principal).
"""

TAGS = [
    {"name": "accounts", "description": "Households, their bills and payments; phone check before money."},
    {"name": "reports", "description": "Aggregates for the company (arrears per district)."},
    {"name": "health", "description": "Liveness with a real database round trip."},
]


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    """Build the app; the engine is made and the seed loaded at start-up, not at import."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        app.state.late_fee_policy = settings.late_fee_policy()
        try:
            upgrade_to_head(engine)
            if settings.seed_path is not None:
                load_seed(engine, settings.seed_path)
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="HeatDesk billing API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(accounts.router)
    app.include_router(reports.router)

    @app.get(
        "/health",
        tags=["health"],
        summary="200 only when the database answers",
        responses={503: {"description": "database unreachable"}},
    )
    def health(session: SessionDep) -> JSONResponse:
        try:
            session.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            logger.warning("health check: database unavailable: %s", exc.__class__.__name__)
            return JSONResponse({"status": "unavailable", "database": "error"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return app


app = create_app()
