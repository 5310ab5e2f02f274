from __future__ import annotations

import pytest

from bot.nlu.anger_lexicon import FAMILIES, cue_scores


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
        ("说了五遍了 还问", "impatience"),
        ("磨磨唧唧的 有完没完", "impatience"),
        ("跟机器人说不清 你就是个复读机", "bot_contempt"),
        ("再不修我就找电视台", "escalation"),
        ("我去信访办反映", "escalation"),
        ("看人下菜碟 有关系就先修", "accusation"),
        ("钱倒是收得挺积极", "sarcasm"),
        ("收钱的时候咋那么痛快", "sarcasm"),
        ("交个钱还得去营业厅？", "rhetorical"),
        ("就不能在手机上办吗", "rhetorical"),
        ("转人工转人工", "impatience"),
        ("越问越窝火", "impatience"),
        ("再不修我就报警", "escalation"),
    ],
)
def test_documented_cues_are_found(text: str, family: str) -> None:
    assert family in {found for found, _weight in cue_scores(text)}


@pytest.mark.parametrize(
    "text",
    [
        "您好，我想反映一下维修师傅态度不太好", "我家欠多少暖气费", "暖气管漏水了 快来人", "谢谢您！", "好的？",
        "滞纳金按千分之几算", "2024000123", "师傅今天就来修好了 谢谢",
        "你好你好", "谢谢谢谢", "好的好的", "哈哈哈哈", "不是不是 我记错了", "家里有小孙子怕冷",
        "我再不交是不是就停了",
    ],
)
def test_polite_and_plain_messages_have_no_cue(text: str) -> None:
    assert cue_scores(text) == []


def test_every_family_is_a_classifier_feature() -> None:
    found = {family for cue_text in ("TMD", "骗子", "说了三遍了", "赶紧", "智障", "12345", "呵呵", "！！！",
                                         "难道")
             for family, _weight in cue_scores(cue_text)}
    assert found == set(FAMILIES)
