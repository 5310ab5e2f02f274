"""A Rasa policy that predicts `action_handoff` whenever a handoff trigger fires, and
`action_while_queued` for every message while an agent owns the conversation.

All triggers live in `bot.handoff.triggers`; this policy only turns them into a
prediction that outranks rules and forms, and records the trigger on the
tracker (slot `handoff_trigger`) so the handoff action can put it on the ticket.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.handoff.triggers import detect

HANDOFF_ACTION = "action_handoff"
QUEUED_ACTION = "action_while_queued"
TRIGGER_SLOT = "handoff_trigger"
OWNER_METADATA_KEY = "handoff_owner"
#: What a form's answer contains: digits in any width, or a run of Chinese digits (五六七八).
_FORM_INPUT = re.compile(r"\d|[零〇一幺二两三四五六七八九壹贰叁肆伍陆柒捌玖]{4,}")


def answers_a_form(message: Any) -> bool:
    """True for a message that can be the answer a form asked for (a 户号, a tail)."""
    text = unicodedata.normalize("NFKC", str(getattr(message, "text", "") or ""))
    intent = (getattr(message, "intent", None) or {}).get("name")
    return intent == "inform" or _FORM_INPUT.search(text) is not None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class HandoffPolicy(Policy):
    """Hands angry, complaining, leaking or twice-misunderstood users to a human."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "priority": 7,  # above RulePolicy (6): a trigger interrupts rules and forms
            "consecutive_fallbacks": 2,
            "anger_threshold": 0.0,  # the emotion detector already applies its own
        }

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_DATA

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        """Nothing to learn; persists its config so the model is self-describing."""
        with self._model_storage.write_to(self._resource) as path:
            (Path(path) / "handoff_policy.json").write_text(json.dumps(self.config))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "HandoffPolicy":
        return cls(config, model_storage, resource, execution_context)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if tracker.latest_action_name in (QUEUED_ACTION, HANDOFF_ACTION):
            # One reply per message (the handoff or the queued answer), then wait for the resident.
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(probabilities)
        if tracker.latest_action_name != ACTION_LISTEN_NAME or tracker.latest_message is None:
            return self._prediction(probabilities)

        metadata = tracker.latest_message.metadata or {}
        if metadata.get(OWNER_METADATA_KEY) == "agent":
            # The router says an agent owns this conversation: the bot keeps the resident
            # company (acknowledges, answers what it can) unless a form it started is asking
            # and this message answers it ("快点给我查" is acknowledged, a 户号 goes to the form).
            if tracker.active_loop_name and answers_a_form(tracker.latest_message):
                return self._prediction(probabilities)
            probabilities[domain.index_for_action(QUEUED_ACTION)] = 1.0
            return self._prediction(probabilities, is_no_user_prediction=True)

        trigger = detect(
            tracker,
            consecutive_fallbacks=int(self.config["consecutive_fallbacks"]),
            anger_threshold=float(self.config["anger_threshold"]),
        )
        if trigger is None:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(HANDOFF_ACTION)] = 1.0
        return self._prediction(
            probabilities,
            optional_events=[SlotSet(TRIGGER_SLOT, trigger.as_dict())],
            is_no_user_prediction=True,
        )
