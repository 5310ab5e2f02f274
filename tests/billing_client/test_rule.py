"""The late-fee rule: hand-worked examples from DESIGN.md and a day-by-day reference."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_client.rule import (
    LateFeeInputError,
    LateFeePolicy,
    LateFeeResult,
    Payment,
    compute_late_fee,
)

D = Decimal
DEFAULT = LateFeePolicy()


# -- hand-worked examples -----------------------------------------------------------


def test_seed_example_as_of_2025_02_15() -> None:
    # DESIGN.md's seed account 2024000001: principal 2509.00 due 2024-12-31, paid 1000.00 on 2025-01-10.
    #   2025-01-01 .. 2025-01-09:  9 days × 2509.00 × 0.001 = 22.581
    #   2025-01-10 .. 2025-02-15: 37 days × 1509.00 × 0.001 = 55.833   (Jan 10–31: 22, Feb 1–15: 15)
    #   total 78.414 → 78.41; overdue 46 days (> 30: credit warning, 1509.00 still unpaid)
    result = compute_late_fee(D("2509.00"), date(2024, 12, 31), date(2025, 2, 15), [Payment(date(2025, 1, 10), D("1000.00"))])
    assert result.late_fee == D("78.41")
    assert result.overdue_days == 46
    assert result.accrual_days == 46
    assert result.paid == D("1000.00")
    assert result.unpaid_principal == D("1509.00")
    assert result.total_due == D("1587.41")
    assert result.credit_warning is True
    assert result.capped is False
    assert [(s.start, s.end, s.days, s.unpaid, s.fee) for s in result.segments] == [
        (date(2025, 1, 1), date(2025, 1, 9), 9, D("2509.00"), D("22.581")),
        (date(2025, 1, 10), date(2025, 2, 15), 37, D("1509.00"), D("55.833")),
    ]


def test_design_cli_example_without_payments() -> None:
    # 2400.00 due 2024-12-31 as of 2025-02-15: 46 days × 2.40 = 110.40
    result = compute_late_fee(D("2400.00"), date(2024, 12, 31), date(2025, 2, 15))
    assert result.late_fee == D("110.40")
    assert result.unpaid_principal == D("2400.00")


def test_due_date_itself_is_not_overdue() -> None:
    on_due = compute_late_fee(D("1000.00"), date(2024, 12, 31), date(2024, 12, 31))
    assert (on_due.late_fee, on_due.overdue_days, on_due.credit_warning) == (D("0.00"), 0, False)
    next_day = compute_late_fee(D("1000.00"), date(2024, 12, 31), date(2025, 1, 1))
    assert (next_day.late_fee, next_day.overdue_days, next_day.accrual_days) == (D("1.00"), 1, 1)


def test_as_of_before_due_date_owes_nothing_late() -> None:
    result = compute_late_fee(D("1000.00"), date(2024, 12, 31), date(2024, 11, 1), [Payment(date(2024, 10, 1), D("300.00"))])
    assert result.late_fee == D("0.00")
    assert result.overdue_days == 0
    assert result.unpaid_principal == D("700.00")


def test_payment_stops_accrual_from_its_own_day() -> None:
    # Paid in full on 2025-01-01: that day already has nothing unpaid.
    result = compute_late_fee(D("1000.00"), date(2024, 12, 31), date(2025, 3, 1), [Payment(date(2025, 1, 1), D("1000.00"))])
    assert result.late_fee == D("0.00")
    assert result.accrual_days == 0
    # Paid on 2025-01-02: only 2025-01-01 accrued, and that fee stays owed.
    result = compute_late_fee(D("1000.00"), date(2024, 12, 31), date(2025, 3, 1), [Payment(date(2025, 1, 2), D("1000.00"))])
    assert result.late_fee == D("1.00")
    assert result.unpaid_principal == D("0.00")
    assert result.credit_warning is False  # nothing unpaid any more


def test_no_day_before_2024_accrues() -> None:
    # Due 2023-11-30, as of 2024-01-10: 41 days overdue, but only 2024-01-01..01-10 count: 10 × 1.00
    result = compute_late_fee(D("1000.00"), date(2023, 11, 30), date(2024, 1, 10))
    assert result.overdue_days == 41
    assert result.pre_rule_days == 31
    assert result.accrual_days == 10
    assert result.late_fee == D("10.00")
    assert result.segments[0].start == date(2024, 1, 1)
    # Entirely before the rule: nothing.
    before = compute_late_fee(D("1000.00"), date(2023, 6, 30), date(2023, 12, 31))
    assert (before.late_fee, before.accrual_days, before.pre_rule_days) == (D("0.00"), 0, 184)


def test_pre_rule_payment_reduces_unpaid_at_rule_start() -> None:
    # Due 2023-12-01, paid 400.00 on 2023-12-20: from 2024-01-01 only 600.00 accrues; 31 days to 2024-01-31.
    result = compute_late_fee(D("1000.00"), date(2023, 12, 1), date(2024, 1, 31), [Payment(date(2023, 12, 20), D("400.00"))])
    assert result.late_fee == D("18.60")


def test_cap_at_principal() -> None:
    # 100.00 due 2023-12-31; from 2024-01-01 it accrues 0.10 a day; on day 1000 (2026-09-26) it reaches 100.00.
    result = compute_late_fee(D("100.00"), date(2023, 12, 31), date(2027, 1, 1))
    assert result.capped is True
    assert result.late_fee == D("100.00")
    assert result.uncapped_fee == D("109.70")  # 1097 days
    assert result.capped_on == date(2024, 1, 1) + timedelta(days=999)
    exactly = compute_late_fee(D("100.00"), date(2023, 12, 31), date(2024, 1, 1) + timedelta(days=999))
    assert exactly.late_fee == D("100.00")
    assert exactly.capped is False  # reached, not exceeded


def test_cap_ratio_and_rate_are_settings() -> None:
    policy = LateFeePolicy(rate=D("0.003"), start=date(2025, 1, 1), cap_ratio=D("0.1"), credit_warning_days=10)
    # 2000.00 due 2024-12-01, as of 2025-01-05: 2024 days do not count (start 2025-01-01): 5 × 6.00 = 30.00
    result = compute_late_fee(D("2000.00"), date(2024, 12, 1), date(2025, 1, 5), [], policy)
    assert result.late_fee == D("30.00")
    assert result.credit_warning is True  # 35 overdue days > 10
    # 2025-02-15: 46 × 6.00 = 276.00 > 10 % of 2000.00
    capped = compute_late_fee(D("2000.00"), date(2024, 12, 1), date(2025, 2, 15), [], policy)
    assert (capped.late_fee, capped.capped, capped.fee_cap) == (D("200.00"), True, D("200.00"))


def test_rounding_once_half_up() -> None:
    # 1.00 for 5 days: 5 × 0.001 = 0.005 → 0.01 (half up; rounding each day would give 0.00; half-even 0.00)
    assert compute_late_fee(D("1.00"), date(2024, 12, 31), date(2025, 1, 5)).late_fee == D("0.01")
    # 12.50 for 10 days = 0.125 → 0.13 (half-even would give 0.12)
    assert compute_late_fee(D("12.50"), date(2024, 12, 31), date(2025, 1, 10)).late_fee == D("0.13")
    # Two segments of 0.0045 + 0.00448 = 0.00898 → 0.01; per-segment rounding would give 0.00.
    result = compute_late_fee(
        D("4.50"), date(2024, 12, 31), date(2025, 1, 2), [Payment(date(2025, 1, 2), D("0.02"))]
    )
    assert [s.fee for s in result.segments] == [D("0.00450"), D("0.00448")]
    assert result.late_fee == D("0.01")


def test_credit_warning_threshold() -> None:
    thirty = compute_late_fee(D("100.00"), date(2024, 12, 31), date(2025, 1, 30))
    thirty_one = compute_late_fee(D("100.00"), date(2024, 12, 31), date(2025, 1, 31))
    assert (thirty.overdue_days, thirty.credit_warning) == (30, False)
    assert (thirty_one.overdue_days, thirty_one.credit_warning) == (31, True)


def test_payments_before_due_date_after_as_of_and_overpayment() -> None:
    payments = [
        Payment(date(2024, 10, 15), D("500.00")),  # early partial payment: allowed
        Payment(date(2025, 1, 20), D("200.00")),
        Payment(date(2025, 1, 20), D("100.00")),  # same day: both apply that day
        Payment(date(2025, 3, 1), D("200.00")),  # after as_of: ignored
    ]
    result = compute_late_fee(D("1000.00"), date(2024, 12, 31), date(2025, 1, 31), payments)
    # 2025-01-01..01-19: 19 × 0.50 = 9.50; 01-20..01-31: 12 × 0.20 = 2.40
    assert result.late_fee == D("11.90")
    assert result.paid == D("800.00")
    assert result.unpaid_principal == D("200.00")
    over = compute_late_fee(D("1000.00"), date(2024, 12, 31), date(2025, 1, 31), [Payment(date(2025, 1, 11), D("1500.00"))])
    assert (over.late_fee, over.paid, over.unpaid_principal) == (D("10.00"), D("1500.00"), D("0.00"))


def test_zero_principal() -> None:
    result = compute_late_fee(D("0"), date(2024, 12, 31), date(2025, 6, 1))
    assert (result.late_fee, result.capped, result.credit_warning) == (D("0.00"), False, False)


def test_to_dict_is_json_ready() -> None:
    result = compute_late_fee(D("2509.00"), date(2024, 12, 31), date(2025, 2, 15), [Payment(date(2025, 1, 10), D("1000.00"))])
    data = result.to_dict()
    assert data["late_fee"] == "78.41"
    assert data["unpaid_principal"] == "1509.00"
    assert data["overdue_days"] == 46
    assert data["capped"] is False
    assert data["segments"][1] == {"from": "2025-01-10", "to": "2025-02-15", "days": 37, "unpaid": "1509.00", "fee": "55.83300"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"principal": D("-1.00")}, "principal must be zero or more"),
        ({"principal": D("10.005")}, "two decimal places"),
        ({"principal": D("NaN")}, "finite"),
        ({"principal": D("Infinity")}, "finite"),
        ({"principal": 12.5}, "Decimal"),
        ({"principal": "12.50"}, "Decimal"),
        ({"principal": True}, "Decimal"),
        ({"principal": D("1E+30")}, "implausibly large"),
        ({"payments": [Payment(date(2025, 1, 1), D("0"))]}, "positive"),
        ({"payments": [Payment(date(2025, 1, 1), D("-5.00"))]}, "positive"),
        ({"payments": [Payment(date(2025, 1, 1), D("0.001"))]}, "two decimal places"),
        ({"payments": [Payment(date(2023, 12, 30), D("5.00"))]}, "before the bill was issued"),
        ({"payments": [Payment("2025-01-01", D("5.00"))]}, "date"),  # type: ignore[arg-type]
        ({"payments": [(date(2025, 1, 1), D("5.00"))]}, "date"),
        ({"due_date": "2024-12-31"}, "due_date must be a date"),
        ({"as_of": datetime(2025, 1, 1, 12, 0)}, "as_of must be a date"),
        ({"issued_on": date(2025, 1, 1)}, "after the due date"),
        ({"issued_on": date(2024, 11, 1), "payments": [Payment(date(2024, 10, 31), D("5.00"))]}, "before the bill was issued"),
    ],
)
def test_bad_input_is_a_typed_error(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"principal": D("100.00"), "due_date": date(2024, 12, 31), "as_of": date(2025, 2, 1)}
    args.update(kwargs)
    with pytest.raises(LateFeeInputError, match=message):
        compute_late_fee(**args)  # type: ignore[arg-type]


def test_payment_on_issue_day_is_fine() -> None:
    result = compute_late_fee(
        D("100.00"), date(2024, 12, 31), date(2025, 1, 1), [Payment(date(2024, 11, 1), D("100.00"))], issued_on=date(2024, 11, 1)
    )
    assert result.late_fee == D("0.00")


def test_policy_validation() -> None:
    with pytest.raises(LateFeeInputError):
        LateFeePolicy(rate=D("-0.001"))
    with pytest.raises(LateFeeInputError):
        LateFeePolicy(cap_ratio=D("NaN"))
    with pytest.raises(LateFeeInputError):
        LateFeePolicy(credit_warning_days=-1)


def test_late_fee_error_is_a_value_error() -> None:
    assert issubclass(LateFeeInputError, ValueError)


# -- a deliberately simple second implementation --------------------------------------


def reference_late_fee(
    principal: Decimal, due_date: date, as_of: date, payments: Sequence[Payment], policy: LateFeePolicy
) -> tuple[Decimal, int]:
    """DESIGN.md read literally: loop over every day, sum what was unpaid that day."""
    total = Decimal(0)
    accruing_days = 0
    day = due_date + timedelta(days=1)
    while day <= as_of:
        if day >= policy.start:
            paid = sum((p.amount for p in payments if p.date <= day), Decimal(0))
            unpaid = max(Decimal(0), principal - paid)
            total += unpaid * policy.rate
            if unpaid > 0:
                accruing_days += 1
        day += timedelta(days=1)
    total = min(total, principal * policy.cap_ratio)
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), accruing_days


FIRST = date(2023, 1, 1)
LAST = date(2026, 12, 31)
SPAN = (LAST - FIRST).days


@st.composite
def bills(draw: st.DrawFn) -> tuple[Decimal, date, date, list[Payment], LateFeePolicy]:
    principal = Decimal(draw(st.integers(min_value=0, max_value=2_000_000))) / 100
    due_date = FIRST + timedelta(days=draw(st.integers(min_value=0, max_value=SPAN)))
    as_of = FIRST + timedelta(days=draw(st.integers(min_value=0, max_value=SPAN)))
    earliest = max(FIRST, due_date - timedelta(days=300))
    payment_days = st.integers(min_value=0, max_value=(LAST - earliest).days).map(lambda n: earliest + timedelta(days=n))
    amounts = st.integers(min_value=1, max_value=max(1, int(principal * 100) or 1)).map(lambda n: Decimal(n) / 100)
    payments = draw(st.lists(st.builds(Payment, payment_days, amounts), max_size=6))
    policy = draw(
        st.sampled_from(
            [
                DEFAULT,
                DEFAULT,
                LateFeePolicy(cap_ratio=Decimal("0.1")),
                LateFeePolicy(rate=Decimal("0.003"), start=date(2023, 7, 1)),
                LateFeePolicy(rate=Decimal("0.0005"), start=date(2025, 3, 15), cap_ratio=Decimal("0.35")),
            ]
        )
    )
    return principal, due_date, as_of, payments, policy


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bills())
def test_agrees_with_day_by_day_loop(bill: tuple[Decimal, date, date, list[Payment], LateFeePolicy]) -> None:
    principal, due_date, as_of, payments, policy = bill
    result = compute_late_fee(principal, due_date, as_of, payments, policy)
    expected_fee, expected_days = reference_late_fee(principal, due_date, as_of, payments, policy)
    assert result.late_fee == expected_fee
    assert result.accrual_days == expected_days
    _check_invariants(result, principal, as_of, payments, policy)


def _check_invariants(
    result: LateFeeResult, principal: Decimal, as_of: date, payments: Sequence[Payment], policy: LateFeePolicy
) -> None:
    paid = sum((p.amount for p in payments if p.date <= as_of), Decimal(0))
    assert result.paid == paid
    assert result.unpaid_principal == max(Decimal(0), principal - paid)
    assert result.late_fee <= result.fee_cap
    assert sum(s.days for s in result.segments) == result.accrual_days
    exact = sum((s.fee for s in result.segments), Decimal(0))
    assert result.uncapped_fee == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert result.capped == (exact > principal * policy.cap_ratio)
    assert result.overdue_days == result.pre_rule_days + (result.overdue_days - result.pre_rule_days)
    assert result.accrual_days + result.pre_rule_days <= result.overdue_days
    for earlier, later in zip(result.segments, result.segments[1:]):
        assert earlier.end < later.start
        assert earlier.unpaid > later.unpaid
    if result.capped:
        assert result.capped_on is not None and result.capped_on <= as_of


@settings(max_examples=500, deadline=None)
@given(bills(), st.integers(min_value=0, max_value=400))
def test_fee_never_decreases_with_time(bill: tuple[Decimal, date, date, list[Payment], LateFeePolicy], extra: int) -> None:
    principal, due_date, as_of, payments, policy = bill
    earlier = compute_late_fee(principal, due_date, as_of, payments, policy)
    later = compute_late_fee(principal, due_date, as_of + timedelta(days=extra), payments, policy)
    assert later.late_fee >= earlier.late_fee
    assert later.unpaid_principal <= earlier.unpaid_principal


@settings(max_examples=300, deadline=None)
@given(bills())
def test_payment_order_does_not_matter(bill: tuple[Decimal, date, date, list[Payment], LateFeePolicy]) -> None:
    principal, due_date, as_of, payments, policy = bill
    forward = compute_late_fee(principal, due_date, as_of, payments, policy)
    backward = compute_late_fee(principal, due_date, as_of, list(reversed(payments)), policy)
    assert forward == backward
