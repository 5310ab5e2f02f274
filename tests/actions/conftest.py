"""Fixtures of the action tests, the rasa-sdk way: a tracker fixture, the domain, and the real
parts the actions talk to.

* `redis`: the run's test database (HEATDESK_TEST_REDIS_DB), flushed before and after each test,
  and the process's settings pointed at it.
* `billing`: the reference billing service as a real process (the Procfile's command, started
  once per session by tests/stack.py on a free port with tests/data/billing_seed.json and
  HEATING_TODAY=2025-02-15), with the actions' billing client pointed at it.
* `billing_down` / `redis_down`: the same settings pointed at a port where nothing listens.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Callable, Dict, Iterator

import pytest
import yaml
from redis import Redis
from rasa_sdk import Tracker

from bot.settings import ROOT, get_settings
from tests.actions.support import make_tracker
from tests.stack import TEST_REDIS_DB, TODAY, Stack, free_port

__all__ = ["make_tracker"]


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture
def tracker_for() -> Callable[..., Tracker]:
    return make_tracker


def _reset_clients() -> None:
    """Settings are read once per process, clients made once: start over after a change."""
    from actions import common
    from bot import redis_client

    get_settings.cache_clear()
    redis_client._clients.clear()
    common._billing = None


@pytest.fixture
def redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[Redis]:
    base = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
    url = f"{base}/{TEST_REDIS_DB}"
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.delenv("HEATDESK_KEY_PREFIX", raising=False)
    _reset_clients()
    client = Redis.from_url(url, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
    monkeypatch.undo()
    _reset_clients()


@pytest.fixture(scope="session")
def billing_service() -> Iterator[Stack]:
    """The billing process, once per session (its data is only read by the actions)."""
    stack = Stack.create()
    try:
        stack.start(["billing"])
        yield stack
    finally:
        stack.stop_all()
        shutil.rmtree(stack.workdir, ignore_errors=True)


@pytest.fixture
def billing(billing_service: Stack, redis: Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The actions' settings on the running billing service and the stack's fixed day."""
    monkeypatch.setenv("BILLING_URL", billing_service.url("billing"))
    monkeypatch.setenv("HEATING_TODAY", TODAY)
    _reset_clients()
    yield billing_service.url("billing")
    _reset_clients()


@pytest.fixture
def billing_down(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A billing URL nobody answers (connection refused at once)."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("BILLING_URL", url)
    monkeypatch.setenv("HEATING_TODAY", TODAY)
    _reset_clients()
    yield url
    _reset_clients()


@pytest.fixture
def redis_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Redis URL nobody answers."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("REDIS_URL", url)
    _reset_clients()
    yield url
    monkeypatch.undo()
    _reset_clients()
