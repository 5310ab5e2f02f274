"""FastAPI dependencies as ``Annotated`` aliases (full-stack-template style).

Everything a route needs comes from ``app.state`` through these, so tests
build an app with their own settings instead of patching module globals.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import redis
import redis.asyncio as aioredis
from billing_client.client import BillingClient
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie
from sqlalchemy.orm import Session, sessionmaker

from console.services import assignment, presence
from console.models import Agent
from console.redis_ops import RedisOpRunner
from console.security import SESSION_COOKIE, unsign_session
from console.services.sessions import agent_for_token
from console.settings import Settings

cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="Session cookie set by POST /api/login (HttpOnly, SameSite=Lax).",
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


def get_redis(request: Request) -> redis.Redis:
    return request.app.state.redis


def get_async_redis(request: Request) -> aioredis.Redis:
    return request.app.state.aredis


def get_runner(request: Request) -> RedisOpRunner:
    return request.app.state.runner


def get_billing(request: Request) -> BillingClient:
    return request.app.state.billing


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
RedisDep = Annotated[redis.Redis, Depends(get_redis)]
AsyncRedisDep = Annotated[aioredis.Redis, Depends(get_async_redis)]
RunnerDep = Annotated[RedisOpRunner, Depends(get_runner)]
BillingDep = Annotated[BillingClient, Depends(get_billing)]
SessionCookie = Annotated[str | None, Depends(cookie_scheme)]

NOT_LOGGED_IN = "Not logged in; log in with POST /api/login."
SESSION_ENDED = "Your session has expired or was ended; log in again."


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail=detail)


def session_token(settings: Settings, cookie: str | None) -> str:
    """The session token inside a valid cookie, or a 401."""
    if not cookie:
        raise _unauthorized(NOT_LOGGED_IN)
    token = unsign_session(settings.session_secret(), cookie, int(settings.CONSOLE_SESSION_HOURS * 3600))
    if token is None:
        raise _unauthorized(SESSION_ENDED)
    return token


def agent_for_cookie(session: Session, settings: Settings, cookie: str | None) -> Agent:
    """The logged-in, still active agent; checked against the database on every request
    so logout and deactivation take effect at once."""
    agent = agent_for_token(session, session_token(settings, cookie))
    if agent is None:
        raise _unauthorized(SESSION_ENDED)
    return agent


def get_current_agent(session: SessionDep, settings: SettingsDep, cookie: SessionCookie, client: RedisDep,
                      runner: RunnerDep) -> Agent:
    """The agent, on duty again; one back from a closed or sleeping console gets what waited meanwhile."""
    agent = agent_for_cookie(session, settings, cookie)
    if presence.mark_present(client, settings, agent):
        assignment.sweep_after(session, runner, client, settings, "returned")
    return agent


CurrentAgent = Annotated[Agent, Depends(get_current_agent)]


def get_current_supervisor(agent: CurrentAgent) -> Agent:
    if agent.role != "supervisor":
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="This needs a supervisor account.")
    return agent


CurrentSupervisor = Annotated[Agent, Depends(get_current_supervisor)]


def get_stream_agent(request: Request, settings: SettingsDep, cookie: SessionCookie) -> Agent:
    """Like CurrentAgent, but without holding a database connection for a long-lived stream."""
    with request.app.state.session_factory() as session:
        agent = agent_for_cookie(session, settings, cookie)
        session.expunge(agent)
        return agent


StreamAgent = Annotated[Agent, Depends(get_stream_agent)]
