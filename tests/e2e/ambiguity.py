"""Finds a message the running model is unsure about, for the clarifying-question tests.

Which phrasing is ambiguous depends on the trained model, so the tests ask the model itself
(Rasa's `/model/parse`) instead of hard-coding a sentence that a better model would understand.
The clarifying question must then offer exactly the two best labelled intents of that parse.
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
)


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
    return choices if len(choices) == 2 else None
