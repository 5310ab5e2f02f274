"""Anger cues that Chinese users really use in service chats (see DOMAIN.md).

The spaCy text classifier learns anger from the labelled NLU data; this lexicon
adds what a few hundred examples cannot teach reliably: rare insults and their
euphemisms, sarcasm markers, accusations, escalation threats and shouted
punctuation. Each cue has a weight in [0, 1]: how sure we are that a message
containing it is angry on its own. Cues are combined with the classifier's
probability by `noisy_or`, so one strong cue is enough and weak cues add up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Pattern, Tuple


@dataclass(frozen=True)
class Cue:
    """One anger cue: a regular expression, its weight and its family."""

    family: str
    pattern: Pattern[str]
    weight: float


def _cues(family: str, weight: float, patterns: Iterable[str]) -> List[Cue]:
    return [Cue(family, re.compile(p, re.IGNORECASE), weight) for p in patterns]


CUES: Tuple[Cue, ...] = tuple(
    # Insults and euphemised swearing.
    _cues("insult", 0.95, [
        r"tmd", r"他妈", r"他娘", r"nnd", r"尼玛", r"你妈", r"nmsl", r"mlgb", r"cnm", r"草泥马",
        r"妈的", r"md[!！ ]", r"傻[逼bB比]", r"sb(?![a-z])", r"煞笔", r"垃圾", r"废物",
        r"狗屁", r"放屁", r"滚", r"王八", r"混蛋", r"不要脸", r"缺德", r"孙子",
    ])
    # Accusations of cheating or contempt.
    + _cues("accusation", 0.9, [
        r"抢钱", r"黑心", r"骗子", r"骗钱", r"坑人", r"坑钱", r"坑爹", r"吸血", r"土匪", r"强盗",
        r"不当人", r"不把.{0,6}当人", r"不当回事", r"不当钱", r"欺负老百姓", r"霸王条款", r"无耻", r"丧良心",
    ])
    # Escalation threats.
    + _cues("escalation", 0.85, [
        r"12345", r"住建局", r"市长热线", r"找媒体", r"曝光", r"起诉", r"告你们", r"法院", r"投诉到",
        r"上访", r"电视台", r"抖音.{0,4}发", r"举报你们",
    ])
    # Sarcasm and exasperation.
    + _cues("sarcasm", 0.8, [
        r"呵呵", r"真行啊", r"真行", r"服了", r"可真(会|行|厉害)", r"厉害了", r"好一个", r"真是绝了",
        r"气死", r"受够", r"忍无可忍", r"欺人太甚", r"有病吧", r"什么玩意", r"啥玩意", r"搞什么",
        r"还要不要脸", r"拿.{0,4}当傻子", r"给个说法", r"😡|🤬|💢|😤",
    ])
    # Shouted punctuation.
    + _cues("punctuation", 0.75, [r"[！!]{3,}", r"[？?]{3,}", r"[？?][！!][？?!！]"])
)


def cue_scores(text: str) -> List[Tuple[str, float]]:
    """The families and weights of every cue found in `text`."""
    return [(cue.family, cue.weight) for cue in CUES if cue.pattern.search(text)]


def noisy_or(probabilities: Iterable[float]) -> float:
    """Probability that at least one independent signal fires."""
    remaining = 1.0
    for probability in probabilities:
        remaining *= 1.0 - max(0.0, min(1.0, probability))
    return 1.0 - remaining
