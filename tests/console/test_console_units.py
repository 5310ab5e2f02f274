"""Pure parts of the console: transcript merge, SLA, redaction, CSV, stream ids.

Stream entries, timestamps and masking are the contract's (tests/contract)."""

from __future__ import annotations

import datetime as dt
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.integrations import merge_transcript, summary_items, tracker_items
from console.metrics import _cell, duration_stats
from console.routers.events import parse_stream_id
from console.schemas.tickets import TranscriptItem, sla_state
from console.security import hash_password, redact, verify_password
from console.settings import Settings

UTC = dt.timezone.utc


def _item(sender: str, text: str, ts: float, source: str = "rasa", **extra: object) -> TranscriptItem:
    return TranscriptItem(sender=sender, text=text, ts=dt.datetime.fromtimestamp(ts, UTC),  # type: ignore[arg-type]
                          source=source, **extra)  # type: ignore[arg-type]


def test_tracker_events_become_turns() -> None:
    items = tracker_items([
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "查欠费", "timestamp": 10},
        {"event": "bot", "text": "请提供户号", "timestamp": 11},
        {"event": "bot", "text": None, "timestamp": 12, "data": {"image": "x"}},
        {"event": "bot", "text": "我是客服", "timestamp": 13, "metadata": {"agent": "小王", "message_id": "m1"}},
        "garbage",
    ])
    assert [(i.sender, i.text, i.agent_name, i.message_id) for i in items] == [
        ("user", "查欠费", None, None), ("bot", "请提供户号", None, None), ("agent", "我是客服", "小王", "m1")]


def test_merge_keeps_each_message_once_in_time_order() -> None:
    rasa = [_item("user", "你好", 100), _item("bot", "您好", 101), _item("user", "人呢", 200)]
    console = [_item("user", "人呢", 199, "console", message_id="u1"),
               _item("agent", "我在", 205, "console", message_id="a1", agent_name="小王")]
    merged = merge_transcript(rasa, console)
    assert [(m.sender, m.text, m.source) for m in merged] == [
        ("user", "你好", "rasa"), ("bot", "您好", "rasa"), ("user", "人呢", "rasa"), ("agent", "我在", "console")]
    assert merged[2].message_id == "u1"
    # The same text much later is another message.
    later = merge_transcript(rasa, [_item("user", "你好", 100 + 3600, "console")])
    assert len(later) == 4


def test_summary_fallback() -> None:
    items = summary_items({"last_messages": [{"sender": "user", "text": "a", "ts": 1}, {"text": 3}, "x",
                                             {"sender": "bot", "text": "b"}]})
    assert [(i.sender, i.text, i.source) for i in items] == [("user", "a", "summary"), ("bot", "b", "summary")]
    assert summary_items({"last_messages": "nope"}) == []


def _ticket(**kw: object) -> types.SimpleNamespace:
    base = dict(sla_due_at=dt.datetime(2025, 2, 15, 8, 30, tzinfo=UTC), first_human_reply_at=None,
                resolved_at=None, status="new")
    base.update(kw)
    return types.SimpleNamespace(**base)


def test_sla_states() -> None:
    before = dt.datetime(2025, 2, 15, 8, 20, tzinfo=UTC)
    after = dt.datetime(2025, 2, 15, 8, 40, tzinfo=UTC)
    assert sla_state(_ticket(), before) == ("pending", 600)
    assert sla_state(_ticket(), after) == ("breached", -600)
    assert sla_state(_ticket(first_human_reply_at=before), after) == ("met", None)
    assert sla_state(_ticket(first_human_reply_at=after), after) == ("breached", None)
    assert sla_state(_ticket(status="resolved", resolved_at=before), after) == ("met", None)


def test_sla_minutes_come_from_settings_then_the_city_file() -> None:
    assert Settings(SLA_FIRST_REPLY_MINUTES=45).sla_minutes("high") == 45
    defaults = Settings()
    assert defaults.sla_minutes("normal") == 30 and defaults.sla_minutes("urgent") == 10
    assert Settings(SLA_URGENT_MINUTES=5).sla_minutes("urgent") == 5


def test_database_url_gets_the_psycopg_driver() -> None:
    assert Settings(DATABASE_URL="postgresql://u@h/db").database_url == "postgresql+psycopg://u@h/db"
    assert Settings(DATABASE_URL="sqlite:///x.db").database_url == "sqlite:///x.db"


def test_redaction() -> None:
    assert redact("user 13800005678 called ?token=abc&x=1") == "user 138****5678 called ?token=***&x=1"
    assert redact("account 2024000001") == "account 2024000001"
    assert redact("id 230102199001011234") == "id 230102********1234"


@given(st.text(max_size=80))
def test_redaction_never_leaves_a_mobile_number(text: str) -> None:
    import re

    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", redact(text))


def test_password_hashing() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "anything")


def test_stream_ids() -> None:
    assert parse_stream_id("1700000000000-3") == (1700000000000, 3)
    assert parse_stream_id("5") == (5, 0)
    for bad in ("", "-", "a-1", "1-", "1-2-3", str(2**64) + "-0"):
        with pytest.raises(ValueError):
            parse_stream_id(bad)


def test_csv_cells_are_defused() -> None:
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("-5") == "'-5" and _cell("南岗区") == "南岗区" and _cell(None) == ""


def test_duration_stats() -> None:
    stats = duration_stats([10, 20, 30, 40, 1000])
    assert stats.count == 5 and stats.median_seconds == 30 and stats.p90_seconds == 1000
    assert duration_stats([]).avg_seconds is None
