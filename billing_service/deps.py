"""FastAPI dependencies as ``Annotated`` aliases; tests build the app with their own Settings."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Callable, Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from billing_client.rule import LateFeePolicy
from billing_service.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


def get_session_factory(request: Request) -> Callable[[], Session]:
    """For a streamed response that opens a short session per chunk instead of one for the request."""
    return request.app.state.session_factory


def get_policy(request: Request) -> LateFeePolicy:
    return request.app.state.late_fee_policy


def get_today(settings: Annotated[Settings, Depends(get_settings)]) -> dt.date:
    return settings.today()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
SessionFactoryDep = Annotated[Callable[[], Session], Depends(get_session_factory)]
PolicyDep = Annotated[LateFeePolicy, Depends(get_policy)]
TodayDep = Annotated[dt.date, Depends(get_today)]
