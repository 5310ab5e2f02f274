"""Late-fee questions: the rule needs no identity, the resident's own amount does.

"滞纳金怎么算的", "从哪天开始算", "千分之几" are answered at once with the rule from
config/city.yml, then the bot offers to compute the resident's own figure (a button that
answers `/affirm`, or any reply with the 户号). A resident who asks about their own fee
("我家滞纳金多少"), or who is already verified, gets the billing answer. The second time
in a conversation the rule is only summed up, not repeated.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.billing import ActionBillingQuery, utter_rule
from actions.common import ACCOUNT_RE
from actions.digits import normalize_digits
from actions.identity import bound_account

TOLD_SLOT = "late_fee_rule_told"
#: Words of a question about the resident's own amount.
OWN_MARKERS = (
    "我家", "我们家", "俺家", "咱家", "我的", "我有", "我欠", "我要交", "我得交",
    "给我查", "帮我查", "帮我算", "给我算", "查一下", "查查",
)


def asks_own_amount(text: str) -> bool:
    """True when the question names this household (or its 户号); otherwise it is about the rule."""
    return bool(ACCOUNT_RE.search(normalize_digits(text))) or any(marker in text for marker in OWN_MARKERS)


class ActionLateFeeQuestion(Action):
    """The rule for general questions; the billing answer for the resident's own fee."""

    def name(self) -> Text:
        return "action_late_fee_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        text = str((tracker.latest_message or {}).get("text") or "")
        verified = tracker.get_slot("verified_account") or await bound_account(tracker)
        if verified or asks_own_amount(text):
            return await ActionBillingQuery().run(dispatcher, tracker, domain)
        utter_rule(dispatcher, "utter_late_fee_rule_again" if tracker.get_slot(TOLD_SLOT) else "utter_late_fee_rule")
        if tracker.active_loop_name != "identity_form":  # inside the check the figure is coming anyway
            dispatcher.utter_message(response="utter_late_fee_offer")
        # The offer's "yes" (or a bare 户号) goes on as a late-fee question.
        return [SlotSet(TOLD_SLOT, True), SlotSet("billing_topic", "ask_late_fee")]
