"""The console application: ``app`` for uvicorn, ``create_app`` for tests.

The lifespan opens the database (migrated to the newest schema), Redis and the
billing client, makes sure the bootstrap supervisor exists, and starts the
ticket stream consumer and the Redis-op retry worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request, status
from fastapi_offline import FastAPIOffline
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from billing_client.client import BillingClient, BillingUnavailable
from console.consumer import TicketStreamConsumer, run_ops_worker
from console.db import upgrade_to_head, make_engine, make_session_factory
from console.deps import SessionDep
from console.errors import ConsoleError
from console.redis_ops import NO_PERSISTENCE_WARNING, RedisOpRunner, redis_persistence
from console.reminders import router as reminders
from console.reminders.sender import ReminderSender, make_wechat
from console.repository import normalize_username
from console.routers import agents, auth, canned, events, metrics, tickets, ui_support
from console.routers import presence as presence_router, teams as teams_router
from console.schemas.metrics import Health
from console.security import RedactingFilter
from console.services.agents import ensure_admin
from console.settings import STATIC_DIR, Settings, get_settings

logger = logging.getLogger("console")

_QUIET_LOGGERS = ("httpx", "httpcore")  # httpx logs full URLs at INFO, Rasa's token included


def configure_logging() -> None:
    """Our records reach the console output, and every handler masks phones and tokens."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    redactor = RedactingFilter()
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "console"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(redactor)
        for handler in target.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redactor)


def bootstrap_admin(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    if not (settings.CONSOLE_ADMIN_USER and settings.CONSOLE_ADMIN_PASSWORD):
        return
    with app.state.session_factory() as session:
        ensure_admin(session, settings.CONSOLE_ADMIN_USER, settings.CONSOLE_ADMIN_PASSWORD.get_secret_value())
        session.commit()
    logger.info("bootstrap supervisor %s is ready", normalize_username(settings.CONSOLE_ADMIN_USER))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    configure_logging()
    settings: Settings = app.state.settings
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    # encoding_errors="replace": one entry with invalid UTF-8 must not wedge the stream consumer.
    # One read timeout for both clients; every blocking stream read blocks for less
    # (Settings.redis_block_ms). redis-py's own default (5 s) equalled the live stream's block.
    options = {"decode_responses": True, "encoding_errors": "replace", "socket_connect_timeout": 2,
               "socket_timeout": settings.CONSOLE_REDIS_TIMEOUT_SECONDS, "health_check_interval": 15}
    app.state.redis = redis.Redis.from_url(settings.REDIS_URL, **options)
    app.state.aredis = aioredis.from_url(settings.REDIS_URL, **options)
    app.state.runner = RedisOpRunner(settings, app.state.redis, app.state.session_factory)
    app.state.billing = BillingClient(settings.BILLING_URL, timeout=min(settings.HTTP_TIMEOUT_SECONDS, 2.0))
    bootstrap_admin(app)
    stop = asyncio.Event()
    background: list[asyncio.Task[None]] = []
    if app.state.start_background:
        consumer = TicketStreamConsumer(settings, app.state.aredis, app.state.session_factory, app.state.runner)
        app.state.consumer = consumer
        background = [
            asyncio.create_task(consumer.run(stop), name="ticket-stream-consumer"),
            asyncio.create_task(run_ops_worker(app.state.runner, stop), name="redis-op-worker"),
        ]
        app.state.wechat = make_wechat(settings, app.state.aredis)
        sender = ReminderSender(settings, app.state.session_factory, app.state.aredis, app.state.billing,
                                app.state.wechat)
        background.append(asyncio.create_task(sender.run(stop), name="reminder-sender"))
    logger.info("console ready (consumer %s)", settings.consumer_name)
    try:
        yield
    finally:
        stop.set()
        if background:
            _done, pending = await asyncio.wait(background, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if getattr(app.state, "wechat", None) is not None:
            await app.state.wechat.aclose()
        await app.state.billing.aclose()
        await app.state.aredis.aclose()
        app.state.redis.close()
        engine.dispose()


def _error(status_code: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


# What the database refused, how loud that is in the log (with the driver's error class) and the answer.
_DATABASE_REFUSALS: tuple[tuple[type[DBAPIError], int, str, int, str], ...] = (
    (OperationalError, logging.WARNING, "database unavailable: %s",
     status.HTTP_503_SERVICE_UNAVAILABLE, "The database is unavailable; try again shortly."),
    # A race lost to a concurrent request (e.g. two supervisors creating the same username).
    (IntegrityError, logging.INFO, "integrity conflict: %s",
     status.HTTP_409_CONFLICT, "This conflicts with a concurrent change; reload and try again."),
    # A value the database cannot hold (e.g. an integer beyond its range) is the client's mistake.
    (DataError, logging.INFO, "database refused a value: %s",
     status.HTTP_400_BAD_REQUEST, "A value in the request is out of range."),
)


def _database_refusal(level: int, log_format: str, status_code: int, detail: str) -> Callable[..., Any]:
    """One handler per row of :data:`_DATABASE_REFUSALS`: they differ only in those values."""

    async def refuse(_request: Request, exc: DBAPIError) -> JSONResponse:
        logger.log(level, log_format, type(exc.orig).__name__ if exc.orig else type(exc).__name__)
        return _error(status_code, detail)

    return refuse


def install_error_handlers(app: FastAPI) -> None:
    """Expected failures become clear 4xx/503 answers, never a 500 with a traceback."""

    @app.exception_handler(ConsoleError)
    async def _console_error(_request: Request, exc: ConsoleError) -> JSONResponse:
        return _error(exc.status_code, exc.message)

    for exc_type, level, log_format, status_code, detail in _DATABASE_REFUSALS:
        app.add_exception_handler(exc_type, _database_refusal(level, log_format, status_code, detail))

    @app.exception_handler(BillingUnavailable)
    async def _billing_down(_request: Request, exc: BillingUnavailable) -> JSONResponse:
        # E.g. a reminder campaign planned while the billing API is down: nothing was planned.
        logger.warning("billing API unavailable: %s", type(exc).__name__)
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, "The billing system is unavailable; nothing was changed, try again shortly.")

    @app.exception_handler(redis.RedisError)
    async def _redis_down(_request: Request, exc: redis.RedisError) -> JSONResponse:
        logger.warning("redis unavailable: %s", type(exc).__name__)
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, "Redis is unavailable; try again shortly.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's list of errors, minus the echoed input (it may hold a password).
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=status.HTTP_422_UNPROCESSABLE_ENTITY)


class SecurityHeaders:
    """Browser hardening for a cookie-authenticated app: no sniffing, no framing by other sites,
    no caching of API answers. Pure ASGI, so streamed SSE responses pass through untouched."""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"referrer-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope.get("path", "").startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                extra = list(self.HEADERS) + ([(b"cache-control", b"no-store")] if is_api else [])
                headers.extend((name, value) for name, value in extra if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SameOriginWrites:
    """CSRF defence: a state-changing /api request that a browser sent from another site is refused.

    Browsers send `Origin` (else `Referer`) with every POST/PUT/PATCH/DELETE; when either is
    there it must name this console's own host (or one of `CONSOLE_ALLOWED_ORIGINS`, for a
    reverse proxy on another name). Requests with neither come from non-browser clients (the
    CLI, scripts), which cannot carry an agent's cookie without being given it.
    """

    SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = {origin.rstrip("/").lower() for origin in allowed_origins if origin}

    def _same_site(self, source: str, host: str) -> bool:
        parsed = urlsplit(source)
        origin = f"{parsed.scheme}://{parsed.netloc}".lower()
        return bool(parsed.netloc) and (parsed.netloc.lower() == host.lower() or origin in self.allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method", "GET") not in self.SAFE_METHODS
            and scope.get("path", "").startswith("/api/")
        ):
            headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
            source = headers.get("origin") or headers.get("referer") or ""
            if source and not self._same_site(source, headers.get("host", "")):
                logger.warning("cross-site %s %s refused", scope.get("method"), scope.get("path"))
                response = _error(status.HTTP_403_FORBIDDEN, "Cross-site request refused (Origin/Referer is not this console).")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, *, start_background: bool = True) -> FastAPI:
    """Build the console app; tests pass their own settings (and may skip the background tasks)."""
    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from the package, not a CDN,
    # so the API documentation works on an intranet without internet access.
    app = FastAPIOffline(
        title="HeatDesk console API",
        version="1.0.0",
        description="Agent handoff console of HeatDesk (供热智能客服): tickets, live chat with the user, "
        "notes, SLA and the supervisor dashboard. Log in with POST /api/login; the session cookie "
        "authenticates every other /api call. See docs/console_api.md.",
        lifespan=lifespan,
    )
    app.state.settings = settings or get_settings()
    app.state.start_background = start_background
    install_error_handlers(app)
    app.add_middleware(SecurityHeaders)
    origins = tuple(o.strip() for o in app.state.settings.CONSOLE_ALLOWED_ORIGINS.split(",") if o.strip())
    app.add_middleware(SameOriginWrites, allowed_origins=origins)
    # ui_support: small additions the web UI needs (GET /api/events/position), owned by the UI.
    for module in (auth, tickets, canned, presence_router, agents, teams_router, events, ui_support, metrics,
                   reminders):
        app.include_router(module.router)

    @app.get("/health", response_model=Health, tags=["health"], summary="200 only when the database and Redis answer",
             responses={503: {"model": Health, "description": "a dependency is down"}})
    def health(session: SessionDep, request: Request) -> JSONResponse:
        database = redis_state = "ok"
        try:
            session.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            database = f"error: {type(exc).__name__}"
        persistence = "unknown"
        try:
            request.app.state.redis.ping()
            persistence = redis_persistence(request.app.state.redis)
        except redis.RedisError as exc:
            redis_state = f"error: {type(exc).__name__}"
        healthy = database == "ok" and redis_state == "ok"
        warnings = [NO_PERSISTENCE_WARNING] if persistence == "none" else []
        body = Health(status="ok" if healthy else "unavailable", database=database, redis=redis_state,
                      redis_persistence=persistence, warnings=warnings)
        return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)

    # Static files (filled by the UI engineers): the agent console at /console (→ /console/app/),
    # and the same folder at / for the company's demo page that hosts the website widget.
    @app.get("/console", include_in_schema=False)
    @app.get("/console/", include_in_schema=False)
    def console_home() -> RedirectResponse:
        return RedirectResponse("/console/app/")

    @app.get("/", include_in_schema=False)
    @app.get("/index.html", include_in_schema=False)
    def demo_home(request: Request) -> HTMLResponse:
        """The demo page, its widget pointed at this installation's Rasa server (RASA_PORT on this host).

        The widget takes its server only from `data-server`, so the page must name it.
        """
        settings: Settings = request.app.state.settings
        server = f"{request.url.scheme}://{request.url.hostname}:{settings.RASA_PORT}"
        page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        tag = '<script src="widget/heatdesk-widget.js"'
        return HTMLResponse(page.replace(tag, f'{tag} data-server="{html.escape(server)}"', 1))

    STATIC_DIR.mkdir(parents=True, exist_ok=True)
    app.mount("/console", StaticFiles(directory=STATIC_DIR, html=True), name="console")
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="site")
    return app


app = create_app()
