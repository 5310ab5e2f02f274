"""One spelling for what residents write many ways: homophone typos, pinyin, abbreviations.

Residents type on phones with pinyin input: a wrong candidate gives a homophone (暖器, 缴废,
滞纳斤, 保停), a hurried one types the pinyin itself (baoting, zhuan rengong) or its initials
(rg, znj, qf). The character n-grams the NLU reads see each spelling as a different word, so a
typo learnt in one intent's examples did not carry to another's. Folding them to one spelling
before featurising lets every example teach every spelling (docs/nlu.md, round 5). Only
spellings that cannot mean anything else in a heating chat are folded; the folding is applied
to the character view, the jieba words still see what the resident typed.
"""

from __future__ import annotations

import re
from typing import Dict, List, Pattern, Tuple

#: Wrong candidates of the pinyin keyboard and their intended word.
HOMOPHONES: Dict[str, str] = {
    "暖器": "暖气", "暖汽": "暖气", "暖起": "暖气", "暖氣": "暖气",
    "缴": "交", "叫费": "交费", "交废": "交费", "帐": "账",
    "滞纳斤": "滞纳金", "支纳金": "滞纳金", "滞那金": "滞纳金", "致纳金": "滞纳金", "滞纳今": "滞纳金",
    "置纳金": "滞纳金", "制纳金": "滞纳金", "迟纳金": "滞纳金", "滞拿金": "滞纳金",
    "保停": "报停", "报亭": "报停", "报挺": "报停", "复共": "复供", "负供": "复供", "付供": "复供",
    "开拴": "开栓", "开闩": "开栓", "过护": "过户", "更明": "更名", "人功": "人工", "人公": "人工",
    "发漂": "发票", "发飘": "发票", "态渡": "态度", "维秀": "维修", "漏谁": "漏水",
    "再吗": "在吗", "在嘛": "在吗", "再嘛": "在吗", "共暖": "供暖", "木有": "没有",
    # One name for the heating fee and for heating (供热 and 供暖 are used interchangeably).
    "供热费": "暖气费", "取暖费": "暖气费", "采暖费": "暖气费", "供暖费": "暖气费", "热费": "暖气费",
    "供热": "供暖",
}

#: Pinyin (syllables with or without spaces) and initials, matched as whole Latin words.
PINYIN: Dict[str, str] = {
    "zhuan ren gong": "转人工", "ren gong ke fu": "人工客服", "ren gong": "人工", "ke fu": "客服",
    "bao ting": "报停", "kai shuan": "开栓", "fu gong": "复供", "guo hu": "过户", "geng ming": "更名",
    "zhi na jin": "滞纳金", "nuan qi fei": "暖气费", "nuan qi": "暖气", "gong nuan": "供暖",
    "jiao fei": "交费", "qian fei": "欠费", "tou su": "投诉", "fa piao": "发票", "hu hao": "户号",
    "bao xiu": "报修", "wei xiu": "维修", "lou shui": "漏水", "bu re": "不热", "tui kuan": "退款",
    "tui fei": "退费", "di bao": "低保", "huan jiao": "缓交", "fen qi": "分期", "duo shao qian": "多少钱",
    "duo shao": "多少", "zen me ban": "怎么办", "zen me": "怎么", "shen me shi hou": "什么时候",
    "shen me": "什么", "shi hou": "时候", "wei xin": "微信", "zhi fu bao": "支付宝", "dao zhang": "到账",
    "xie xie": "谢谢", "zai jian": "再见", "ni hao": "你好", "zai ma": "在吗", "shi de": "是的",
    "hao de": "好的", "bu yong": "不用", "bu shi": "不是", "bu yao": "不要", "wo yao": "我要",
    "ban li": "办理", "bu he li": "不合理", "ji qi ren": "机器人", "mian": "免", "leng": "冷",
    "rgkf": "人工客服", "zrg": "转人工", "rg": "人工", "kf": "客服", "qf": "欠费", "znj": "滞纳金",
    "bt": "报停", "fp": "发票", "nq": "暖气", "zfb": "支付宝", "wx": "微信", "jf": "交费",
    "sm": "什么", "zm": "怎么",
}


def _pinyin_patterns() -> List[Tuple[Pattern[str], str]]:
    longest_first = sorted(PINYIN.items(), key=lambda item: -len(item[0]))
    return [
        (re.compile(r"(?<![a-z])" + r"\s?".join(map(re.escape, key.split())) + r"(?![a-z])"), value)
        for key, value in longest_first
    ]


_PINYIN = _pinyin_patterns()
#: Single characters first (缴 → 交 makes 缴废 the 交废 the next rule knows), then longest first.
_HOMOPHONES = sorted(HOMOPHONES.items(), key=lambda item: (len(item[0]) > 1, -len(item[0])))
_LATIN = re.compile(r"[a-z]")


def canonical(text: str) -> str:
    """The text with known typos, pinyin and initials in their usual characters (lower case in)."""
    if _LATIN.search(text):
        for pattern, word in _PINYIN:
            text = pattern.sub(word, text)
    for wrong, right in _HOMOPHONES:
        text = text.replace(wrong, right)
    return text
