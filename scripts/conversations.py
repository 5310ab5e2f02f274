"""Thirty realistic resident conversations, run against the stack over REST and judged turn by turn.

Why: single questions are answered well, whole conversations were not (issue 11). Each turn
carries what a good answer must contain; the verdict of a bot turn is
* right       — every `right` phrase is in the reply and no `bad` phrase,
* acceptable  — one `ok` phrase is in the reply and no `bad` phrase,
* unhelpful   — no reply at all, or only a generic "didn't understand / anything else?",
* wrong       — anything else (an answer to another question, a wrong figure, a bad phrase).

Usage (starts its own stack with the demo billing data unless --rasa is given)::

    HEATDESK_TEST_REDIS_DB=12 .venv/svc/bin/python scripts/conversations.py [--markdown out.md]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.stack import ALL, Stack  # noqa: E402

TODAY = "2026-11-30"
HOTLINE = "0451-12345678"
GENERIC = ("没太明白", "还有其他问题吗", "还有什么需要帮您查的吗", "这个问题我暂时帮不上忙")
VERDICTS = ("right", "acceptable", "wrong", "unhelpful")


@dataclass
class Turn:
    """One resident message and what the bot's answer to it must contain."""

    text: str
    right: Sequence[str] = ()
    ok: Sequence[str] = ()
    bad: Sequence[str] = ()
    max_bubbles: Optional[int] = None
    check: Optional[Callable[["Run", List[str]], bool]] = None  # extra condition for "right"


@dataclass
class Conversation:
    title: str
    turns: List[Turn]
    agent_on_duty: bool = True


@dataclass
class Run:
    """State shared by the turns of one conversation (the console client, the sender)."""

    rasa: str
    console: Optional[httpx.Client]
    sender: str
    notes: Dict[str, str] = field(default_factory=dict)

    def say(self, text: str) -> List[str]:
        answer = httpx.post(self.rasa + "/webhooks/rest/webhook", json={"sender": self.sender, "message": text},
                            timeout=60)
        answer.raise_for_status()
        # A phone shows the quick replies under a bubble: they are part of what the resident reads.
        return [
            str(item.get("text") or "") + "".join(f" [{b.get('title')}]" for b in item.get("buttons") or [])
            for item in answer.json() if item.get("text")
        ]

    def console_position(self) -> Optional[int]:
        if self.console is None:
            return None
        items = self.console.get("/api/tickets", params={"conversation_id": f"{self.sender}"}).json().get("items", [])
        if not items:
            items = self.console.get("/api/tickets", params={"conversation_id": f"rest:{self.sender}"}).json().get("items", [])
        if not items:
            return None
        detail = self.console.get(f"/api/tickets/{items[0]['ticket_no']}").json()
        return detail.get("queue_position")

    def ticket(self) -> Dict[str, object]:
        if self.console is None:
            return {}
        for conversation_id in (self.sender, f"rest:{self.sender}"):
            items = self.console.get("/api/tickets", params={"conversation_id": conversation_id}).json().get("items", [])
            if items:
                return self.console.get(f"/api/tickets/{items[0]['ticket_no']}").json()
        return {}


def verdict(turn: Turn, run: Run, replies: List[str]) -> str:
    joined = "\n".join(replies)
    if not joined.strip():
        return "unhelpful"
    if any(phrase in joined for phrase in turn.bad):
        return "wrong"
    fits = turn.max_bubbles is None or len(replies) <= turn.max_bubbles
    if turn.right and all(re.search(p, joined) for p in turn.right) and fits and (turn.check is None or turn.check(run, replies)):
        return "right"
    if turn.ok and any(re.search(p, joined) for p in turn.ok):
        return "acceptable"
    if all(any(g in reply for g in GENERIC) for reply in replies):
        return "unhelpful"
    return "wrong"


def same_position_as_console(run: Run, replies: List[str]) -> bool:
    found = re.findall(r"第\s*(\d+)\s*位", "\n".join(replies))
    if not found:
        return False
    import time

    for _ in range(30):
        position = run.console_position()
        if position is not None:
            return int(found[-1]) == position
        time.sleep(0.3)
    return False


def ticket_has(*needles: str) -> Callable[[Run, List[str]], bool]:
    def check(run: Run, _replies: List[str]) -> bool:
        import json
        import time

        for _ in range(30):
            detail = run.ticket()
            if detail:
                text = json.dumps(detail, ensure_ascii=False)
                if all(needle in text for needle in needles):
                    return True
            time.sleep(0.3)
        return False

    return check


QUEUED_ACK = r"已收到"
CONVERSATIONS: List[Conversation] = [
    Conversation("after hours: nobody on duty at 3 a.m.", [
        Turn("转人工", right=[r"工单号", r"(没有|暂无|不在).{0,6}(客服|人工)", HOTLINE], ok=[r"工单号"]),
        Turn("那什么时候有人回我", right=[QUEUED_ACK, r"\d{1,2}:\d{2}"], ok=[QUEUED_ACK]),
    ], agent_on_duty=False),
    Conversation("changes her mind in the queue", [
        Turn("转人工", right=[r"工单号", r"第\s*\d+\s*位", "取消转人工"], ok=[r"工单号"]),
        Turn("算了 不用人工了 我自己查吧", right=[r"已取消"], ok=[r"取消"]),
        Turn("查欠费", right=[r"户号"]),
    ]),
    Conversation("complains, then asks the price while waiting", [
        Turn("我要投诉你们上门的维修工 态度太差", right=[r"工单号"]),
        Turn("对了 暖气费多少钱一平", right=[r"26\.00", QUEUED_ACK], ok=[r"26\.00"]),
        Turn("好的谢谢", right=[QUEUED_ACK], ok=[r"不客气"]),
    ]),
    Conversation("leak without an account", [
        Turn("卫生间暖气片接口呲水了 地上全是水 快来人",
             right=[HOTLINE, r"阀门", r"地址"], ok=[r"阀门"], bad=["此工单没有户号"]),
        Turn("阀门在哪啊 我找不着", right=[r"阀门", r"(进水|回水|分户|管井|暖气片)"]),
        Turn("红军街87号院2-4-201", right=[r"(电话|手机)"], ok=[QUEUED_ACK],
             check=ticket_has("红军街87号院2-4-201")),
        Turn("13845671234", right=[r"(记下|已记录|回电|联系您)"], ok=[QUEUED_ACK], check=ticket_has("138****1234")),
    ]),
    Conversation("leak after the account was verified", [
        Turn("查欠费", right=[r"户号"]),
        Turn("2024000001", right=[r"后四位"]),
        Turn("5678", right=[r"1509\.00", r"2024\*+01|尾号\s*0001|\*+0001"], ok=[r"1509\.00"]),
        Turn("家里暖气管漏水了 止不住", right=[HOTLINE, r"阳光小区3号楼2单元501", r"(电话|手机)"], ok=[r"阀门"]),
        Turn("你们多久能到", right=[r"30\s*分钟"], ok=[QUEUED_ACK]),
    ]),
    Conversation("urgent cold with an old man at home", [
        Turn("家里才12度 我爸八十多了冻得直哆嗦", right=[HOTLINE, r"工单号", r"地址"], ok=[r"工单号", r"18"]),
        Turn("那我现在咋办啊", right=[r"(保暖|被子|衣服|电暖)"], ok=[QUEUED_ACK]),
    ]),
    Conversation("baby crying in a cold flat", [
        Turn("孩子才三个月 屋里13度 冻得直哭", right=[HOTLINE, r"工单号"], ok=[r"工单号", r"18"],
             bad=["征信"]),
    ]),
    Conversation("checks her mother's household too", [
        Turn("查欠费", right=[r"户号"]),
        Turn("2024000001 5678", right=[r"1509\.00", r"\*"], ok=[r"1509\.00"]),
        Turn("再帮我查查我妈家 2024000004", right=[r"后四位"], ok=[r"户号"]),
        Turn("5628", right=[r"848\.40", r"\*"], ok=[r"848\.40"], bad=["1509.00"]),
    ]),
    Conversation("not warm, with account and tail in one message", [
        Turn("户号2024000006 尾号1021 我家暖气不热", right=[r"工单号", r"和兴路丽景小区3栋502"], ok=[r"阀门|测温"],
             bad=["全部热费已交清"]),
        Turn("那你们啥时候来人", right=[r"(小时|分钟|尽快)"], ok=[QUEUED_ACK], bad=["采暖期一般从"]),
    ]),
    Conversation("disputes a late fee that started on 10-21", [
        Turn("查一下滞纳金", right=[r"户号"]),
        Turn("2024000008", right=[r"后四位"]),
        Turn("3450", right=[r"滞纳金"]),
        Turn("凭啥去年10月21号就开始算我滞纳金？", right=[r"12月31日|12-31", r"×"], ok=[r"滞纳金规则"],
             bad=["可以通过这些方式缴费"]),
        Turn("我不服", right=[r"工单号"], ok=[r"转人工"], bad=["那您还有其他问题吗"],
             check=ticket_has("滞纳金异议")),
    ]),
    Conversation("balance on a phone, then the details", [
        Turn("我家欠多少钱", right=[r"户号"]),
        Turn("2024000001 5678", right=[r"1509\.00"], max_bubbles=3),
        Turn("明细", right=[r"2024-2025", r"2509\.00"], ok=[r"2509\.00"]),
    ]),
    Conversation("asks the late fee twice", [
        Turn("滞纳金多少", right=[r"户号"]),
        Turn("2024000004 5628", right=[r"滞纳金", r"848\.40"]),
        Turn("那滞纳金咋算的", right=[r"848\.40", r"×"], bad=["滞纳金规则："]),
    ]),
    Conversation("paid-up household", [
        Turn("查下欠费 2024000006 1021", right=[r"(没有欠费|已交清)"], ok=[r"后四位"], bad=["逾期"]),
        Turn("好的 谢谢", right=[r"不客气"]),
    ]),
    Conversation("long arrears: the 征信 warning only once", [
        Turn("我想查欠费", right=[r"户号"]),
        Turn("2024000007 7643", right=[r"征信"]),
        Turn("滞纳金多少", right=[r"滞纳金"], bad=["征信"]),
    ]),
    Conversation("the cap explained on the principal", [
        Turn("滞纳金怎么算", right=[r"户号"], ok=[r"1‰"]),
        Turn("2024000007 7643", right=[r"本金", r"2384\.20"], bad=["欠费本金的100%"]),
    ]),
    Conversation("queue position equals the console's", [
        Turn("我要找人工客服", right=[r"工单号", r"第\s*\d+\s*位"], check=same_position_as_console),
        Turn("我排第几了", right=[r"第\s*\d+\s*位"], check=same_position_as_console),
    ]),
    Conversation("leaves the identity form for a price question", [
        Turn("查欠费", right=[r"户号"]),
        Turn("算了不查了，暖气费多少钱一平", right=[r"26\.00"], bad=["8到10位数字"]),
    ]),
    Conversation("full-width account number", [
        Turn("查欠费", right=[r"户号"]),
        Turn("户号：２０２４０００００１", right=[r"后四位"], bad=["8到10位数字"]),
        Turn("5678", right=[r"1509\.00"]),
    ]),
    Conversation("account number typed with spaces", [
        Turn("我要查欠费", right=[r"户号"]),
        Turn("2024 0000 01", right=[r"后四位"], bad=["8到10位数字"]),
    ]),
    Conversation("season and deadline", [
        Turn("今年哪天开始供暖", right=[r"10月20日"]),
        Turn("最晚啥时候交费", right=[r"12月31日"]),
    ]),
    Conversation("paid but still shown as owing", [
        Turn("我昨天微信交了 怎么还显示欠费", right=[r"到账"]),
    ]),
    Conversation("suspension", [
        Turn("明年冬天不住了 想报停", right=[r"5月1日"]),
    ]),
    Conversation("chases a repair, then waits for a person", [
        Turn("报修三天了还不来人", right=[r"(催办|转人工|工单号)"]),
        Turn("转人工", right=[r"工单号"]),
        Turn("到底什么时候来", right=[QUEUED_ACK]),
    ]),
    Conversation("asks for the balance while queued", [
        Turn("转人工", right=[r"工单号"]),
        Turn("查欠费", right=[r"户号"], ok=[QUEUED_ACK]),
        Turn("2024000001 5678", right=[r"1509\.00"], ok=[QUEUED_ACK]),
    ]),
    Conversation("angry resident keeps writing", [
        Turn("你们这帮骗子 收钱不干活", right=[r"工单号"]),
        Turn("人呢？？？", right=[QUEUED_ACK, r"第\s*\d+\s*位"], ok=[QUEUED_ACK]),
    ]),
    Conversation("hardship relief", [
        Turn("我是低保户 暖气费能减免吗", right=[r"低保"]),
    ]),
    Conversation("invoice and refund", [
        Turn("电子发票在哪开", right=[r"发票"]),
        Turn("多交的钱能退吗", right=[r"退"]),
    ]),
    Conversation("greeting and bot question", [
        Turn("你好", right=[r"您好"]),
        Turn("你是机器人吗", right=[r"机器人"]),
    ]),
    Conversation("dispute before verifying", [
        Turn("滞纳金太不合理了 能不能免掉", right=[r"(转人工|工单号)"], ok=[r"滞纳金"]),
        Turn("我不服", right=[r"工单号"], ok=[r"转人工"], bad=["那您还有其他问题吗"]),
    ]),
    Conversation("cancels with the quick-reply text and asks the price", [
        Turn("转人工", right=[r"工单号", "取消转人工"], ok=[r"工单号"]),
        Turn("取消转人工", right=[r"已取消"], ok=[r"取消"]),
        Turn("暖气费多少钱一平", right=[r"26\.00"], bad=[QUEUED_ACK]),
    ]),
]


def keep_agent_present(console: httpx.Client) -> None:
    """Any authenticated request counts as the agent being at the console."""
    console.get("/api/me")


def run_all(rasa: str, console_url: str) -> List[Tuple[Conversation, List[Tuple[Turn, List[str], str]]]]:
    results = []
    console: Optional[httpx.Client] = None
    for number, conversation in enumerate(sorted(CONVERSATIONS, key=lambda c: c.agent_on_duty)):
        if conversation.agent_on_duty and console is None:
            console = httpx.Client(base_url=console_url, timeout=15)
            console.post("/api/login", json={"username": "admin", "password": "admin-test-password"}).raise_for_status()
        if console is not None:
            keep_agent_present(console)
        run = Run(rasa, console, f"script-{number:02d}-{uuid.uuid4().hex[:6]}")
        turns = []
        for turn in conversation.turns:
            replies = run.say(turn.text)
            turns.append((turn, replies, verdict(turn, run, replies)))
        results.append((conversation, turns))
    return results


def markdown(results: List[Tuple[Conversation, List[Tuple[Turn, List[str], str]]]]) -> str:
    counts = Counter(v for _c, turns in results for _t, _r, v in turns)
    lines = [
        "| verdict | turns |", "|---|---|",
        *[f"| {v} | {counts.get(v, 0)} |" for v in VERDICTS],
        f"| **total** | {sum(counts.values())} |", "",
    ]
    for number, (conversation, turns) in enumerate(results, 1):
        lines.append(f"#### {number}. {conversation.title}")
        for turn, replies, result in turns:
            shown = " ⏎ ".join(r.replace("\n", " ") for r in replies) or "(nothing)"
            lines.append(f"* 居民：{turn.text}  \n  **{result}** — {shown}")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa", help="Rasa URL of a running stack (default: start one)")
    parser.add_argument("--console", help="console URL of that stack")
    parser.add_argument("--markdown", type=Path, help="write the transcript with verdicts here")
    args = parser.parse_args()
    stack: Optional[Stack] = None
    if args.rasa:
        rasa, console = args.rasa, args.console
    else:
        stack = Stack.create(
            int(os.environ.get("HEATDESK_TEST_REDIS_DB", "9")),
            BILLING_SEED_FILE=str(ROOT / "billing_service" / "demo_seed.json"),
            HEATING_TODAY=TODAY,
        )
        stack.flush_redis()
        stack.start(ALL, timeout=900)
        rasa, console = stack.url("rasa"), stack.url("console")
    try:
        results = run_all(rasa, console)
    finally:
        if stack is not None:
            stack.stop_all()
    text = markdown(results)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    counts = Counter(v for _c, turns in results for _t, _r, v in turns)
    print(" ".join(f"{v}={counts.get(v, 0)}" for v in VERDICTS), f"total={sum(counts.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
