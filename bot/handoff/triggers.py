"""When the bot hands a conversation to a human (DESIGN.md, "Handoff triggers").

Pure functions over a tracker, so the policy that acts on them and the tests
that pin them down share one definition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

NLU_FALLBACK = "nlu_fallback"

# Intents that always need a person (the ticket's priority is decided by actions/handoff.py).
TRIGGER_INTENTS = frozenset({"report_leak", "complain", "request_human"})


@dataclass(frozen=True)
class Trigger:
    """Why a handoff fires; stored on the tracker for the ticket."""

    kind: str  # intent | emotion | fallback
    name: str  # the intent, "angry", or "nlu_fallback"
    confidence: float
    text: str
    intent: str
    emotion: str
    emotion_confidence: float

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _user_messages(tracker: DialogueStateTracker, limit: int) -> List[UserUttered]:
    found: List[UserUttered] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            found.append(event)
            if len(found) == limit:
                break
    return found


def _intent_name(event: UserUttered) -> str:
    return str((event.intent or {}).get("name") or "")


def awaiting_first_action(tracker: DialogueStateTracker) -> bool:
    """True right after a user message, before any action answered it.

    Read from the raw event list, so a message that a fallback rewound does not
    count again as the "latest" one.
    """
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event is tracker.latest_message
        if isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
            return False
    return False


def detect(
    tracker: DialogueStateTracker, consecutive_fallbacks: int = 2, anger_threshold: float = 0.0
) -> Optional[Trigger]:
    """The trigger of the latest user message, if it calls for a human."""
    latest = tracker.latest_message
    if latest is None or not latest.text or not awaiting_first_action(tracker):
        return None
    parse = latest.parse_data or {}
    intent = _intent_name(latest)
    intent_confidence = float((latest.intent or {}).get("confidence") or 0.0)
    emotion = parse.get("emotion") or {}
    emotion_name = str(emotion.get("name") or "neutral")
    emotion_confidence = float(emotion.get("confidence") or 0.0)
    common = dict(
        text=latest.text,
        intent=intent,
        emotion=emotion_name,
        emotion_confidence=emotion_confidence,
    )
    if intent == "report_leak":
        return Trigger("intent", intent, intent_confidence, **common)
    if emotion_name == "angry" and emotion_confidence >= anger_threshold:
        return Trigger("emotion", "angry", emotion_confidence, **common)
    if intent in TRIGGER_INTENTS:
        return Trigger("intent", intent, intent_confidence, **common)
    recent = _user_messages(tracker, consecutive_fallbacks)
    if len(recent) == consecutive_fallbacks and all(
        _intent_name(event) == NLU_FALLBACK for event in recent
    ):
        return Trigger("fallback", NLU_FALLBACK, intent_confidence, **common)
    return None
