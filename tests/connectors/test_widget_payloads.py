"""What widget clients send (`connectors.widget_protocol.payloads`): pure validation, called directly."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import messages
from connectors.base import MAX_TEXT
from connectors.widget_protocol.payloads import (
    PROTOCOL_RICH,
    Credential,
    InvalidPayload,
    conversation_id,
    extract_message,
    extract_metadata,
    extract_session_request,
    session_of,
)

SESSION = "0123456789abcdef0123456789abcdef"
TOKEN = "T" * 43


@pytest.mark.parametrize(
    "data, code",
    [
        (None, "invalid_payload"),
        ("你好", "invalid_payload"),
        (["你好"], "invalid_payload"),
        ({}, "invalid_message"),
        ({"message": None}, "invalid_message"),
        ({"message": 42}, "invalid_message"),
        ({"message": ["你好"]}, "invalid_message"),
        ({"message": {"text": "你好"}}, "invalid_message"),
        ({"message": ""}, "empty_message"),
        ({"message": "  \n\t "}, "empty_message"),
        ({"message": "热" * (MAX_TEXT + 1)}, "message_too_long"),
    ],
)
def test_invalid_messages_get_a_code_and_chinese_text(data: Any, code: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        extract_message(data)
    assert raised.value.code == code
    assert any("\u4e00" <= char <= "\u9fff" for char in raised.value.text)


def test_too_long_message_names_the_limit() -> None:
    with pytest.raises(InvalidPayload) as raised:
        extract_message({"message": "a" * (MAX_TEXT + 1)})
    assert str(MAX_TEXT) in raised.value.text


def test_valid_message_is_trimmed_and_keeps_its_session_and_client_id() -> None:
    incoming = extract_message(
        {"message": "  我家暖气不热  ", "session_id": f"{SESSION}.{TOKEN}", "client_id": "c-1a2b", "metadata": {"page": "/"}}
    )
    assert incoming.text == "我家暖气不热"
    assert incoming.credential == Credential(SESSION, TOKEN)
    assert incoming.client_id == "c-1a2b"
    assert incoming.metadata == {"page": "/"}
    assert extract_message({"message": "热" * MAX_TEXT}).text == "热" * MAX_TEXT


def test_display_is_what_the_resident_saw_for_a_payload() -> None:
    incoming = extract_message({"message": "/ask_balance", "display": " 查欠费 "})
    assert incoming.text == "/ask_balance" and incoming.shown == "查欠费"
    assert extract_message({"message": "你好", "display": 3}).shown == "你好"
    assert extract_message({"message": "你好", "display": "x" * 201}).shown == "你好"


@pytest.mark.parametrize(
    "session_id",
    [None, 12345, "", "short", SESSION, f"{SESSION}.", f"{SESSION}.short", f"{SESSION.upper()}.{TOKEN}",
     f"{SESSION}.{TOKEN}x", "has space in it", "x" * 129, "<script>1</script>"],
)
def test_a_bare_or_malformed_session_id_is_no_credential(session_id: Any) -> None:
    assert extract_message({"message": "你好", "session_id": session_id}).credential is None
    assert extract_session_request({"session_id": session_id}).credential is None


def test_credentials_come_in_two_spellings() -> None:
    rich = extract_session_request({"session_id": SESSION, "resume_token": TOKEN, "protocol": PROTOCOL_RICH})
    plain = extract_session_request({"session_id": Credential(SESSION, TOKEN).plain()})
    assert rich.credential == plain.credential == Credential(SESSION, TOKEN)
    assert rich.rich and not plain.rich
    assert not extract_session_request({"protocol": "heatdesk/9"}).rich


def test_conversation_ids_carry_the_channel() -> None:
    assert conversation_id(SESSION) == "widget:" + SESSION
    assert session_of(conversation_id(SESSION)) == SESSION
    assert session_of(SESSION) is None and session_of("rest:" + SESSION) is None and session_of("widget:../x") is None


@pytest.mark.parametrize("client_id", [None, 7, "", "a b", "x" * 65, {"id": 1}])
def test_malformed_client_ids_are_dropped(client_id: Any) -> None:
    assert extract_message({"message": "你好", "client_id": client_id}).client_id is None


def test_metadata_is_advisory_and_cannot_claim_the_handoff_owner() -> None:
    assert extract_metadata('{"page": "/pay"}') == {"page": "/pay"}
    assert extract_metadata("not json") == {}
    assert extract_metadata(["a"]) == {}
    assert extract_metadata({"blob": "x" * 5000}) == {}
    assert extract_metadata({"handoff_owner": "agent", "ticket_no": "GD1", "agent": "x", "ok": 1}) == {"ok": 1}


@pytest.mark.parametrize(
    "data, expected",
    [
        (None, (None, None)),
        ("junk", (None, None)),
        ({"session_id": SESSION, "resume_token": TOKEN}, (SESSION, None)),
        ({"session_id": SESSION, "resume_token": TOKEN, "last_message_id": 0}, (SESSION, 0)),
        ({"session_id": SESSION, "resume_token": TOKEN, "last_message_id": 17}, (SESSION, 17)),
        ({"session_id": SESSION, "resume_token": TOKEN, "last_message_id": -1}, (SESSION, None)),
        ({"session_id": SESSION, "resume_token": TOKEN, "last_message_id": True}, (SESSION, None)),
        ({"session_id": SESSION, "resume_token": TOKEN, "last_message_id": "3"}, (SESSION, None)),
    ],
)
def test_session_request_parsing(data: Any, expected: Tuple[Optional[str], Optional[int]]) -> None:
    request = extract_session_request(data)
    session_id = request.credential.session_id if request.credential else None
    assert (session_id, request.last_message_id) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(),
        st.lists(st.text()),
        st.dictionaries(
            st.sampled_from(["message", "session_id", "client_id", "metadata", "other"]),
            st.one_of(st.none(), st.integers(), st.text(max_size=3000), st.lists(st.integers()), st.booleans()),
        ),
    )
)
def test_any_payload_is_either_valid_or_a_polite_error(data: Any) -> None:
    try:
        incoming = extract_message(data)
    except InvalidPayload as error:
        assert error.text in {
            messages.WIDGET_INVALID_MESSAGE,
            messages.WIDGET_EMPTY_MESSAGE,
            messages.WIDGET_MESSAGE_TOO_LONG.format(limit=MAX_TEXT),
        }
        return
    assert isinstance(incoming.text, str) and 0 < len(incoming.text) <= MAX_TEXT
    extract_session_request(data)
