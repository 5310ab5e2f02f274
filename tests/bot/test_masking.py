from __future__ import annotations

from bot.masking import mask_name, mask_phone, mask_text


def test_names_and_phones_are_masked_as_design_says() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("") == ""
    assert mask_phone("13800005678") == "138****5678"
    assert mask_phone("138****5678") == "138****5678"


def test_free_text_phone_numbers_are_masked() -> None:
    assert mask_text("我电话13800005678，户号2024000001") == "我电话138****5678，户号2024000001"
