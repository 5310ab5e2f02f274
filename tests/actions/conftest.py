"""rasa-sdk style fixtures: a tracker built from a latest message, slots and events, and the domain."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker

from bot.settings import ROOT


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def make_tracker(
    text: str,
    intent: str,
    *,
    ranking: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    channel: str = "rest",
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
        "entities": [],
    }
    user = {"event": "user", "text": text, "parse_data": latest, "input_channel": channel}
    history = events if events is not None else [user, {"event": "action", "name": "action_extract_slots"}]
    return Tracker(
        "resident-1", dict(slots or {}), latest, history, False, None,
        {"name": active_loop} if active_loop else {}, "action_listen",
    )


@pytest.fixture
def tracker_for() -> Callable[..., Tracker]:
    return make_tracker
