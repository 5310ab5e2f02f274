"""The text views both NLU models read: normalised text and jieba words."""

from __future__ import annotations

import re
from typing import List

from bot.nlu.spelling import canonical

_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower case, one space, digit runs folded to `0` (numbers carry no intent or mood)."""
    return _SPACES.sub(" ", _DIGITS.sub("0", text.lower())).strip()


def spelled(text: str) -> str:
    """Normalised, with known typos, pinyin and initials in their usual characters (bot/nlu/spelling.py)."""
    return canonical(normalise(text))


def words(text: str) -> List[str]:
    """Jieba words and adjacent word pairs of the text as the resident typed it."""
    import jieba

    tokens = [token for token in jieba.lcut(text) if token.strip()]
    return tokens + [f"{a}_{b}" for a, b in zip(tokens, tokens[1:])]
