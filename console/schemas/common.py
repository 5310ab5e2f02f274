"""Literals and validators the console's schemas share."""

from __future__ import annotations

from typing import Literal

from console.models import RESOLUTION_CATEGORIES

Role = Literal["agent", "supervisor"]
Status = Literal["new", "assigned", "in_progress", "resolved"]
Priority = Literal["urgent", "high", "normal"]
#: The categories an agent may resolve with: one list, the model's.
ResolutionCategory = Literal[RESOLUTION_CATEGORIES]  # type: ignore[valid-type]
SlaStatus = Literal["pending", "met", "breached"]
USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{2,64}$"


def not_blank(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped
