"""Anger cues that Chinese users really use in service chats (see DOMAIN.md).

The emotion classifier (`bot.nlu.emotion`) learns anger from the labelled NLU
data; this lexicon adds what the examples cannot teach reliably: rare insults
and their euphemisms, sarcasm markers, accusations of cheating or favouritism,
threats of going public, impatience, contempt for the bot and shouted
punctuation. Each cue has a weight in [0, 1] (how sure we are that a message
containing it is angry on its own); the classifier sees one feature per family
and learns how much each family counts, and the parse reports the families it
found (`emotion.cues`) so every decision can be explained.
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
        r"狗屁", r"放屁", r"滚", r"王八", r"混蛋", r"不要脸", r"缺德", r"装孙子", r"龟孙",
    ])
    # Accusations of cheating or contempt.
    + _cues("accusation", 0.9, [
        r"抢钱", r"黑心", r"骗子", r"骗钱", r"坑人", r"坑钱", r"坑爹", r"吸血", r"土匪", r"强盗",
        r"不当人", r"不把.{0,6}当人", r"不当回事", r"不当钱", r"欺负老百姓", r"霸王条款", r"无耻", r"丧良心",
        r"讹", r"忽悠", r"糊弄", r"耍.{0,2}(人|我)", r"当猴耍", r"走后门", r"看人下菜", r"关系户", r"区别对待",
        r"凭(什么|啥)", r"良心", r"缺德", r"吃拿卡要", r"贪污", r"偷税", r"捞钱", r"敛财", r"明抢",
    ])
    # Impatience without swear words.
    + _cues("impatience", 0.7, [
        r"(说|问|打|讲)了.{0,3}[二两三四五六七八九十百千几多n0-9]+[遍次回趟]", r"[三四五六七八九十百几多n]+[遍次回趟]了",
        r"第[三四五六七八九十几n]+[遍次回趟]",
        r"磨叽", r"磨磨唧唧", r"别废话", r"说重点", r"有完没完", r"能不能行", r"烦不烦", r"烦死", r"烦人",
        r"等了.{0,4}(天|小时|礼拜|星期|周)", r"还要等多久", r"没人管", r"没人理", r"没下文",
        r"绕(啥|什么|圈子|来绕去)", r"听不懂(吗|啊|是吧)", r"越.{0,2}越(来气|生气|气|窝火|上火)",
        r"(记住|听清|明白|看清)了(吧|没)[？?]?$", r"一拖再拖", r"推来推去", r"推三阻四",
        # A word said two or three times in a row ("人工人工人工"), but not the calm doublings of greetings.
        r"(?!你好|哈喽|谢谢|好的|拜拜|再见|嗯嗯|哈哈|对对|是是|行行|没事|有人|不是|不对|明白|知道|收到|可以|没有)([\u4e00-\u9fff]{2,3})\1",
    ])
    # Urgency: also said calmly ("漏水了 赶紧来人"), so a weak cue the classifier weighs.
    + _cues("urgency", 0.4, [r"快点", r"赶紧", r"到底", r"马上"])
    # Contempt for the bot.
    + _cues("bot_contempt", 0.8, [
        r"跟(机器|机器人|你).{0,4}说不(明白|清)", r"人工智障", r"智障", r"复读机", r"答非所问", r"听不懂人话",
        r"破机器", r"傻机器", r"机器人.{0,6}(没用|废|垃圾)", r"说人话", r"车轱辘话",
    ])
    # Escalation threats.
    + _cues("escalation", 0.85, [
        r"12345", r"住建局", r"市长热线", r"找媒体", r"曝光", r"起诉", r"告你们", r"法院", r"投诉到",
        r"上访", r"电视台", r"抖音.{0,4}发", r"举报你们",
        r"信访", r"媒体", r"记者", r"报社", r"热线.{0,4}投诉", r"发(到)?(网上|朋友圈|微博|抖音|快手)",
        r"打官司", r"律师", r"消协", r"找.{0,4}(领导|上级|政府)", r"市长信箱", r"告到",
        r"报警", r"再不.{1,8}我(就|可|立马|马上)", r"投诉信", r"公开信", r"拉横幅",
    ])
    # Sarcasm and exasperation.
    + _cues("sarcasm", 0.8, [
        r"呵呵", r"真行啊", r"真行", r"服了", r"可真(会|行|厉害)", r"厉害了", r"好一个", r"真是绝了",
        r"气死", r"受够", r"忍无可忍", r"欺人太甚", r"有病吧", r"什么玩意", r"啥玩意", r"搞什么",
        r"还要不要脸", r"拿.{0,4}当傻子", r"给个说法", r"😡|🤬|💢|😤",
        r"挺快啊", r"真会", r"倒是.{0,6}(快|积极|准|勤)", r"谢谢你们全家", r"可真是",
        r"无语", r"绝了", r"离谱", r"醉了", r"逗我", r"搞笑", r"开什么玩笑", r"咋不上天", r"咋不去抢",
        r"🙄|🙃|👎|🖕|💩",
        # Contrast sarcasm: quick to take money, slow for everything else ("收钱的时候挺积极").
        r"(的时候|时)(咋|怎么)?(那么|挺|倒是|真|可)(积极|痛快|快|勤快|利索|麻利)",
        r"是给.{0,6}供的吧", r"(比|跟).{0,4}(冰窖|冰箱|冰棍)",
        r"(真|可)是(好样|长本事|服务到家)",
    ])
    # Rhetorical questions of frustration: "还得跑营业厅？", "就不能手机办吗", "难道要我…".
    + _cues("rhetorical", 0.6, [
        r"还得.{1,10}[？?]", r"就不能", r"难道", r"就没(个|有)?.{0,10}(吗|嘛)", r"还(让|要)我.{0,8}[？?]",
        r"是不是(得|要).{0,6}(明年|开春|过年|等到|冻死)", r"(咋|怎么)(就|还)?(这么|那么)(难|费劲|麻烦)",
        r"有(这么|这样)(办事|做事|服务)的", r"什么(服务|态度|效率|流程)", r"(要你们|养你们)(有|干)(啥|什么)用",
        r"让我(怎么|咋)(弄|办|整|下|交|活)",
    ])
    # Shouted punctuation.
    + _cues("punctuation", 0.75, [r"[！!]{3,}", r"[？?]{3,}", r"[？?][！!][？?!！]"])
)


FAMILIES: Tuple[str, ...] = tuple(dict.fromkeys(cue.family for cue in CUES))


def cue_scores(text: str) -> List[Tuple[str, float]]:
    """The families and weights of every cue found in `text`."""
    return [(cue.family, cue.weight) for cue in CUES if cue.pattern.search(text)]
