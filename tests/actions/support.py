"""rasa-sdk style helpers for the action tests: a tracker built like the one Rasa sends, and one
turn of an action run with a CollectingDispatcher in a fresh event loop.

The tracker carries what the action server receives: slots, the latest message (text, intent,
ranking, entities, emotion, metadata), the events and the active loop. A turn runs in its own
event loop and closes the loop's shared Redis client and billing pool afterwards, so no client
outlives its loop.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

T = TypeVar("T")

SENDER = "rest:resident-1"


def make_tracker(
    text: str,
    intent: str,
    *,
    ranking: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    channel: str = "rest",
    sender: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    emotion: Optional[str] = None,
    emotion_confidence: float = 0.9,
    confidence: float = 0.9,
    metadata: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """The tracker of a conversation whose latest user message is `text` (`intent`).

    `sender` defaults to a conversation of `channel` (`rest:resident-1`, `wechat:resident-1`);
    without `events`, the history is that user message and `action_extract_slots`.
    """
    latest: Dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": list(entities or []),
        "metadata": dict(metadata or {}),
    }
    if emotion is not None:
        latest["emotion"] = {"name": emotion, "confidence": emotion_confidence}
    user = {"event": "user", "text": text, "parse_data": latest, "input_channel": channel,
            "timestamp": 1739577600.0, "message_id": f"msg-{zlib.crc32(text.encode()):08x}"}
    history = events if events is not None else [user, {"event": "action", "name": "action_extract_slots"}]
    return Tracker(
        sender or f"{channel}:resident-1", dict(slots or {}), latest, history, False, None,
        {"name": active_loop} if active_loop else {}, "action_listen",
    )


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Runs a coroutine in a new loop; closes that loop's Redis client and billing pool after it."""
    from actions import common
    from bot import redis_client

    async def wrapped() -> T:
        try:
            return await factory()
        finally:
            client = redis_client._clients.pop(id(asyncio.get_running_loop()), None)
            if client is not None:
                await client.close()
            if common._billing is not None:
                await common._billing.aclose()

    return asyncio.run(wrapped())


@dataclass
class Turn:
    """What one action did: the dispatched messages and the returned events."""

    messages: List[Dict[str, Any]]
    events: List[Dict[str, Any]]

    @property
    def responses(self) -> List[Optional[str]]:
        return [message.get("response") for message in self.messages]

    def slots(self) -> Dict[str, Any]:
        """slot → value of the SlotSet events (the last one wins)."""
        return {e["name"]: e["value"] for e in self.events if e.get("event") == "slot"}

    def followup(self) -> Optional[str]:
        names = [e["name"] for e in self.events if e.get("event") == "followup"]
        return names[-1] if names else None

    def message(self, response: str) -> Dict[str, Any]:
        """The one message of that response (fails when there is none or several)."""
        [found] = [m for m in self.messages if m.get("response") == response]
        return found


def run_action(action: Any, tracker: Tracker, domain: Dict[str, Any]) -> Turn:
    """`await action.run(dispatcher, tracker, domain)`, as the action server does."""
    dispatcher = CollectingDispatcher()
    events = run_async(lambda: action.run(dispatcher, tracker, domain))
    return Turn(dispatcher.messages, list(events))


def render(domain: Dict[str, Any], message: Dict[str, Any]) -> str:
    """The text the resident reads: the response's first variation filled with the message's values."""
    template = domain["responses"][message["response"]][0]["text"]
    return str(template).format(**message)
