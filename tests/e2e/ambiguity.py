"""Finds a message the running model is unsure about, for the clarifying-question tests.

Which phrasing is ambiguous depends on the trained model, so the tests ask the model itself
(Rasa's `/model/parse`) instead of hard-coding a sentence that a better model would understand.
The clarifying question must then offer exactly the two best labelled intents of that parse.
A pair with an intent that opens a ticket (a handoff trigger, or a repair) is passed over: its
continuation would differ from a fresh resident's by the ticket number and queue place, and its
reply offers a new numbered choice (取消转人工), which the tests must not mistake for the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import httpx
import yaml

from tests.stack import ROOT

#: Vague or two-topic messages a resident might send; at least one must leave the model unsure.
CANDIDATES = (
    "那个钱的事", "欠费和滞纳金", "钱咋回事", "暖气费那个事", "问下交费的事", "费用问题", "交钱",
    "暖气的事儿", "咨询一下", "我想问问暖气", "这个月的钱", "收费", "维修和缴费", "发票还是退费",
    "报停的费用", "多少", "怎么弄", "暖气", "钱", "交了", "费", "那个", "查", "能不能",
    "钱的事", "问问", "能办吗", "那个啥", "麻烦问下", "办个手续", "那个手续", "时间和钱",
)


#: Intents whose answer opens a ticket (bot.handoff.triggers.TRIGGER_INTENTS and the repair flows).
OPENS_A_TICKET = frozenset({"report_leak", "complain", "request_human", "report_not_warm", "chase_repair"})


def intent_labels() -> Dict[str, str]:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return dict(domain["responses"]["utter_intent_labels"][0]["custom"])


@dataclass(frozen=True)
class Ambiguous:
    text: str
    intents: List[str]  # the two choices the bot must offer, best first
    labels: List[str]

    @property
    def payloads(self) -> List[str]:
        return [f"/{name}" for name in self.intents]


def find_ambiguous(rasa_url: str, token: str) -> Ambiguous:
    labels = intent_labels()
    tried: List[str] = []
    for text in CANDIDATES:
        parse = httpx.post(f"{rasa_url}/model/parse", params={"token": token}, json={"text": text}, timeout=30)
        parse.raise_for_status()
        body = parse.json()
        found = _choices(body, labels)
        tried.append(f"{text}: {(body.get('intent') or {}).get('name')}")
        if found is not None:
            return Ambiguous(text, found, [labels[name] for name in found])
    raise AssertionError(f"no candidate left the model unsure with two labelled meanings: {tried}")


def _choices(parse: Dict, labels: Dict[str, str]) -> Optional[List[str]]:
    if (parse.get("intent") or {}).get("name") != "nlu_fallback":
        return None
    names = [item["name"] for item in parse.get("intent_ranking") or [] if "name" in item if item["name"] != "nlu_fallback"]
    choices = [name for name in names[:3] if name in labels][:2]
    if len(choices) < 2 or OPENS_A_TICKET.intersection(choices):
        return None
    return choices
