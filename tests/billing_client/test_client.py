"""BillingClient against real servers: the billing service under uvicorn, and scripted HTTP servers."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from decimal import Decimal
from typing import Any, Awaitable, TypeVar

import pytest

from billing_client.client import (
    AccountNotFound,
    BillingClient,
    BillingError,
    BillingRequestError,
    BillingUnavailable,
    CircuitBreaker,
)
from billing_client.rule import LateFeePolicy, compute_late_fee


T = TypeVar("T")

ACCOUNT_BODY: dict[str, Any] = {
    "account_no": "2024000001",
    "holder": "张三",
    "phone_masked": "138****5678",
    "address": "阳光小区3号楼2单元501",
    "district": "南岗区",
    "area_m2": "96.50",
    "bills": [],
}


def run(coro: Awaitable[T]) -> T:
    """Both runtimes run these tests; only one of them has pytest-asyncio."""
    return asyncio.run(coro)  # type: ignore[arg-type]


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- against the real billing service ---------------------------------------------


def test_get_account_matches_seed(billing_server: str, seed_accounts: dict[str, dict[str, Any]]) -> None:
    async def go() -> None:
        async with BillingClient(billing_server) as client:
            account = await client.get_account("2024000001")
        assert account.account_no == "2024000001"
        assert account.holder == "张三"
        assert account.phone_masked == "138****5678"
        assert account.address == "阳光小区3号楼2单元501"
        assert account.district == "南岗区"
        assert account.area_m2 == Decimal("96.50")
        (bill,) = account.bills
        assert (bill.season, bill.principal, bill.due_date) == ("2024-2025", Decimal("2509.00"), date(2024, 12, 31))
        (payment,) = bill.payments
        assert (payment.date, payment.amount, payment.channel) == (date(2025, 1, 10), Decimal("1000.00"), "wechat")
        # The rule takes the API's payments as they are.
        fee = compute_late_fee(bill.principal, bill.due_date, date(2025, 2, 15), bill.payments, LateFeePolicy())
        assert fee.late_fee == Decimal("78.41")

    run(go())


def test_every_seed_account_round_trips(billing_server: str, seed_accounts: dict[str, dict[str, Any]]) -> None:
    async def go() -> None:
        async with BillingClient(billing_server) as client:
            for number, seeded in seed_accounts.items():
                account = await client.get_account(number)
                assert account.phone_masked == f"{seeded['phone'][:3]}****{seeded['phone'][-4:]}"
                assert [b.season for b in account.bills] == [b["season"] for b in seeded["bills"]]
                for bill, seeded_bill in zip(account.bills, seeded["bills"]):
                    assert bill.principal == Decimal(seeded_bill["principal"])
                    assert [str(p.amount) for p in bill.payments] == [p["amount"] for p in seeded_bill["payments"]]

    run(go())


def test_unknown_account(billing_server: str) -> None:
    async def go() -> None:
        async with BillingClient(billing_server) as client:
            with pytest.raises(AccountNotFound) as info:
                await client.get_account("2024009999")
            assert info.value.account_no == "2024009999"
            with pytest.raises(AccountNotFound):
                await client.verify_phone("99999999", "1234")
            assert client.breaker.state == CircuitBreaker.CLOSED  # a 404 is an answer, not a failure

    run(go())


def test_verify_phone(billing_server: str) -> None:
    async def go() -> None:
        async with BillingClient(billing_server) as client:
            assert await client.verify_phone("2024000001", "5678") is True
            assert await client.verify_phone("2024000001", "5679") is False
            assert await client.verify_phone("2024000001", "0000") is False

    run(go())


@pytest.mark.parametrize("account_no", ["", "1234567", "12345678901", "2024000001\n", "abcdefgh", "２０２４０００００１"])
def test_malformed_account_number_never_reaches_the_network(account_no: str, dead_url: str) -> None:
    async def go() -> None:
        client = BillingClient(dead_url)
        with pytest.raises(BillingRequestError):
            await client.get_account(account_no)
        with pytest.raises(BillingRequestError):
            await client.verify_phone("2024000001", "56789")
        assert client.breaker.consecutive_failures == 0
        await client.aclose()

    run(go())


def test_arrears_by_district_agrees_with_the_rule(billing_server: str, seed_accounts: dict[str, dict[str, Any]]) -> None:
    as_of = date(2025, 2, 15)

    async def go() -> None:
        async with BillingClient(billing_server) as client:
            report = await client.arrears_by_district(as_of)
            accounts = [await client.get_account(n) for n in seed_accounts]
        assert report.as_of == as_of
        assert report.total.households == len(seed_accounts)
        expected_unpaid = Decimal("0.00")
        expected_fees = Decimal("0.00")
        in_arrears = 0
        for account in accounts:
            owes = False
            for bill in account.bills:
                if bill.due_date >= as_of:
                    continue
                result = compute_late_fee(bill.principal, bill.due_date, as_of, bill.payments, LateFeePolicy())
                expected_unpaid += result.unpaid_principal
                expected_fees += result.late_fee
                owes = owes or result.total_due > 0
            in_arrears += owes
        assert report.total.unpaid_principal == expected_unpaid
        assert report.total.late_fees == expected_fees
        assert report.total.households_in_arrears == in_arrears
        assert sum(d.unpaid_principal for d in report.districts) == report.total.unpaid_principal
        assert {d.district for d in report.districts} >= {"南岗区", "道里区", "道外区", "香坊区", "松北区"}

    run(go())


def test_health(billing_server: str) -> None:
    async def go() -> None:
        async with BillingClient(billing_server) as client:
            assert await client.health() is True

    run(go())


# -- failure behaviour ------------------------------------------------------------------


def test_stopped_server_fails_fast(scripted_server: Any) -> None:
    base_url = scripted_server.base_url
    scripted_server.stop()

    async def go() -> None:
        client = BillingClient(base_url)
        started = time.monotonic()
        with pytest.raises(BillingUnavailable):
            await client.get_account("2024000001")
        assert time.monotonic() - started < 1.0
        assert client.breaker.consecutive_failures == 1  # the retry is part of the same call
        assert await client.health() is False
        await client.aclose()

    run(go())


def test_slow_server_times_out_within_two_seconds(scripted_server: Any) -> None:
    scripted_server.delay = 5.0
    scripted_server.body = ACCOUNT_BODY

    async def go() -> None:
        client = BillingClient(scripted_server.base_url, timeout=2.0)
        started = time.monotonic()
        with pytest.raises(BillingUnavailable, match="within 2.0 s"):
            await client.get_account("2024000001")
        elapsed = time.monotonic() - started
        assert 1.8 <= elapsed < 2.6, elapsed
        assert scripted_server.hits == 1  # timeouts are not retried
        await client.aclose()

    run(go())


def test_server_errors_are_unavailable_and_garbage_is_an_error(scripted_server: Any) -> None:
    async def go() -> None:
        client = BillingClient(scripted_server.base_url, failure_threshold=10)
        scripted_server.status = 500
        with pytest.raises(BillingUnavailable, match="HTTP 500"):
            await client.get_account("2024000001")
        scripted_server.status = 200
        scripted_server.body = {"account_no": "2024000001"}
        with pytest.raises(BillingError, match="malformed"):
            await client.get_account("2024000001")
        scripted_server.body = {"verified": "yes"}
        with pytest.raises(BillingError, match="malformed"):
            await client.verify_phone("2024000001", "5678")
        scripted_server.body = {**ACCOUNT_BODY, "area_m2": 96.5}
        with pytest.raises(BillingError, match="area_m2"):
            await client.get_account("2024000001")
        await client.aclose()

    run(go())


def test_circuit_breaker_opens_fails_fast_and_recovers(scripted_server: Any) -> None:
    clock = FakeClock()
    scripted_server.status = 503

    async def go() -> None:
        client = BillingClient(scripted_server.base_url, failure_threshold=3, cooldown=30.0, clock=clock)
        for _ in range(3):
            with pytest.raises(BillingUnavailable, match="HTTP 503"):
                await client.get_account("2024000001")
        assert scripted_server.hits == 3
        assert client.breaker.state == CircuitBreaker.OPEN

        started = time.monotonic()
        for _ in range(5):
            with pytest.raises(BillingUnavailable, match="circuit open"):
                await client.get_account("2024000001")
        assert time.monotonic() - started < 0.05
        assert scripted_server.hits == 3  # nothing left the client

        clock.advance(29.0)
        with pytest.raises(BillingUnavailable, match="circuit open"):
            await client.get_account("2024000001")
        clock.advance(1.5)
        assert client.breaker.state == CircuitBreaker.HALF_OPEN

        # Half-open trial fails: open again at once, for a full cool-down.
        with pytest.raises(BillingUnavailable, match="HTTP 503"):
            await client.get_account("2024000001")
        assert scripted_server.hits == 4
        assert client.breaker.state == CircuitBreaker.OPEN
        with pytest.raises(BillingUnavailable, match="circuit open"):
            await client.get_account("2024000001")

        # Next trial succeeds: closed again, calls go through.
        clock.advance(31.0)
        scripted_server.status = 200
        scripted_server.body = ACCOUNT_BODY
        account = await client.get_account("2024000001")
        assert account.holder == "张三"
        assert client.breaker.state == CircuitBreaker.CLOSED
        await client.get_account("2024000001")
        assert scripted_server.hits == 6
        await client.aclose()

    run(go())


def test_half_open_lets_one_trial_through(scripted_server: Any) -> None:
    clock = FakeClock()
    base_url = scripted_server.base_url

    async def go() -> None:
        client = BillingClient(base_url, failure_threshold=1, cooldown=10.0, clock=clock)
        scripted_server.status = 502
        with pytest.raises(BillingUnavailable):
            await client.get_account("2024000001")
        clock.advance(11.0)
        scripted_server.status = 200
        scripted_server.body = ACCOUNT_BODY
        scripted_server.delay = 0.3
        results = await asyncio.gather(
            client.get_account("2024000001"), client.get_account("2024000001"), return_exceptions=True
        )
        assert sum(isinstance(r, BillingUnavailable) for r in results) == 1
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert client.breaker.state == CircuitBreaker.CLOSED
        await client.aclose()

    run(go())


def test_dead_billing_system_costs_one_short_wait(dead_url: str) -> None:
    """What the bot sees when billing is down: a quick failure, then instant ones."""
    clock = FakeClock()

    async def go() -> None:
        client = BillingClient(dead_url, failure_threshold=2, clock=clock)
        for _ in range(2):
            with pytest.raises(BillingUnavailable, match="cannot reach"):
                await client.get_account("2024000001")
        started = time.monotonic()
        with pytest.raises(BillingUnavailable, match="circuit open"):
            await client.verify_phone("2024000001", "5678")
        assert time.monotonic() - started < 0.01
        await client.aclose()

    run(go())


def test_timeout_is_capped_at_two_seconds() -> None:
    with pytest.raises(ValueError):
        BillingClient("http://127.0.0.1:1", timeout=5.0)
    with pytest.raises(ValueError):
        BillingClient("http://127.0.0.1:1", timeout=0)
