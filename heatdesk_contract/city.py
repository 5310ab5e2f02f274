"""What the contract reads from the city file (``config/city.yml``, parsed by each runtime's settings).

The late-fee policy is built here once, with the rule's own defaults (``LateFeePolicy()``) for
whatever the file leaves out, so the bot, the console and the billing service compute the same
fee; the arithmetic stays in ``billing_client.rule``. The SLA rule is here for the same reason: the
bot scores the queue with the due time the console gives the ticket.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping, Optional

from billing_client.rule import LateFeeInputError, LateFeePolicy

#: DESIGN.md: a first human reply within 30 minutes by default, 10 minutes for urgent tickets.
DEFAULT_SLA_FIRST_REPLY_MINUTES = 30
DEFAULT_SLA_URGENT_MINUTES = 10


def sla_minutes(
    city: Optional[Mapping[str, Any]], priority: str, first_reply: Optional[int] = None, urgent: Optional[int] = None
) -> int:
    """Minutes to the first human reply: urgent tickets have the urgent SLA, all others the first-reply one.

    An override (the console's SLA_* settings) wins over the file's ``sla`` section, which wins over
    DESIGN.md's defaults.
    """
    sla = (city or {}).get("sla") or {}
    if priority == "urgent":
        value = urgent if urgent is not None else sla.get("urgent_minutes")
        return int(value) if value is not None else DEFAULT_SLA_URGENT_MINUTES
    value = first_reply if first_reply is not None else sla.get("first_reply_minutes")
    return int(value) if value is not None else DEFAULT_SLA_FIRST_REPLY_MINUTES


def late_fee_policy(city: Optional[Mapping[str, Any]]) -> LateFeePolicy:
    """The policy of the file's ``late_fee`` section; raises LateFeeInputError on a bad value."""
    rule = (city or {}).get("late_fee") or {}
    if not isinstance(rule, Mapping):
        raise LateFeeInputError("the late_fee section of the city file must be a mapping")
    defaults = LateFeePolicy()
    try:
        return LateFeePolicy(
            rate=Decimal(str(rule.get("rate_per_day", defaults.rate))),
            start=dt.date.fromisoformat(str(rule.get("start", defaults.start.isoformat()))),
            cap_ratio=Decimal(str(rule.get("cap_ratio", defaults.cap_ratio))),
            credit_warning_days=int(rule.get("credit_warning_days", defaults.credit_warning_days)),
        )
    except LateFeeInputError:
        raise
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise LateFeeInputError(f"invalid late_fee section in the city file: {exc}") from exc
