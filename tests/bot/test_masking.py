from __future__ import annotations

from bot.masking import mask_id, mask_name, mask_phone, mask_text


def test_names_and_phones_are_masked_as_design_says() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("") == ""
    assert mask_phone("13800005678") == "138****5678"
    assert mask_phone("138****5678") == "138****5678"


def test_free_text_phone_numbers_are_masked() -> None:
    assert mask_text("我电话13800005678，户号2024000001") == "我电话138****5678，户号2024000001"


def test_id_card_numbers_are_masked_and_account_numbers_kept() -> None:
    text = "身份证230102199001011234，另一个11010519491231002X，户号2024000001"
    assert mask_text(text) == "身份证230102********1234，另一个110105********002X，户号2024000001"


def test_ids_in_logs_are_shortened() -> None:
    assert mask_id("oAbCdEfGhIjKlMnOpQrStUvWxYz12") == "oAbC…12"
    assert mask_id("short") == "*****"
