"""The spelling folding the intent classifier reads (bot/nlu/spelling.py): what is folded, what is left."""

from __future__ import annotations

import pytest

from bot.nlu.text import spelled


@pytest.mark.parametrize("typed, folded", [
    ("暖器不热", "暖气不热"),
    ("缴废咋缴", "交费咋交"),
    ("滞纳斤凭啥收", "滞纳金凭啥收"),
    ("保停怎么办", "报停怎么办"),
    ("wo yao baoting", "我要 报停"),
    ("zhuanrengong", "转人工"),
    ("guo hu 要啥材料", "过户 要啥材料"),
    ("znj多少", "滞纳金多少"),
    ("RG！！！", "人工！！！"),
    ("供热费2400", "暖气费0"),
])
def test_typos_pinyin_and_initials_take_their_usual_characters(typed: str, folded: str) -> None:
    assert spelled(typed) == folded


@pytest.mark.parametrize("typed", ["hello", "small app", "ok", "bug", "tmd", "nnd 受够了", "12345"])
def test_latin_words_that_are_not_known_pinyin_stay(typed: str) -> None:
    """Only whole Latin words are folded: "sm" inside "small", swearing initials and English stay."""
    assert spelled(typed) == typed.lower().replace("12345", "0")
