"""Attacks 3 and 9 on identity checks (issue 13): the lockout race, a stranger locking the
owner out, the account-existence oracle, and guessing from one client address.

Each try is counted in Redis before billing is asked (actions/lockout.py). The billing
service's access log (a real uvicorn log of the stack) shows how many tries reached it.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import List

import httpx
import pytest

from tests.security.conftest import ACCOUNTS, BALANCE_OF_0001, RestUser, new_address
from tests.stack import Stack

pytestmark = pytest.mark.usefixtures("forget_identity_limits")

TOO_MANY = "验证尝试过于频繁"
LOCKED = "锁定"


def verify_calls(stack: Stack, account_no: str) -> int:
    log = (stack.workdir / "billing.log").read_text(errors="replace")
    return len(re.findall(rf"POST /api/v1/accounts/{account_no}/verify", log))


def test_three_hundred_concurrent_guesses_reach_billing_at_most_the_ceiling(stack: Stack) -> None:
    account, right = "2024000002", ACCOUNTS["2024000002"]
    before = verify_calls(stack, account)
    # Ten right tails among them, spread over the burst.
    guesses: List[str] = [right if index % 30 == 29 else f"{index:04d}" for index in range(300)]
    base = stack.url("rasa") + "/webhooks/rest/webhook"
    # Many client addresses, so the per-address limit is not what stops them: the account's is.
    addresses = [new_address() for _ in range(15)]
    clients = [httpx.Client(transport=httpx.HTTPTransport(local_address=a), timeout=180) for a in addresses]

    def guess(index: int) -> str:
        sender = f"race-{uuid.uuid4().hex[:10]}"
        answer = clients[index % len(clients)].post(
            base, json={"sender": sender, "message": f"查欠费 户号{account} 尾号{guesses[index]}"}
        )
        answer.raise_for_status()
        return "\n".join(item.get("text", "") for item in answer.json())

    try:
        with ThreadPoolExecutor(max_workers=60) as pool:
            answers = list(pool.map(guess, range(300)))
    finally:
        for client in clients:
            client.close()
    reached = verify_calls(stack, account) - before
    assert reached <= 10, f"{reached} of 300 concurrent guesses reached billing"  # identity.account_ceiling
    assert sum(TOO_MANY in a or LOCKED in a for a in answers) >= 290
    # Once the ceiling is hit, even the right tail from a fresh conversation and address is refused.
    late = RestUser(stack)
    try:
        refused = late.say(f"查欠费 户号{account} 尾号{right}")
        assert TOO_MANY in refused and "元" not in refused, refused
        assert verify_calls(stack, account) - before == reached
    finally:
        late.close()


def test_a_stranger_cannot_lock_the_owner_out(stack: Stack) -> None:
    stranger, owner = RestUser(stack), RestUser(stack)
    try:
        stranger.say("查欠费")
        stranger.say("2024000001")
        stranger.say("0000")
        stranger.say("1111")
        assert LOCKED in stranger.say("2222")
        assert LOCKED in stranger.say(f"查欠费 2024000001 {ACCOUNTS['2024000001']}")
        owner.say("查欠费")
        assert BALANCE_OF_0001 in owner.say(f"2024000001 {ACCOUNTS['2024000001']}")
    finally:
        stranger.close()
        owner.close()


def test_unknown_account_and_wrong_tail_get_the_same_answer(stack: Stack) -> None:
    unknown, known = RestUser(stack), RestUser(stack)
    try:
        unknown.say("查欠费")
        known.say("查欠费")
        assert unknown.say("2099999999") == known.say("2024000003")  # no lookup of the 户号 alone
        assert unknown.say("4321") == known.say("4321")
    finally:
        unknown.close()
        known.close()


def test_one_client_address_cannot_keep_guessing_across_conversations(stack: Stack) -> None:
    address = new_address()
    answers = []
    for attempt in range(21):  # identity.client_ceiling = 20 failed tries per window
        guesser = RestUser(stack, address=address)
        try:
            answers.append(guesser.say(f"查欠费 户号20990{attempt:05d} 尾号1234"))
        finally:
            guesser.close()
    assert TOO_MANY not in "".join(answers[:20]) and TOO_MANY in answers[20], answers[-2:]
    same_address = RestUser(stack, address=address)
    other_address = RestUser(stack)
    try:
        assert TOO_MANY in same_address.say(f"查欠费 户号2024000003 尾号{ACCOUNTS['2024000003']}")
        assert "未交热费 6240.00 元" in other_address.say(f"查欠费 户号2024000003 尾号{ACCOUNTS['2024000003']}")
    finally:
        same_address.close()
        other_address.close()
