"""The batch form of the late-fee rule (billing_client.batch) against the rule itself.

`compute_late_fee` is the reference (it is held to a day-by-day loop in test_rule.py). The batch
form must give the same three figures — late fee, unpaid principal, overdue days — to the last
digit and with the same exponent, on random bills under several policies, and refuse exactly
what the reference refuses, with the same error.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_client.batch import BatchRule, late_fees
from billing_client.rule import LateFeeInputError, LateFeePolicy, Payment, compute_late_fee

D = Decimal
AS_OF = date(2025, 2, 15)
POLICIES = [
    LateFeePolicy(),
    LateFeePolicy(cap_ratio=D("0.1")),
    LateFeePolicy(rate=D("0.003"), start=date(2023, 7, 1)),
    LateFeePolicy(rate=D("0.0005"), start=date(2025, 3, 15), cap_ratio=D("0.35")),
    LateFeePolicy(rate=D("0.00123"), cap_ratio=D("2.5"), max_prepay_days=30),
]
FIRST = date(2023, 1, 1)
SPAN = (date(2026, 12, 31) - FIRST).days


def reference(principal: Any, due_date: Any, as_of: date, payments: Sequence[tuple[Any, Any]],
              policy: LateFeePolicy) -> Any:
    """What compute_late_fee says: the three figures, or its error message."""
    try:
        result = compute_late_fee(principal, due_date, as_of, [Payment(d, a) for d, a in payments], policy)
    except LateFeeInputError as exc:
        return ("refused", str(exc))
    return (result.late_fee, result.unpaid_principal, result.overdue_days)


def batch(principal: Any, due_date: Any, as_of: date, payments: Sequence[tuple[Any, Any]],
          policy: LateFeePolicy) -> Any:
    try:
        return BatchRule(as_of, policy).figures(principal, due_date, payments)
    except LateFeeInputError as exc:
        return ("refused", str(exc))


def same(left: Any, right: Any) -> bool:
    """Equal, and Decimals spelled alike (78.41, not 78.410): what the plan stores is their text."""
    return left == right and [str(x) for x in left] == [str(x) for x in right]


# -- known answers (DESIGN.md, docs/reminders.md) -------------------------------------------------


@pytest.mark.parametrize(("principal", "due", "payments", "expected"), [
    # 2025-01-01..01-09: 9 × 2.509; 01-10..02-15: 37 × 1.509 → 78.414 → 78.41
    ("2509.00", date(2024, 12, 31), [(date(2025, 1, 10), "1000.00")], ("78.41", "1509.00", 46)),
    # 2023 bill: accrues only from 2024-01-01 (412 days), never before the rule started
    ("3120.00", date(2023, 12, 31), [], ("1285.44", "3120.00", 412)),
    # paid in full on its due date: nothing late, nothing unpaid
    ("2080.00", date(2024, 12, 31), [(date(2024, 12, 31), "2080.00")], ("0.00", "0.00", 46)),
    # paid on the first overdue day: that day does not accrue
    ("500.00", date(2024, 12, 31), [(date(2025, 1, 1), "500.00")], ("0.00", "0.00", 46)),
    # paid today: 45 days × 0.50 stay owed
    ("500.00", date(2024, 12, 31), [(date(2025, 2, 15), "500.00")], ("22.50", "0.00", 46)),
    # not due yet
    ("1200.00", date(2025, 2, 20), [], ("0.00", "1200.00", 0)),
    # half up once per bill: 0.005 → 0.01
    ("0.50", date(2025, 2, 5), [], ("0.01", "0.50", 10)),
])
def test_known_answers(principal: str, due: date, payments: list[tuple[date, str]],
                       expected: tuple[str, str, int]) -> None:
    paid = [(day, D(amount)) for day, amount in payments]
    figures = BatchRule(AS_OF).figures(D(principal), due, paid)
    assert (str(figures[0]), str(figures[1]), figures[2]) == expected
    assert same(figures, reference(D(principal), due, AS_OF, paid, LateFeePolicy()))


def test_cap_at_the_principal() -> None:
    # 3 years overdue at 1‰ a day would be 1.1 × the principal: capped at the principal.
    figures = BatchRule(date(2027, 1, 5)).figures(D("100.00"), date(2023, 12, 31), [])
    assert figures == (D("100.00"), D("100.00"), 1101)


# -- random bills -------------------------------------------------------------------------------


@st.composite
def bills(draw: st.DrawFn, policy: LateFeePolicy | None = None
          ) -> tuple[Decimal, date, date, list[tuple[date, Decimal]], LateFeePolicy]:
    principal = D(draw(st.integers(min_value=0, max_value=5_000_000))) / 100
    due_date = FIRST + timedelta(days=draw(st.integers(min_value=0, max_value=SPAN)))
    as_of = FIRST + timedelta(days=draw(st.integers(min_value=0, max_value=SPAN)))
    policy = policy if policy is not None else draw(st.sampled_from(POLICIES))
    earliest = due_date - timedelta(days=policy.max_prepay_days)
    days = st.integers(min_value=0, max_value=policy.max_prepay_days + 700).map(lambda n: earliest + timedelta(days=n))
    cents = st.integers(min_value=1, max_value=max(1, int(principal * 100)) * 2)
    payments = draw(st.lists(st.tuples(days, cents.map(lambda n: D(n) / 100)), max_size=6))
    return principal, due_date, as_of, payments, policy


@settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bills())
def test_equal_to_the_rule_on_random_bills(bill: tuple[Decimal, date, date, list[tuple[date, Decimal]],
                                                      LateFeePolicy]) -> None:
    principal, due_date, as_of, payments, policy = bill
    assert same(batch(principal, due_date, as_of, payments, policy),
                reference(principal, due_date, as_of, payments, policy))


ODD_AMOUNTS = st.one_of(
    st.integers(min_value=-500, max_value=500_000).map(lambda n: D(n) / 100),
    st.sampled_from([D("0"), D("1E+20"), D("0E+20"), D("12.345"), D("-0.00"), D("NaN"), D("Infinity"),
                     D("99999999999999.99"), D("9999999999999999"), D("2509")]),
    st.integers(min_value=0, max_value=10_000),  # an int is an amount too
    st.sampled_from([2.5, "12.00", True, None]),  # not amounts: refused
)
ODD_DAYS = st.one_of(
    st.integers(min_value=-800, max_value=800).map(lambda n: AS_OF + timedelta(days=n)),
    st.sampled_from([date.min, date.max, date(1, 1, 2), datetime(2025, 1, 10, 12, 0), "2025-01-10"]),
)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ODD_AMOUNTS, ODD_DAYS, st.lists(st.tuples(ODD_DAYS, ODD_AMOUNTS), max_size=3),
       st.sampled_from([AS_OF, date(1, 1, 5), date.max, datetime(2025, 2, 15, 9, 0)]),
       st.sampled_from(POLICIES + [LateFeePolicy(start=date.min), LateFeePolicy(max_prepay_days=0)]))
def test_refuses_exactly_what_the_rule_refuses(principal: Any, due_date: Any, payments: list[tuple[Any, Any]],
                                                as_of: date, policy: LateFeePolicy) -> None:
    assert same(batch(principal, due_date, as_of, payments, policy),
                reference(principal, due_date, as_of, payments, policy))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(POLICIES).flatmap(lambda policy: st.tuples(st.just(policy),
                                                                  st.lists(bills(policy), max_size=30))))
def test_late_fees_is_figures_bill_by_bill(drawn: tuple[LateFeePolicy, list[Any]]) -> None:
    policy, many = drawn
    rows = [(principal, due, payments) for principal, due, _as_of, payments, _policy in many]
    rule = BatchRule(AS_OF, policy)
    assert late_fees(rows, AS_OF, policy) == [rule.figures(*row) for row in rows]
