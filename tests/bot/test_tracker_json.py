"""bot.tracker_json on serialised dialogues; tests/bot/test_stores.py compares the store with Rasa's."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from bot import tracker_json


def event(name: str, timestamp: float) -> Dict[str, Any]:
    return {"event": "action", "timestamp": timestamp, "name": name}


def text(events: List[Dict[str, Any]], sender: str = "rest:张三") -> str:
    """Serialised as Rasa's tracker stores write it (`json.dumps(Dialogue.as_dict())`)."""
    return json.dumps({"events": events, "name": sender})


START, LISTEN, GREET, THANK = (event("action_session_start", 1.0), event("action_listen", 2.0),
                               event("utter_greet", 3.0), event("utter_thank", 4.0))


def test_events_close_is_what_follows_the_last_event() -> None:
    serialised = text([START, LISTEN])
    assert serialised.startswith(tracker_json.EVENTS_OPEN)
    assert serialised.endswith(tracker_json.events_close("rest:张三"))
    assert json.loads(tracker_json.EVENTS_OPEN + "]" + tracker_json.events_close("rest:张三")[1:]) == {
        "events": [], "name": "rest:张三"}


def test_joined_keeps_the_earlier_sessions_before_the_saved_last_one() -> None:
    second = event("action_session_start", 5.0)
    stored = text([START, LISTEN, GREET, second, LISTEN | {"timestamp": 6.0}])
    saved = text([second, LISTEN | {"timestamp": 6.0}, THANK | {"timestamp": 7.0}])
    merged = json.loads(tracker_json.joined(stored, saved) or "null")
    assert merged["events"] == [START, LISTEN, GREET, second, LISTEN | {"timestamp": 6.0}, THANK | {"timestamp": 7.0}]
    assert merged["name"] == "rest:张三"
    assert tracker_json.joined(text([]), saved) == saved


def test_joined_leaves_what_it_cannot_tell_to_rasa() -> None:
    stored = text([START, LISTEN, GREET])
    assert tracker_json.joined(stored, text([THANK])) is None  # begins with no stored event
    assert tracker_json.joined(stored, text([LISTEN, THANK])) is None  # another writer's GREET
    assert tracker_json.joined(stored, text([])) is None


def test_last_session_start() -> None:
    second = event("action_session_start", 5.0)
    assert tracker_json.last_session_start([START, LISTEN, second, GREET]) == 2
    assert tracker_json.last_session_start([LISTEN, START, GREET]) == 1
    assert tracker_json.last_session_start([START, LISTEN]) == 0
    assert tracker_json.last_session_start([LISTEN, GREET]) == 0
    assert tracker_json.last_session_start([]) == 0


def test_events_before_is_a_prefix_of_the_stored_text() -> None:
    second = event("action_session_start", 5.0)
    stored = text([START, LISTEN | {"text": "你好\u2028"}, second, GREET])
    events = json.loads(stored)["events"]
    assert stored.startswith(tracker_json.events_before(events, 2))
    assert tracker_json.events_before(events, 2) + text([second, GREET])[len(tracker_json.EVENTS_OPEN):] == stored
    assert tracker_json.events_before(events, 0) == tracker_json.EVENTS_OPEN
