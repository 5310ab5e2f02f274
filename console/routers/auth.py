"""Log-in, log-out and the current agent.

Passwords are argon2id hashes; the cookie carries a signed random token whose
digest names a server-side session row. Attempts count against three budgets in
Redis (HTTP 429 with Retry-After): per username and IP, per IP across usernames,
and a global ceiling for the whole console.
"""

from __future__ import annotations

import datetime as dt
import logging

import redis
from fastapi import APIRouter, HTTPException, Request, Response, status

from console import redis_ops
from console.deps import CurrentAgent, RedisDep, RunnerDep, SessionCookie, SessionDep, SettingsDep, session_token
from console.schemas.agents import AgentPublic, AgentRename, LoginRequest, PasswordChange
from console.services import assignment, presence
from console.security import SESSION_COOKIE, rate_limit_id, sign_session
from console.services.agents import rename_agent, set_password
from console.services.sessions import authenticate, create_session, revoke_session
from console.settings import Settings

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["auth"])

INVALID_CREDENTIALS = "Invalid username or password."


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _budgets(settings: Settings, username: str, ip: str) -> list[tuple[str, int]]:
    """(Redis key, most tries per window): the username+IP pair, the IP on any username, everyone."""
    return [
        (settings.keys.login_attempts(rate_limit_id(username, ip)), settings.CONSOLE_LOGIN_MAX_ATTEMPTS),
        (settings.keys.login_attempts_of_ip(rate_limit_id("", ip)), settings.CONSOLE_LOGIN_MAX_FAILURES_PER_IP),
        (settings.keys.login_attempts_all(), settings.CONSOLE_LOGIN_MAX_FAILURES_GLOBAL),
    ]


def check_rate_limit(client: redis.Redis, settings: Settings, username: str, ip: str) -> None:
    """Count this attempt against every budget; refuse with 429 once one is spent.

    Counted before the password is checked (a success gives the IP and global counts
    back), so parallel guesses cannot slip past. Fails closed: when Redis cannot
    count, nobody gets unlimited guesses.
    """
    window = settings.CONSOLE_LOGIN_WINDOW_SECONDS
    budgets = _budgets(settings, username, ip)
    try:
        pipe = client.pipeline(transaction=True)
        for key, _limit in budgets:
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
        results = pipe.execute()
    except redis.RedisError:
        logger.warning("login refused: the rate limiter (Redis) is unavailable")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Login is unavailable right now; try again shortly.")
    for index, (_key, limit) in enumerate(budgets):
        attempts, ttl = results[3 * index + 1], results[3 * index + 2]
        if int(attempts) > limit:
            retry_after = max(int(ttl), 1)
            logger.warning("login rate limit hit (%s)", ("username/IP", "IP", "global")[index])
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"Too many login attempts; try again in {retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )


def clear_rate_limit(client: redis.Redis, settings: Settings, username: str, ip: str) -> None:
    """A successful login: its pair's budget is reset, and it was no failure for the others."""
    pair, *others = _budgets(settings, username, ip)
    try:
        pipe = client.pipeline(transaction=True)
        pipe.delete(pair[0])
        for key, _limit in others:
            pipe.decr(key)
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not reset the login counter (Redis unavailable)")


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        sign_session(settings.session_secret(), token),
        max_age=int(settings.CONSOLE_SESSION_HOURS * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.CONSOLE_COOKIE_SECURE,
        path="/",
    )


@router.post(
    "/login",
    response_model=AgentPublic,
    summary="Log in and receive the session cookie",
    responses={
        401: {"description": "wrong username or password, or the account is deactivated"},
        429: {"description": "too many attempts for this username from this address; see Retry-After"},
        503: {"description": "the rate limiter (Redis) is unavailable"},
    },
)
def login(
    body: LoginRequest, request: Request, response: Response, session: SessionDep, settings: SettingsDep,
    client: RedisDep, runner: RunnerDep,
) -> AgentPublic:
    ip = client_ip(request)
    check_rate_limit(client, settings, body.username, ip)
    agent = authenticate(session, body.username, body.password)
    if agent is None:
        session.rollback()
        logger.info("failed login attempt")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, INVALID_CREDENTIALS)
    token = create_session(session, agent, _lifetime(settings))
    presence.start_shift(session, agent)
    redis_ops.commit(session, runner)
    clear_rate_limit(client, settings, body.username, ip)
    presence.mark_present(client, settings, agent)
    assignment.sweep_after(session, runner, client, settings, "login")  # tickets waiting for someone online
    set_session_cookie(response, settings, token)
    logger.info("agent %s logged in", agent.username)
    return AgentPublic.model_validate(agent, from_attributes=True)


def _lifetime(settings: Settings) -> dt.timedelta:
    return dt.timedelta(hours=settings.CONSOLE_SESSION_HOURS)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
def logout(
    agent: CurrentAgent, session: SessionDep, settings: SettingsDep, cookie: SessionCookie, response: Response,
    client: RedisDep, runner: RunnerDep,
) -> Response:
    revoke_session(session, session_token(settings, cookie))
    presence.end_shift(session, agent)
    redis_ops.commit(session, runner)
    presence.mark_absent(client, settings, agent.id)
    logger.info("agent %s logged out", agent.username)
    response.status_code = status.HTTP_204_NO_CONTENT
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=settings.CONSOLE_COOKIE_SECURE)
    return response


@router.get("/me", response_model=AgentPublic, summary="The logged-in agent")
def me(agent: CurrentAgent) -> AgentPublic:
    return AgentPublic.model_validate(agent, from_attributes=True)


@router.patch("/me", response_model=AgentPublic, summary="Set my display name (what residents are told)")
def rename_me(body: AgentRename, agent: CurrentAgent, session: SessionDep) -> AgentPublic:
    rename_agent(session, agent, body.display_name, agent)
    session.commit()
    return AgentPublic.model_validate(agent, from_attributes=True)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change my password (other sessions are logged out)",
    responses={400: {"description": "the current password is wrong"}, 429: {"description": "too many attempts"}},
)
def change_password(
    body: PasswordChange, request: Request, agent: CurrentAgent, session: SessionDep, settings: SettingsDep,
    client: RedisDep, response: Response,
) -> Response:
    check_rate_limit(client, settings, agent.username, client_ip(request))
    if authenticate(session, agent.username, body.current_password) is None:
        session.rollback()
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "The current password is wrong.")
    set_password(session, agent, body.new_password)
    token = create_session(session, agent, _lifetime(settings))
    session.commit()
    set_session_cookie(response, settings, token)
    logger.info("agent %s changed their password", agent.username)
    response.status_code = status.HTTP_204_NO_CONTENT
    return response
