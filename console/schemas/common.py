"""Literals and validators the console's schemas share."""

from __future__ import annotations

from typing import Literal

Role = Literal["agent", "supervisor"]
Status = Literal["new", "assigned", "in_progress", "resolved"]
Priority = Literal["urgent", "high", "normal"]
ResolutionCategory = Literal[
    "answered",
    "billing_adjusted",
    "repair_dispatched",
    "complaint_recorded",
    "escalated",
    "no_response",
    "duplicate",
    "other",
    "withdrawn",
]
SlaStatus = Literal["pending", "met", "breached"]
USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{2,64}$"


def not_blank(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped
