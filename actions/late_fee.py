"""Late-fee questions: the rule needs no identity, the resident's own amount does.

"滞纳金怎么算的", "从哪天开始算", "千分之几" are answered at once with the rule from
config/city.yml, then the bot offers to compute the resident's own figure (a button that
answers `/affirm`, or any reply with the 户号). A resident who asks about their own fee
("我家滞纳金多少"), or who is already verified, gets the billing answer
(`action_billing_query`, which calls `general_answer` only for the first kind). The second
time in a conversation the rule is only summed up, not repeated.
"""

from __future__ import annotations

from typing import Dict, List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import ACCOUNT_RE, permille, policy
from actions.digits import normalize_digits
from bot.settings import city

TOLD_SLOT = "late_fee_rule_told"
#: Words of a question about the resident's own amount.
OWN_MARKERS = (
    "我家", "我们家", "俺家", "咱家", "我的", "我有", "我欠", "我要交", "我得交",
    "给我查", "帮我查", "帮我算", "给我算", "查一下", "查查",
)


def asks_own_amount(text: str) -> bool:
    """True when the question names this household (or its 户号); otherwise it is about the rule."""
    return bool(ACCOUNT_RE.search(normalize_digits(text))) or any(marker in text for marker in OWN_MARKERS)


def rule_figures() -> Dict[str, str]:
    """The configured rule's figures, as the late-fee responses show them."""
    rule = policy()
    return {
        "start": rule.start.isoformat(),
        "rate_permille": permille(rule.rate),
        "cap_percent": f"{(rule.cap_ratio * 100).normalize():f}",
        "deadline_text": str(city()["payment"]["deadline_text"]),
    }


def general_answer(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """The rule (summed up the second time), then the offer to compute the own figure."""
    told = bool(tracker.get_slot(TOLD_SLOT))
    dispatcher.utter_message(response="utter_late_fee_rule_again" if told else "utter_late_fee_rule", **rule_figures())
    if tracker.active_loop_name == "identity_form":
        return [SlotSet(TOLD_SLOT, True)]  # inside the check: its own question is answered next
    dispatcher.utter_message(response="utter_late_fee_offer")
    # The offer's "yes" (or a bare 户号) goes on as a late-fee question.
    return [SlotSet(TOLD_SLOT, True), SlotSet("billing_topic", "ask_late_fee")]
