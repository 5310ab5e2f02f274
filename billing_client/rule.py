"""The late-fee rule (滞纳金), exactly as DESIGN.md states it.

    late fee of one bill = Σ over days d, due_date < d <= as_of and d >= policy.start,
                           of unpaid(d) × policy.rate
    unpaid(d)            = max(0, principal − Σ payments dated on or before d)
    late fee             = min(that sum, policy.cap_ratio × principal),
                           rounded half up to the fen (0.01) once, at the end.

The sum is computed per *segment*: between two payment dates ``unpaid`` is
constant, so a segment contributes ``unpaid × days × rate`` in one
multiplication. That keeps a bill O(payments) instead of O(days), which is
what lets the CLI batch mode do 100 000 bills in a few seconds.

Input choices (also printed by ``python -m billing_client late-fee --help``):

* Payments dated before the due date are allowed: they are early or partial
  payments and reduce the unpaid principal from their own day on.
* Payments dated after ``as_of`` are ignored: on ``as_of`` they have not
  happened yet (they are not counted in ``paid`` either).
* A payment dated before the bill was issued is an error
  (:class:`LateFeeInputError`): it cannot belong to this bill. The issue date
  is ``issued_on`` when the caller knows it, otherwise ``due_date`` minus
  ``policy.max_prepay_days`` (366 by default: a bill cannot be paid more than
  a year before it is due).
* Amounts must be finite, at most two decimal places (fen); the principal may
  be zero but not negative; a payment must be positive.
* ``as_of`` before the due date is fine: nothing is overdue yet.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Iterable, Protocol, Sequence, Tuple

__all__ = [
    "FEN",
    "LateFeeInputError",
    "LateFeePolicy",
    "LateFeeResult",
    "LateFeeSegment",
    "Payment",
    "PaymentLike",
    "compute_late_fee",
]

FEN = Decimal("0.01")

# Exact arithmetic: every inexact or invalid operation raises instead of rounding
# silently. The only rounding in the rule happens in ``_round_fen``.
_EXACT = decimal.Context(
    prec=60,
    rounding=ROUND_HALF_UP,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero],
)
_ROUNDING = decimal.Context(prec=60, rounding=ROUND_HALF_UP, traps=[decimal.InvalidOperation])
EXACT = _EXACT  # public: billing_client.batch and bulk callers enter it once per batch


class LateFeeInputError(ValueError):
    """Input that the rule refuses to compute on (bad amount, impossible date…).

    A ``ValueError`` so that generic callers treat it as bad input; the message
    is plain English and safe to show to an operator.
    """


@dataclass(frozen=True)
class LateFeePolicy:
    """The settings of the rule; callers build it from configuration.

    ``max_prepay_days`` bounds how early a payment may be dated before the due
    date when the caller does not pass the bill's issue date.
    """

    rate: Decimal = Decimal("0.001")
    start: date = date(2024, 1, 1)
    cap_ratio: Decimal = Decimal("1.0")
    credit_warning_days: int = 30
    max_prepay_days: int = 366

    def __post_init__(self) -> None:
        for name in ("rate", "cap_ratio"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise LateFeeInputError(f"policy {name} must be a finite, non-negative Decimal, got {value!r}")
        if not isinstance(self.start, date):
            raise LateFeeInputError(f"policy start must be a date, got {self.start!r}")
        if self.credit_warning_days < 0 or self.max_prepay_days < 0:
            raise LateFeeInputError("policy day counts must not be negative")


class PaymentLike(Protocol):
    """Anything with a ``date`` and an ``amount`` (rule.Payment, models.Payment)."""

    @property
    def date(self) -> date: ...

    @property
    def amount(self) -> Decimal: ...


@dataclass(frozen=True)
class Payment:
    """One payment on a bill, as the rule needs it."""

    date: date
    amount: Decimal


@dataclass(frozen=True)
class LateFeeSegment:
    """Days ``start``..``end`` (inclusive) over which ``unpaid`` was constant.

    ``fee`` is exact (``unpaid × days × rate``, not rounded): round only for
    display, the bill's total is rounded once in :class:`LateFeeResult`.
    """

    start: date
    end: date
    days: int
    unpaid: Decimal
    fee: Decimal


@dataclass(frozen=True)
class LateFeeResult:
    """Everything the bot needs to state and explain the late fee of one bill.

    * ``late_fee``: what is owed, capped, rounded half up to the fen once.
    * ``uncapped_fee``: the sum before the cap, rounded to the fen for display.
    * ``fee_cap``: ``cap_ratio × principal`` (the most the fee can be).
    * ``overdue_days``: ``max(0, as_of − due_date)``, calendar days.
    * ``pre_rule_days``: overdue days before ``policy.start`` (never accrue).
    * ``accrual_days``: overdue days on or after ``policy.start`` on which
      something was unpaid, i.e. the days that actually accrued.
    * ``paid``: payments dated on or before ``as_of`` (may exceed principal).
    * ``unpaid_principal``: ``max(0, principal − paid)`` as of ``as_of``.
    * ``capped`` / ``capped_on``: whether the cap bit, and the first day on
      which the accrued fee reached it.
    * ``credit_warning``: unpaid principal left and overdue more than
      ``policy.credit_warning_days`` days (the bot mentions 征信).
    * ``segments``: the accruing stretches, for a plain-Chinese explanation.
    """

    principal: Decimal
    due_date: date
    as_of: date
    late_fee: Decimal
    uncapped_fee: Decimal
    fee_cap: Decimal
    overdue_days: int
    pre_rule_days: int
    accrual_days: int
    paid: Decimal
    unpaid_principal: Decimal
    capped: bool
    capped_on: date | None
    credit_warning: bool
    rate: Decimal
    rule_start: date
    cap_ratio: Decimal
    segments: Tuple[LateFeeSegment, ...] = field(default_factory=tuple)

    @property
    def total_due(self) -> Decimal:
        """Unpaid principal plus the late fee: what the household still owes on this bill."""
        return self.unpaid_principal + self.late_fee

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view: amounts as strings with two decimals, dates ISO."""
        return {
            "late_fee": _money(self.late_fee),
            "uncapped_fee": _money(self.uncapped_fee),
            "fee_cap": _money(self.fee_cap),
            "principal": _money(self.principal),
            "paid": _money(self.paid),
            "unpaid_principal": _money(self.unpaid_principal),
            "total_due": _money(self.total_due),
            "due_date": self.due_date.isoformat(),
            "as_of": self.as_of.isoformat(),
            "overdue_days": self.overdue_days,
            "pre_rule_days": self.pre_rule_days,
            "accrual_days": self.accrual_days,
            "capped": self.capped,
            "capped_on": self.capped_on.isoformat() if self.capped_on else None,
            "credit_warning": self.credit_warning,
            "rate": str(self.rate),
            "rule_start": self.rule_start.isoformat(),
            "cap_ratio": str(self.cap_ratio),
            "segments": [
                {
                    "from": s.start.isoformat(),
                    "to": s.end.isoformat(),
                    "days": s.days,
                    "unpaid": _money(s.unpaid),
                    "fee": str(s.fee),
                }
                for s in self.segments
            ],
        }


def _money(value: Decimal) -> str:
    """Two decimals, as the API and the CLI print amounts.

    Every amount in a result is already exact to the fen (inputs are validated,
    fees rounded once), so formatting never rounds here.
    """
    return f"{value:.2f}"


def _round_fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, context=_ROUNDING)


def _check_amount(value: object, what: str, *, allow_zero: bool) -> Decimal:
    """Refuse what cannot be money: wrong type, NaN/inf, sign, sub-fen digits."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise LateFeeInputError(f"{what} must be a Decimal amount, got {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise LateFeeInputError(f"{what} must be a finite number, got {amount}")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise LateFeeInputError(f"{what} must be {'zero or more' if allow_zero else 'positive'}, got {amount}")
    if amount.adjusted() > 15:
        raise LateFeeInputError(f"{what} is implausibly large: {amount}")
    if amount != _round_fen(amount):
        raise LateFeeInputError(f"{what} must have at most two decimal places (fen), got {amount}")
    return amount


def _check_date(value: object, what: str) -> date:
    # datetime is a subclass of date: a timestamp here is a caller bug, say so.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise LateFeeInputError(f"{what} must be a date, got {type(value).__name__}")
    return value


def compute_late_fee(
    principal: Decimal,
    due_date: date,
    as_of: date,
    payments: Iterable[PaymentLike] = (),
    policy: LateFeePolicy | None = None,
    *,
    issued_on: date | None = None,
) -> LateFeeResult:
    """Compute the late fee of one bill as of ``as_of`` (see the module docstring).

    Raises :class:`LateFeeInputError` for input the rule cannot honestly
    compute on, rather than guessing.
    """
    policy = policy if policy is not None else LateFeePolicy()
    principal = _check_amount(principal, "principal", allow_zero=True)
    due_date = _check_date(due_date, "due_date")
    as_of = _check_date(as_of, "as_of")
    if issued_on is not None:
        issued_on = _check_date(issued_on, "issued_on")
        if issued_on > due_date:
            raise LateFeeInputError(f"issued_on {issued_on} is after the due date {due_date}")
        earliest = issued_on
    else:
        try:
            earliest = due_date - timedelta(days=policy.max_prepay_days)
        except OverflowError:  # a due date in the first year of the calendar
            earliest = date.min

    checked: list[tuple[date, Decimal]] = []
    for index, payment in enumerate(payments):
        paid_on = _check_date(getattr(payment, "date", None), f"payment {index + 1} date")
        amount = _check_amount(getattr(payment, "amount", None), f"payment {index + 1} amount", allow_zero=False)
        if paid_on < earliest:
            raise LateFeeInputError(
                f"payment {index + 1} is dated {paid_on}, before the bill was issued ({earliest}); "
                "it cannot belong to this bill"
            )
        if paid_on <= as_of:
            checked.append((paid_on, amount))
    checked.sort(key=lambda item: item[0])

    try:
        return _accrue(principal, due_date, as_of, checked, policy)
    except decimal.DecimalException as exc:  # only reachable with absurd magnitudes
        raise LateFeeInputError(f"amounts cannot be computed exactly: {exc.__class__.__name__}") from exc
    except OverflowError as exc:  # only reachable with dates at the ends of the calendar (year 1 or 9999)
        raise LateFeeInputError(f"dates too close to {date.min} or {date.max} to compute on") from exc


def _accrue(
    principal: Decimal,
    due_date: date,
    as_of: date,
    payments: Sequence[tuple[date, Decimal]],
    policy: LateFeePolicy,
) -> LateFeeResult:
    """The segment walk; ``payments`` are validated, sorted and dated <= as_of."""
    rate = policy.rate
    zero = Decimal(0)
    overdue_days = max(0, (as_of - due_date).days)
    first_accrual_day = max(due_date + timedelta(days=1), policy.start)
    pre_rule_days = 0
    if overdue_days:
        last_pre_rule = min(as_of, policy.start - timedelta(days=1))
        pre_rule_days = max(0, (last_pre_rule - due_date).days)

    with decimal.localcontext(_EXACT):
        paid = sum((amount for _, amount in payments), zero)
        fee_cap = principal * policy.cap_ratio
        segments: list[LateFeeSegment] = []
        accrued = zero
        accrual_days = 0
        capped_on: date | None = None

        if first_accrual_day <= as_of:
            # Unpaid on the first accruing day: everything paid up to and including it.
            index = 0
            paid_so_far = zero
            while index < len(payments) and payments[index][0] <= first_accrual_day:
                paid_so_far += payments[index][1]
                index += 1
            day = first_accrual_day
            while day <= as_of:
                # The stretch runs until the day before the next payment (or as_of).
                if index < len(payments):
                    segment_end = min(as_of, payments[index][0] - timedelta(days=1))
                else:
                    segment_end = as_of
                unpaid = principal - paid_so_far
                if unpaid > 0 and segment_end >= day:
                    days = (segment_end - day).days + 1
                    fee = unpaid * days * rate
                    if capped_on is None and fee_cap < accrued + fee and unpaid * rate > 0:
                        capped_on = _day_cap_reached(day, fee_cap - accrued, unpaid * rate)
                    segments.append(LateFeeSegment(day, segment_end, days, unpaid, fee))
                    accrued += fee
                    accrual_days += days
                if unpaid <= 0:
                    break  # fully paid: nothing more accrues, whatever follows
                if index >= len(payments):
                    break
                # Apply every payment of the next payment day, then go on from that day.
                day = max(day, payments[index][0])
                next_day = payments[index][0]
                while index < len(payments) and payments[index][0] == next_day:
                    paid_so_far += payments[index][1]
                    index += 1

        capped = accrued > fee_cap
        late_fee = fee_cap if capped else accrued
        unpaid_principal = max(zero, principal - paid)

    return LateFeeResult(
        principal=principal,
        due_date=due_date,
        as_of=as_of,
        late_fee=_round_fen(late_fee),
        uncapped_fee=_round_fen(accrued),
        fee_cap=_round_fen(fee_cap),
        overdue_days=overdue_days,
        pre_rule_days=pre_rule_days,
        accrual_days=accrual_days,
        paid=_round_fen(paid),
        unpaid_principal=_round_fen(unpaid_principal),
        capped=capped,
        capped_on=capped_on if capped else None,
        credit_warning=unpaid_principal > 0 and overdue_days > policy.credit_warning_days,
        rate=policy.rate,
        rule_start=policy.start,
        cap_ratio=policy.cap_ratio,
        segments=tuple(segments),
    )


def _day_cap_reached(segment_start: date, room: Decimal, daily: Decimal) -> date:
    """First day of a segment on which the running fee reaches the cap (for the explanation)."""
    if room <= 0:
        return segment_start
    days_needed = int(_ROUNDING.divide(room, daily).to_integral_value(rounding=ROUND_CEILING, context=_ROUNDING))
    return segment_start + timedelta(days=max(days_needed, 1) - 1)
