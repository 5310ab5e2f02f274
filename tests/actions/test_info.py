"""Every configuration-backed answer fills its response from config/city.yml."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.info import ANSWERS, ActionCityAnswer
from bot.settings import ROOT, city

DOMAIN: Dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def tracker_for(intent: str) -> Tracker:
    return Tracker(
        "u1", {}, {"intent": {"name": intent, "confidence": 1.0}, "text": "x", "entities": []},
        [], False, None, None, "action_listen",
    )


@pytest.mark.parametrize("intent", sorted(ANSWERS))
def test_answer_fills_every_placeholder_of_its_response(intent: str) -> None:
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionCityAnswer().run(dispatcher, tracker_for(intent), DOMAIN))
    [message] = dispatcher.messages
    response, fill = ANSWERS[intent]
    assert message["response"] == response
    template = DOMAIN["responses"][response][0]["text"]
    text = template.format(**{**message, **fill(city())})
    assert "{" not in text and "}" not in text


def test_price_comes_from_the_city_file() -> None:
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionCityAnswer().run(dispatcher, tracker_for("ask_price"), DOMAIN))
    assert dispatcher.messages[0]["residential"] == f"{float(city()['price']['residential_per_m2']):.2f}"


def test_every_intent_has_a_rule_or_a_trigger() -> None:
    rules = yaml.safe_load((ROOT / "nlu_data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    ruled = {step["intent"] for rule in rules for step in rule["steps"] if "intent" in step}
    assert set(DOMAIN["intents"]) <= ruled
