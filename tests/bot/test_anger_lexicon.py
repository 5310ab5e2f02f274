from __future__ import annotations

import pytest

from bot.nlu.anger_lexicon import cue_scores, noisy_or


@pytest.mark.parametrize(
    "text, family",
    [
        ("你们TMD就知道收钱", "insult"),
        ("nnd 又不热了", "insult"),
        ("黑心公司 抢钱啊", "accusation"),
        ("再不来我就打12345", "escalation"),
        ("我要找媒体曝光你们", "escalation"),
        ("呵呵 真行啊", "sarcasm"),
        ("到底修不修！！！", "punctuation"),
        ("什么时候来？？？", "punctuation"),
    ],
)
def test_documented_cues_are_found(text: str, family: str) -> None:
    assert family in {found for found, _weight in cue_scores(text)}


@pytest.mark.parametrize(
    "text",
    ["您好，我想反映一下维修师傅态度不太好", "我家欠多少暖气费", "暖气管漏水了 快来人", "谢谢您！", "好的？"],
)
def test_polite_and_plain_messages_have_no_cue(text: str) -> None:
    assert cue_scores(text) == []


def test_noisy_or_combines_independent_signals() -> None:
    assert noisy_or([]) == 0.0
    assert noisy_or([0.5, 0.5]) == pytest.approx(0.75)
    assert noisy_or([1.2, -1]) == 1.0  # clamped
