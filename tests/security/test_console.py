"""Attacks 7 and 9 on the console (issue 13).

* `/request_human{"account_no": …}` puts any number on a ticket: the console marks it
  unverified and fetches no bills for it.
* CSRF: a state-changing request from another site's page (Origin/Referer) is refused.
* Login guessing from one address across usernames hits a per-address budget.
* Reopen and CSAT only by the ticket's holder or a supervisor.
* Phone and ID-card numbers residents type are masked in tickets and the console transcript.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, Iterator, Tuple

import httpx
import pytest

from tests.security.conftest import ADMIN, TICKET_NO, RestUser, client_from, new_address, tickets_of
from tests.stack import Stack, wait_until


def _handed_over(user: RestUser, supervisor: httpx.Client, text: str = "转人工") -> Tuple[str, Dict[str, Any]]:
    ticket_no = TICKET_NO.search(user.say(text)).group(0)  # type: ignore[union-attr]
    ticket = wait_until(lambda: tickets_of(supervisor, f"rest:{user.sender}"), timeout=15)[0]
    assert ticket["ticket_no"] == ticket_no
    return ticket_no, ticket


@pytest.fixture
def second_agent(stack: Stack, supervisor: httpx.Client) -> Iterator[httpx.Client]:
    name, password = f"agent{uuid.uuid4().hex[:8]}", "another-agent-password"
    created = supervisor.post("/api/agents", json={"username": name, "password": password, "role": "agent"})
    assert created.status_code == 201, created.text
    client = httpx.Client(base_url=stack.url("console"), timeout=15)
    client.post("/api/login", json={"username": name, "password": password}).raise_for_status()
    yield client
    client.close()


def test_typed_account_number_shows_no_bills(rest_user: RestUser, supervisor: httpx.Client) -> None:
    ticket_no, ticket = _handed_over(rest_user, supervisor, '/request_human{"account_no": "2024000001"}')
    assert ticket["account_no"] == "2024000001" and ticket["account_verified"] is False
    panel = supervisor.get(f"/api/tickets/{ticket_no}/account").json()
    assert panel["available"] is False and panel["verified"] is False and panel.get("account") is None
    assert "not verified" in panel["error"]
    assert "1509.00" not in str(panel)


def test_verified_account_still_shows_its_bills(rest_user: RestUser, supervisor: httpx.Client) -> None:
    rest_user.say("查欠费")
    assert "1509.00" in rest_user.say("2024000001 5678")
    ticket_no, ticket = _handed_over(rest_user, supervisor)
    assert ticket["account_verified"] is True
    panel = supervisor.get(f"/api/tickets/{ticket_no}/account").json()
    assert panel["available"] is True and panel["verified"] is True


def test_cross_site_state_change_is_refused(rest_user: RestUser, supervisor: httpx.Client, stack: Stack) -> None:
    ticket_no, _ticket = _handed_over(rest_user, supervisor)
    evil = supervisor.post(f"/api/tickets/{ticket_no}/claim", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and "Cross-site" in evil.json()["detail"]
    referred = supervisor.post(f"/api/tickets/{ticket_no}/notes", json={"text": "x"},
                               headers={"Referer": "https://evil.example/page"})
    assert referred.status_code == 403
    host = stack.url("console").split("://", 1)[1]
    own = supervisor.post(f"/api/tickets/{ticket_no}/claim", headers={"Origin": f"http://{host}"})
    assert own.status_code == 200, own.text


def test_login_guessing_across_usernames_is_throttled_per_address(stack: Stack) -> None:
    address = new_address()
    with client_from(address, stack.url("console"), timeout=15) as guesser:
        codes = [guesser.post("/api/login", json={"username": f"user{index}", "password": "wrong-password"}).status_code
                 for index in range(21)]  # CONSOLE_LOGIN_MAX_FAILURES_PER_IP = 20
        assert codes[:20] == [401] * 20 and codes[20] == 429, codes
        again = guesser.post("/api/login", json=ADMIN)
        assert again.status_code == 429 and "Retry-After" in again.headers
    with client_from(new_address(), stack.url("console"), timeout=15) as other:
        assert other.post("/api/login", json=ADMIN).status_code == 200


def test_reopen_and_csat_only_by_the_holder_or_a_supervisor(
    rest_user: RestUser, supervisor: httpx.Client, second_agent: httpx.Client
) -> None:
    ticket_no, _ticket = _handed_over(rest_user, supervisor)
    assert supervisor.post(f"/api/tickets/{ticket_no}/claim").status_code == 200
    resolved = supervisor.post(f"/api/tickets/{ticket_no}/resolve", json={"resolution_category": "answered"})
    assert resolved.status_code == 200, resolved.text
    csat = second_agent.post(f"/api/tickets/{ticket_no}/csat", json={"score": 5})
    assert csat.status_code == 403, csat.text
    reopen = second_agent.post(f"/api/tickets/{ticket_no}/reopen", json={"reason": "mine now"})
    assert reopen.status_code == 403, reopen.text
    assert supervisor.post(f"/api/tickets/{ticket_no}/csat", json={"score": 4}).status_code == 200
    assert supervisor.post(f"/api/tickets/{ticket_no}/reopen", json={}).status_code == 200


def test_phone_and_id_numbers_are_masked_for_agents(rest_user: RestUser, supervisor: httpx.Client) -> None:
    ticket_no, _ticket = _handed_over(rest_user, supervisor, "转人工 我的电话13912345678")
    # Acknowledged while queued (issue 11), not mistaken for a 户号 to check.
    acknowledged = rest_user.say("身份证号230102199001011234，手机13912345678")
    assert acknowledged.startswith("已收到") and "户号" not in acknowledged, acknowledged
    detail = wait_until(
        lambda: (d := supervisor.get(f"/api/tickets/{ticket_no}").json()) and d.get("messages") and d, timeout=15
    )
    shown = str(detail)
    assert "13912345678" not in shown and "230102199001011234" not in shown, shown
    assert "139****5678" in shown and "230102********1234" in shown
