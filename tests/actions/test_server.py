"""The action server entry point (actions/server.py): rasa-sdk's app serving every custom action of
the domain, behind the shared token, on a real Sanic server (tests/connectors/sanic_server.py)."""

from __future__ import annotations

from typing import Any, Dict, Iterator

import httpx
import pytest

from actions.server import TOKEN_HEADER, build_app
from bot.settings import get_settings
from tests.connectors.sanic_server import LiveSanic

TOKEN = "unit-test-action-token"


def call(action: str, intent: str, text: str) -> Dict[str, Any]:
    """What Rasa posts to run one action."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": [], "metadata": {}}
    return {
        "next_action": action, "sender_id": "rest:server-test", "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": "rest:server-test", "slots": {}, "latest_message": latest, "latest_event_time": 0,
                    "followup_action": None, "paused": False, "events": [], "latest_input_channel": "rest",
                    "active_loop": {}, "latest_action_name": "action_listen"},
    }


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveSanic]:
    monkeypatch.setenv("ACTION_SERVER_TOKEN", TOKEN)
    get_settings.cache_clear()
    with LiveSanic(build_app("actions")) as live:
        yield live
    monkeypatch.undo()
    get_settings.cache_clear()


def test_without_the_token_only_health_answers(server: LiveSanic) -> None:
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    refused = httpx.post(server.url + "/webhook", json=call("action_city_answer", "ask_price", "多少钱一平"), timeout=10)
    assert refused.status_code == 401 and refused.json() == {"error": "action server token required"}
    wrong = httpx.get(server.url + "/actions", headers={TOKEN_HEADER: TOKEN + "x"}, timeout=10)
    assert wrong.status_code == 401


def test_every_custom_action_of_the_domain_is_served(server: LiveSanic, domain: Dict[str, Any]) -> None:
    served = httpx.get(server.url + "/actions", headers={TOKEN_HEADER: TOKEN}, timeout=10)
    assert served.status_code == 200
    assert set(domain["actions"]) <= {action["name"] for action in served.json()}


def test_with_the_token_an_action_runs(server: LiveSanic) -> None:
    answer = httpx.post(server.url + "/webhook", json=call("action_city_answer", "ask_price", "多少钱一平"),
                        headers={TOKEN_HEADER: TOKEN}, timeout=10)
    assert answer.status_code == 200
    [message] = answer.json()["responses"]
    assert message["response"] == "utter_price" and message["residential"] == "26.00"


def test_the_server_listens_on_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTION_HOST", raising=False)
    get_settings.cache_clear()
    try:
        assert get_settings().action_host == "127.0.0.1"
    finally:
        get_settings.cache_clear()
