"""Logins and server-side sessions: a deactivation or logout takes effect on the next request."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from console.db import utcnow
from console.models import Agent, AgentSession
from console.repository import get_agent_by_username
from console.security import hash_password, needs_rehash, new_session_token, same_secret, token_digest, verify_password

SESSION_TOUCH_INTERVAL = dt.timedelta(seconds=60)


def authenticate(session: Session, username: str, password: str) -> Agent | None:
    """The agent for these credentials, or None; same work whether or not the user exists."""
    agent = get_agent_by_username(session, username)
    valid = verify_password(agent.password_hash if agent else None, password)
    if agent is None or not valid or not agent.active:
        return None
    if needs_rehash(agent.password_hash):
        agent.password_hash = hash_password(password)
    agent.last_login_at = utcnow()
    return agent


def create_session(session: Session, agent: Agent, lifetime: dt.timedelta) -> str:
    """A new random session token (returned once; only its digest is stored)."""
    token = new_session_token()
    now = utcnow()
    session.add(
        AgentSession(token_hash=token_digest(token), agent_id=agent.id, created_at=now,
                     last_seen_at=now, expires_at=now + lifetime)
    )
    return token


def agent_for_token(session: Session, token: str) -> Agent | None:
    """The active agent of a live session, or None (revoked, expired, deactivated)."""
    digest = token_digest(token)
    row = session.scalar(select(AgentSession).where(AgentSession.token_hash == digest))
    now = utcnow()
    # compare_digest too: the lookup must not depend on a collation's idea of equality.
    if row is None or not same_secret(row.token_hash, digest):
        return None
    if row.revoked_at is not None or row.expires_at <= now or not row.agent.active:
        return None
    if now - row.last_seen_at > SESSION_TOUCH_INTERVAL:
        row.last_seen_at = now
        session.commit()
    return row.agent


def revoke_session(session: Session, token: str) -> None:
    session.execute(
        update(AgentSession)
        .where(AgentSession.token_hash == token_digest(token), AgentSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_agent_sessions(session: Session, agent_id: int) -> None:
    session.execute(
        update(AgentSession)
        .where(AgentSession.agent_id == agent_id, AgentSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
