"""What every action shares (actions/common.py): money and rate formatting, the 户号 a message names,
the channel and intent of the latest message, and one billing client per process."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actions import common
from actions.common import channel_of, latest_intent, latest_text, latest_user_event, mentioned_account, permille, yuan
from tests.actions.support import make_tracker


@pytest.mark.parametrize("amount, shown", [("1587.41", "1587.41"), ("1509", "1509.00"), ("22.581", "22.58"),
                                           ("0.005", "0.01"), ("12345.6", "12345.60")])
def test_yuan_has_two_decimals_and_no_thousands_separator(amount: str, shown: str) -> None:
    assert yuan(Decimal(amount)) == shown


def test_permille_is_the_rate_as_residents_read_it() -> None:
    assert (permille(Decimal("0.001")), permille(Decimal("0.0005")), permille(Decimal("0.003"))) == ("1", "0.5", "3")


def test_the_entity_names_the_account_before_the_text() -> None:
    tracker = make_tracker("我妈那户 2024000001", "inform", entities=[{"entity": "account_no", "value": "2024000004"}])
    assert mentioned_account(tracker) == "2024000004"


@pytest.mark.parametrize("text, account", [("户号：２０２４０００００１", "2024000001"), ("2024-0000-06 不热", "2024000006"),
                                           ("尾号5678", None), ("13800005678", None)])
def test_the_text_names_the_account_however_typed(text: str, account: str) -> None:
    assert mentioned_account(make_tracker(text, "inform")) == account


def test_the_latest_message_and_its_channel() -> None:
    tracker = make_tracker("查欠费", "ask_balance", channel="wechat")
    assert (latest_text(tracker), latest_intent(tracker), channel_of(tracker)) == ("查欠费", "ask_balance", "wechat")
    assert latest_user_event(tracker)["text"] == "查欠费"
    empty = make_tracker("x", "greet", events=[])
    assert (channel_of(empty), latest_user_event(empty)) == ("unknown", {})


def test_one_billing_client_per_process(billing: str) -> None:
    assert common.billing() is common.billing()
    assert common.billing().base_url == billing
