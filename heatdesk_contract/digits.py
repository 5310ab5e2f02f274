"""Digits as residents type them, turned into the ASCII digits the identity check reads.

Residents copy 户号 from bills and phone keyboards: full-width digits (２０２４０００００１),
groups separated by spaces or dashes (2024 0000 01), and phone tails said in Chinese
(五六七八, 伍陆柒捌). One pure function, so the bot's identity form and the console's account
lookup (a tail the resident wrote to an agent) agree on what counts.
"""

from __future__ import annotations

import re
import unicodedata

#: Chinese digit characters, everyday and financial (大写) forms, and 幺 as said on the phone.
CHINESE_DIGITS = {
    "零": "0", "〇": "0",
    "一": "1", "幺": "1", "壹": "1",
    "二": "2", "两": "2", "贰": "2",
    "三": "3", "叁": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6",
    "七": "7", "柒": "7",
    "八": "8", "捌": "8",
    "九": "9", "玖": "9",
}
#: Only runs of four or more: "一平" or "两天" must stay words.
_CHINESE_RUN = re.compile("[%s]{4,}" % "".join(CHINESE_DIGITS))
#: Digit groups separated by blanks or dashes (after NFKC, so full-width forms are ASCII).
_GROUPED = re.compile(r"\d+(?:[ \t\-‐‑–—_]+\d+)+")
_GROUP = re.compile(r"\d+")
MAX_ACCOUNT_DIGITS = 10
PHONE_TAIL_DIGITS = 4


def _join_groups(match: "re.Match[str]") -> str:
    """Joins one run of groups when the result can be a 户号, or a 户号 followed by a tail."""
    groups = _GROUP.findall(match.group(0))
    joined = "".join(groups)
    if len(joined) <= MAX_ACCOUNT_DIGITS:
        return joined
    head, tail = "".join(groups[:-1]), groups[-1]
    if len(tail) == PHONE_TAIL_DIGITS and len(head) <= MAX_ACCOUNT_DIGITS:
        return f"{head} {tail}"
    return match.group(0)


def normalize_digits(text: str) -> str:
    """`text` with full-width forms folded, Chinese digit runs as digits and digit groups joined."""
    folded = unicodedata.normalize("NFKC", text or "")
    spelled = _CHINESE_RUN.sub(lambda m: "".join(CHINESE_DIGITS[c] for c in m.group(0)), folded)
    return _GROUPED.sub(_join_groups, spelled)
