"""Rasa's stored trackers (`{"events": [...], "name": id}`), compared and joined as JSON, not replayed.

Rasa 3.6's `RedisTrackerStore.save` turns the stored conversation back into a tracker (every event
through `Event.from_parameters` and the tracker, then again in `travel_back_in_time`) only to find,
nearly always, that the tracker being saved already starts with every stored event. Its
`retrieve` replays every event twice: once for the whole conversation, once more for the last
session. `bot.stores.tracker.HeatDeskTrackerStore` asks the same questions of the JSON (here, and for the
common case in a Redis script) and leaves Rasa's own rebuild for the cases they cannot answer.

Serialised text is what Rasa writes: `json.dumps(Dialogue.as_dict())`, default separators.

Turning the JSON back into events is the other cost: Rasa's `Event.from_parameters` looks the
event class up by walking every subclass of `Event` (with an `inspect.isabstract` each) for every
event, ~75 µs an event here, more than replaying it. `events_from_dicts` does the same with the
lookup cached.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any, Dict, List, Optional, Type

from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import Event

logger = logging.getLogger(__name__)

#: What precedes the first event in Rasa's serialisation of a dialogue.
EVENTS_OPEN = '{"events": ['


def events_close(sender_id: str) -> str:
    """What follows the last event in Rasa's serialisation of `sender_id`'s dialogue.

    The stored text without it ends with a whole event (valid JSON), so when a new text starts
    with that, the new tracker starts with every stored event: Rasa's merge would return it
    unchanged. `bot.stores.tracker` checks this inside Redis, where the stored text is.
    """
    return '], "name": ' + json.dumps(sender_id) + "}"


def events_before(events: List[Dict[str, Any]], start: int) -> str:
    """The serialised text of a dialogue up to its event `start`: `{"events": [e0, …, e(start-1), `.

    `json.dumps` of what `json.loads` read gives back the same text, so this is a prefix of the
    stored text: a tracker of events[start:] serialised goes on after it.
    """
    return EVENTS_OPEN + "".join(json.dumps(event) + ", " for event in events[:start])


def joined(stored: str, serialised: str) -> Optional[str]:
    """The stored events up to where the saved tracker begins, then all of the saved tracker's.

    Answers the other common case: the tracker being saved is the last session of several (what
    `retrieve` returns) and the stored text holds the earlier ones too. Rasa's merge gives the
    same events: the stored ones, then each saved event it does not have yet. None when the saved
    tracker does not begin inside the stored events, or their overlap differs (e.g. another
    writer added an event meanwhile): the caller then lets Rasa merge.
    """
    old: List[Dict[str, Any]] = json.loads(stored).get("events") or []
    document = json.loads(serialised)
    new: List[Dict[str, Any]] = document.get("events") or []
    if not old:
        return serialised
    if not new:
        return None
    # Events carry their timestamps: the saved tracker's first event occurs once at most.
    start = next((index for index in range(len(old) - 1, -1, -1) if old[index] == new[0]), None)
    if start is None:
        return None
    overlap = old[start:]
    if new[: len(overlap)] != overlap:
        return None
    return json.dumps({"events": old[:start] + new, "name": document.get("name")})


def is_session_start(event: Dict[str, Any]) -> bool:
    return event.get("event") == "action" and event.get("name") == ACTION_SESSION_START_NAME


def last_session_start(events: List[Dict[str, Any]]) -> int:
    """Index of the last `action_session_start` (0 when there is none): where `retrieve` begins.

    The same split as Rasa's `get_trackers_for_conversation_sessions`, which starts a session at
    each `action_session_start` and keeps it in that session.
    """
    for index in range(len(events) - 1, 0, -1):
        if is_session_start(events[index]):
            return index
    return 0


@lru_cache(maxsize=None)
def _event_class(type_name: str) -> Optional[Type[Event]]:
    """Rasa's own lookup, once per event type (the classes are all imported once a model runs)."""
    return Event.resolve_by_type(type_name)


def events_from_dicts(serialised_events: List[Dict[str, Any]]) -> List[Event]:
    """Rasa's `deserialise_events` (same events, same skips) with the class lookup cached."""
    events: List[Event] = []
    for parameters in serialised_events:
        type_name = parameters.get("event")
        if type_name is None:
            continue
        event_class = _event_class(type_name)
        # Event.from_parameters is exactly this: the class by name, then its _from_parameters.
        event = event_class._from_parameters(parameters) if event_class is not None else None
        if event:
            events.append(event)
        else:
            logger.warning("Could not deserialise a stored event of type '%s'; skipped.", type_name)
    return events
