"""What every action shares: the billing client, Redis, the late-fee policy, money formatting."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Dict, Optional

from rasa_sdk import Tracker

from actions.digits import normalize_digits
from billing_client.client import BillingClient
from billing_client.rule import LateFeePolicy
from bot.settings import get_settings, late_fee_policy

ACCOUNT_RE = re.compile(r"(?<!\d)(\d{8,10})(?!\d)")
LAST4_RE = re.compile(r"(?<!\d)(\d{4})(?!\d)")
MONEY_INTENTS = ("ask_balance", "ask_late_fee")

_billing: Optional[BillingClient] = None


def billing() -> BillingClient:
    """One client per action-server process, so its circuit breaker sees every call."""
    global _billing
    if _billing is None:
        _billing = BillingClient(get_settings().billing_url, timeout=2.0)
    return _billing


def policy() -> LateFeePolicy:
    return late_fee_policy()


def yuan(amount: Decimal) -> str:
    """Amounts always with two decimals (the unit 元 is in the response text), rounded half up as the
    late-fee rule rounds (a segment's fee in the explanation can have more decimals)."""
    return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}".replace(",", "")


def permille(rate: Decimal) -> str:
    return f"{(rate * 1000).normalize():f}"


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "unknown"


def latest_intent(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("intent", {}).get("name") or "")


def latest_user_event(tracker: Tracker) -> Dict[str, Any]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event
    return {}


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def mentioned_account(tracker: Tracker) -> Optional[str]:
    """A 户号 named in the latest message (entity first, then the digits as residents type them:
    full-width, spaced or dashed, see `actions.digits`)."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "account_no":
            found = ACCOUNT_RE.search(str(entity.get("value") or ""))
            if found:
                return found.group(1)
    found = ACCOUNT_RE.search(normalize_digits(latest_text(tracker)))
    return found.group(1) if found else None
