"""One masking for the bot, the console and the billing service (heatdesk_contract.masking)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from heatdesk_contract.masking import mask_account, mask_id, mask_name, mask_phone, mask_text


def test_names_and_phones_are_masked_as_design_says() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("") == "" and mask_name(None) == ""
    assert mask_phone("13800005678") == "138****5678"
    assert mask_phone("138****5678") == "138****5678"  # the billing API's masked number, kept


def test_every_phone_shape_shows_three_and_four_digits_at_most() -> None:
    assert mask_phone("138-0000-5678") == "138****5678"
    assert mask_phone("0451-12345678") == "045****5678"  # a landline: never its full tail of 8
    assert mask_phone("12345") == "****"
    assert mask_phone("") == "" and mask_phone(None) == ""


@settings(deadline=None)  # a loaded CI machine is no failure
@given(st.text(alphabet="0123456789- ", min_size=7, max_size=20))
def test_a_masked_phone_never_shows_more_than_seven_digits(phone: str) -> None:
    assert len(re.sub(r"\D", "", mask_phone(phone))) <= 7


def test_free_text_phone_numbers_are_masked() -> None:
    assert mask_text("我电话13800005678，户号2024000001") == "我电话138****5678，户号2024000001"


def test_id_card_numbers_are_masked_and_account_numbers_kept() -> None:
    text = "身份证230102199001011234，另一个11010519491231002X，户号2024000001"
    assert mask_text(text) == "身份证230102********1234，另一个110105********002X，户号2024000001"


def test_ids_in_logs_and_accounts_in_replies_are_shortened() -> None:
    assert mask_id("oAbCdEfGhIjKlMnOpQrStUvWxYz12") == "oAbC…12"
    assert mask_id("short") == "*****"
    assert mask_account("2024000004") == "2024****04"
