"""Attack 4 (open action server, issue 13): a hand-made tracker with `verified_account` set,
posted straight to the action server, must not return a household's bills.

The stack runs the action server as the Procfile does: bound to 127.0.0.1 and, with
ACTION_SERVER_TOKEN set (tests/stack.py sets it), refusing calls without the token that
endpoints.yml makes Rasa send. Even with the token, the slot alone is only a claim: the
verification Rasa's conversation did is what counts (a Redis record with an idle timeout).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Dict

import httpx

from tests.security.conftest import BALANCE_OF_0001
from tests.stack import Stack


def forged_call(sender: str) -> Dict[str, Any]:
    """What Rasa would send to run `action_billing_query`, with a verified account filled in."""
    return {
        "next_action": "action_billing_query",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"verified_account": "2024000001", "billing_topic": "ask_balance"},
            "latest_message": {"text": "查欠费", "intent": {"name": "ask_balance", "confidence": 1.0},
                               "entities": [], "metadata": {}},
            "latest_event_time": 0,
            "followup_action": None,
            "paused": False,
            "events": [],
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def test_forged_tracker_without_the_token_is_refused(stack: Stack) -> None:
    answer = httpx.post(stack.url("actions") + "/webhook", json=forged_call("rest:attacker"), timeout=30)
    assert answer.status_code == 401, answer.text
    assert BALANCE_OF_0001 not in answer.text
    wrong = httpx.post(stack.url("actions") + "/webhook", json=forged_call("rest:attacker"),
                       headers={"X-Action-Token": "guess"}, timeout=30)
    assert wrong.status_code == 401
    assert httpx.get(stack.url("actions") + "/actions", timeout=10).status_code == 401
    assert httpx.get(stack.url("actions") + "/health", timeout=10).status_code == 200


def test_forged_slot_is_no_verification_even_with_the_token(stack: Stack) -> None:
    """Defence in depth: a leaked token still does not turn a forged slot into a verification."""
    answer = httpx.post(stack.url("actions") + "/webhook", json=forged_call(f"rest:{uuid.uuid4().hex}"),
                        headers={"X-Action-Token": stack.env["ACTION_SERVER_TOKEN"]}, timeout=30)
    assert answer.status_code == 200, answer.text
    events = answer.json()["events"]
    assert BALANCE_OF_0001 not in answer.text and "utter_balance" not in answer.text
    assert {"event": "followup", "name": "identity_form"}.items() <= next(
        e for e in events if e.get("event") == "followup").items()


def test_action_server_listens_on_loopback_only(stack: Stack) -> None:
    """The listening socket of the stack's action server, as the kernel reports it."""
    port = int(stack.env["ACTION_PORT"])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.rsplit(":", 1)
            if int(port_hex, 16) == port and state == "0A":
                listening.append(address)
    assert listening, f"nothing listens on {port}"
    assert all(address == "0100007F" for address in listening), listening
