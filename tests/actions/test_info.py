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


# -- "我交了": a known household is looked up again (real billing service, as of 2025-02-15) -----------

from redis import Redis  # noqa: E402

from actions.identity import remember_verified  # noqa: E402
from tests.actions.support import SENDER, make_tracker, render, run_action, run_async  # noqa: E402


def test_a_payment_claim_of_a_household_still_owing_gets_the_amount_and_the_pay_link(billing: str) -> None:
    run_async(lambda: remember_verified(SENDER, "2024000001"))
    tracker = make_tracker("我刚交了怎么还显示欠费", "payment_not_credited", slots={"verified_account": "2024000001"})
    turn = run_action(ActionCityAnswer(), tracker, DOMAIN)
    assert turn.responses == ["utter_payment_still_owing", "utter_pay_link"]
    assert render(DOMAIN, turn.messages[0]).startswith("帮您重新查了一下：户号2024000001截至2025-02-15系统里还显示待缴1587.41元。线上缴费一般即时到账")
    assert turn.events == []


def test_a_payment_claim_of_a_paid_up_household_is_confirmed(billing: str) -> None:
    run_async(lambda: remember_verified(SENDER, "2024000002"))
    tracker = make_tracker("交了 到账没", "payment_not_credited", slots={"verified_account": "2024000002"})
    turn = run_action(ActionCityAnswer(), tracker, DOMAIN)
    assert turn.responses == ["utter_payment_confirmed"]
    assert (turn.messages[0]["account_no"], turn.messages[0]["as_of"]) == ("2024000002", "2025-02-15")


def test_a_payment_claim_without_a_check_gets_the_general_answer(billing: str, redis: Redis) -> None:
    turn = run_action(ActionCityAnswer(), make_tracker("交了还没到账", "payment_not_credited"), DOMAIN)
    assert turn.responses == ["utter_payment_not_credited"]
    assert turn.messages[0]["crediting"] == city()["payment"]["crediting_delay_text"]


def test_a_payment_claim_with_billing_down_gets_the_general_answer(billing_down: str) -> None:
    run_async(lambda: remember_verified(SENDER, "2024000001"))
    tracker = make_tracker("交了还没到账", "payment_not_credited", slots={"verified_account": "2024000001"})
    assert run_action(ActionCityAnswer(), tracker, DOMAIN).responses == ["utter_payment_not_credited"]


def test_an_intent_without_a_city_answer_gets_the_default(redis: Redis) -> None:
    turn = run_action(ActionCityAnswer(), make_tracker("嗯", "greet"), DOMAIN)
    assert turn.responses == ["utter_default"]
