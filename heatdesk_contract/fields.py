"""What every stream entry shares: string fields, their limits, timestamps, the two outcomes
of reading (:class:`MalformedEntry`, :class:`UnknownEntry`) and the helpers the entries read with."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

logger = logging.getLogger(__name__)

TYPE_FIELD = "type"
MAX_TEXT = 20_000
MAX_KEY = 200
MAX_TICKET_NO = 32
MAX_NAME = 255
SENDER_USER = "user"
SENDER_BOT = "bot"
_ABSURD = dt.timedelta(days=3650)


class MalformedEntry(ValueError):
    """A stream entry that can never be processed (dead-lettered or reported, then acked)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_time(value: Any) -> Optional[dt.datetime]:
    """ISO 8601 (our entries) or epoch seconds → aware UTC; None when unusable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            return parse_time(float(value))
        except ValueError:
            pass
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)):
        try:
            return dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def created_at(fields: Mapping[str, str]) -> dt.datetime:
    """The writer's timestamp; a missing or absurd one falls back to now (and says so)."""
    raw = fields.get("created_at")
    parsed = parse_time(raw)
    now = utc_now()
    if parsed is None or abs(parsed - now) > _ABSURD:
        if raw:
            logger.warning("stream entry with unusable created_at; using now")
        return now
    return parsed


def required(fields: Mapping[str, str], name: str, max_len: int = MAX_NAME) -> str:
    value = (fields.get(name) or "").strip()
    if not value:
        raise MalformedEntry(f"missing field {name!r}")
    if len(value) > max_len:
        raise MalformedEntry(f"field {name!r} is longer than {max_len} characters")
    return value


def optional(fields: Mapping[str, str], name: str, max_len: int, default: str = "") -> str:
    """Stripped and cut to ``max_len``; ``default`` when absent or blank."""
    return (fields.get(name) or "").strip()[:max_len] or default


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def attempt_of(value: Optional[str]) -> int:
    """An attempt counter; an entry from an older console (none) or a damaged one is attempt 0."""
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


@dataclass(frozen=True)
class UnknownEntry:
    """An entry whose type this version does not know; kept as it came."""

    type: str
    fields: Dict[str, str]

    def to_fields(self) -> Dict[str, str]:
        return dict(self.fields)
