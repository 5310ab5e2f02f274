"""When the NLU is unsure, ask: one short question with the two likely meanings as buttons.

It replaces Rasa's `action_two_stage_fallback` (same name, so the rules name a default
action). The FallbackClassifier turns a low-confidence or ambiguous message into `nlu_fallback`;
this action reads the intent ranking of that message and offers its two best labelled
intents. Each button's payload is `/intent`, so the reply (a click, or "1"/"2" in WeChat,
mapped back by the channel) continues with exactly that intent. The labels live in one
domain response, `utter_intent_labels`. A second miss in a row is the handoff policy's.
Plainly billing messages are not asked about: "再帮我查查我妈家 2024000004" (a 户号 in it) or
"明细" after a verified balance go to `action_billing_query` whatever the classifier said,
whether it was unsure (nlu_fallback) or sure of the wrong thing (out_of_scope).
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.billing import DETAIL_WORDS
from actions.common import latest_text, mentioned_account

LABELS_RESPONSE = "utter_intent_labels"
CHOICES = 2
#: Only the best few guesses are worth offering; a fourth-ranked intent is noise.
CONSIDERED = 3


def intent_labels(domain: Dict[Text, Any]) -> Dict[str, str]:
    """intent → the Chinese label a resident recognises, from the domain (one place)."""
    variants = (domain.get("responses") or {}).get(LABELS_RESPONSE) or [{}]
    return dict(variants[0].get("custom") or {})


def likely_intents(tracker: Tracker, labels: Dict[str, str]) -> List[str]:
    """The best labelled intents among the top of the latest message's ranking."""
    ranking = (tracker.latest_message or {}).get("intent_ranking") or []
    names = [str(item.get("name")) for item in ranking if item.get("name") != "nlu_fallback"]
    return [name for name in names[:CONSIDERED] if name in labels][:CHOICES]


def plainly_billing(tracker: Tracker) -> bool:
    """A message naming a 户号, or "明细" once a balance was shown: the bill is what is meant."""
    detail = any(word in latest_text(tracker) for word in DETAIL_WORDS) and tracker.get_slot("verified_account")
    return bool(mentioned_account(tracker) or detail)


class ActionOutOfScope(Action):
    """Steers back to what the bot can do, unless the message is plainly about a bill."""

    def name(self) -> Text:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if plainly_billing(tracker):
            return [FollowupAction("action_billing_query")]
        dispatcher.utter_message(response="utter_out_of_scope")
        return []


class ActionClarify(Action):
    """Asks which of two meanings the resident had in mind; the generic reply when no two fit."""

    def name(self) -> Text:
        # Rasa's own two-stage fallback, overridden (declared in the domain's actions).
        return "action_two_stage_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if plainly_billing(tracker):
            return [FollowupAction("action_billing_query")]
        labels = intent_labels(domain)
        choices = likely_intents(tracker, labels)
        if len(choices) < CHOICES:
            dispatcher.utter_message(response="utter_default")
            return []
        buttons = [{"title": labels[name], "payload": f"/{name}"} for name in choices]
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return []
