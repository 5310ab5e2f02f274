"""Answers to fee, payment, season and service questions, filled from config/city.yml.

The sentences are responses in domain.yml; the figures come from the city file,
so a company changes its prices or dates in one place.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Dict, List, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.billing import answer_payment_claim
from actions.common import latest_intent, permille, policy, yuan
from bot.settings import city


def _season_date(value: str) -> str:
    month, day = value.split("-")
    return f"{int(month)}月{int(day)}日"


def _price(c: Dict[str, Any]) -> Dict[str, Any]:
    price = c["price"]
    residential = Decimal(str(price["residential_per_m2"]))
    return {
        "city": c["city"],
        "residential": yuan(residential),
        "non_residential": yuan(Decimal(str(price["non_residential_per_m2"]))),
        "metered_basic": yuan(Decimal(str(price["metered_basic_per_m2"]))),
        "metered_kwh": str(price["metered_per_kwh"]),
        "example_fee": yuan(residential * 90),
    }


ANSWERS: Dict[str, Tuple[str, Callable[[Dict[str, Any]], Dict[str, Any]]]] = {
    "ask_price": ("utter_price", _price),
    "ask_payment_deadline": (
        "utter_payment_deadline",
        lambda c: {"deadline_text": c["payment"]["deadline_text"], "rate_permille": permille(policy().rate)},
    ),
    "ask_payment_channel": (
        "utter_payment_channel",
        lambda c: {"channels": "；".join(c["payment"]["channels"]), "crediting": c["payment"]["crediting_delay_text"]},
    ),
    "payment_not_credited": ("utter_payment_not_credited", lambda c: {"crediting": c["payment"]["crediting_delay_text"]}),
    "ask_relief": ("utter_relief", lambda c: {"relief": c["relief_text"]}),
    "ask_invoice": ("utter_invoice", lambda c: {"invoice": c["invoice_text"]}),
    "ask_refund": ("utter_refund", lambda c: {"refund": c["refund_text"]}),
    "ask_heating_period": (
        "utter_heating_period",
        lambda c: {
            "city": c["city"],
            "start": _season_date(c["season"]["start"]),
            "end": _season_date(c["season"]["end"]),
            "early_rule": c["season"]["early_start_rule"],
        },
    ),
    "suspend_heating": (
        "utter_suspend_heating",
        lambda c: {
            "window": c["suspension"]["apply_window"],
            "basic_percent": f"{(Decimal(str(c['suspension']['basic_fee_ratio'])) * 100).normalize():f}",
        },
    ),
    "resume_heating": ("utter_resume_heating", lambda c: {"reconnection": c["reconnection_text"]}),
    "transfer_account": ("utter_transfer_account", lambda c: {"transfer": c["transfer_text"]}),
    "report_not_warm": (
        "utter_not_warm",
        lambda c: {
            "minimum": c["room_temperature"]["minimum_c"],
            "target": c["room_temperature"]["bedroom_target_c"],
            "measurement": c["room_temperature"]["measurement_note"],
        },
    ),
    "chase_repair": ("utter_chase_repair", lambda c: {}),
}


class ActionCityAnswer(Action):
    """One action for every question whose answer is a figure of the city's configuration."""

    def name(self) -> Text:
        return "action_city_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        intent = latest_intent(tracker)
        if intent == "payment_not_credited" and await answer_payment_claim(dispatcher, tracker):
            return []
        response, fill = ANSWERS.get(intent, ("utter_default", lambda c: {}))
        dispatcher.utter_message(response=response, **fill(city()))
        return []
