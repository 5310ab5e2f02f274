"""The late-fee rule for many bills as of one day: the figures of `compute_late_fee`, cheaper.

A reminder campaign needs three figures per bill — the late fee, the unpaid principal, the
overdue days — for tens of thousands of bills as of the same day. `compute_late_fee` also builds
the explanation (segments, the day the cap bit, pre-rule days) and checks its inputs field by
field; that is most of its cost. :class:`BatchRule` works out the policy's constants once and
sums ``unpaid × days`` over the payment dates in exact ``Decimal`` arithmetic, multiplies by the
rate once (exact, so equal to the per-segment sum), caps, and rounds half up to the fen once per
bill — the rule of DESIGN.md, the same numbers to the last digit. Anything unusual (a negative or
sub-fen amount, an implausible magnitude, a payment dated before the bill could be issued, dates at
the ends of the calendar) goes to `compute_late_fee` itself, which computes it or raises its
`LateFeeInputError`. tests/billing_client/test_batch.py holds the two to equality on random bills.
"""

from __future__ import annotations

import decimal
from datetime import date
from decimal import Decimal
from typing import Iterable, List, Optional, Sequence, Tuple

from billing_client.rule import EXACT, FEN, LateFeePolicy, Payment, _round_fen, compute_late_fee

__all__ = ["BatchRule", "Figures", "late_fees"]

# (late_fee, unpaid_principal, overdue_days), as compute_late_fee's result states them.
Figures = Tuple[Decimal, Decimal, int]

_ZERO = Decimal(0)
_MARGIN_DAYS = 400  # ordinals closer than this to date.min / date.max go to the reference
_LAST = date.max.toordinal()


class _Unusual(Exception):
    """Input outside the fast path: compute_late_fee decides (and explains a refusal)."""


class BatchRule:
    """The rule as of one day under one policy; :meth:`figures` per bill, :func:`late_fees` for many."""

    def __init__(self, as_of: date, policy: Optional[LateFeePolicy] = None) -> None:
        self.as_of = as_of
        self.policy = policy if policy is not None else LateFeePolicy()
        self._as_of = as_of.toordinal()
        self._start = self.policy.start.toordinal()
        self._prepay = self.policy.max_prepay_days
        self._rate = self.policy.rate
        self._cap_ratio = self.policy.cap_ratio
        # Far from both ends of the calendar, where the reference's date arithmetic overflows.
        self._usual = (as_of.__class__ is date and self._start > _MARGIN_DAYS
                       and _MARGIN_DAYS + self._prepay < self._as_of < _LAST - _MARGIN_DAYS)

    def figures(self, principal: Decimal, due_date: date, payments: Sequence[Tuple[date, Decimal]] = ()) -> Figures:
        """(late fee, unpaid principal, overdue days) of one bill; ``payments`` are (date, amount)."""
        with decimal.localcontext(EXACT):
            return self.figures_in_context(principal, due_date, payments)

    def figures_in_context(self, principal: Decimal, due_date: date,
                           payments: Sequence[Tuple[date, Decimal]] = ()) -> Figures:
        """:meth:`figures` for a caller that already runs in ``billing_client.rule.EXACT``
        (``decimal.localcontext(EXACT)`` around a whole batch): the context costs more than a bill."""
        try:
            return self._usual_figures(principal, due_date, payments)
        except _Unusual:
            return self._reference(principal, due_date, payments)
        except decimal.DecimalException:  # absurd magnitudes: the reference raises its LateFeeInputError
            return self._reference(principal, due_date, payments)

    def _usual_figures(self, principal: Decimal, due_date: date,
                       payments: Sequence[Tuple[date, Decimal]]) -> Figures:
        if not self._usual or due_date.__class__ is not date or not _is_fen(principal, allow_zero=True):
            raise _Unusual
        due = due_date.toordinal()
        if not _MARGIN_DAYS + self._prepay < due < _LAST - _MARGIN_DAYS:
            raise _Unusual
        as_of = self._as_of
        earliest = due - self._prepay
        paid = _ZERO
        dated: List[Tuple[int, Decimal]] = []
        for day, amount in payments:
            if day.__class__ is not date or not _is_fen(amount, allow_zero=False):
                raise _Unusual
            ordinal = day.toordinal()
            if ordinal < earliest:
                raise _Unusual  # a payment before the bill was issued: the reference says so
            if ordinal <= as_of:
                dated.append((ordinal, amount))
                paid += amount
        overdue_days = as_of - due if as_of > due else 0
        unpaid_principal = principal - paid if principal > paid else _ZERO
        first = due + 1 if due + 1 > self._start else self._start
        if first > as_of:
            return _round_fen(_ZERO), _round_fen(unpaid_principal), overdue_days
        if len(dated) > 1:
            dated.sort(key=_first)
        # Σ unpaid(d) over the accruing days, stretch by stretch: unpaid changes only on a payment day.
        unpaid = principal
        index = 0
        while index < len(dated) and dated[index][0] <= first:  # paid on or before the first accruing day
            unpaid -= dated[index][1]
            index += 1
        unpaid_days = _ZERO
        day = first
        while unpaid > 0:
            if index == len(dated):
                unpaid_days += unpaid * (as_of - day + 1)
                break
            next_day = dated[index][0]
            unpaid_days += unpaid * (next_day - day)
            while index < len(dated) and dated[index][0] == next_day:
                unpaid -= dated[index][1]
                index += 1
            day = next_day
        accrued = unpaid_days * self._rate
        cap = principal * self._cap_ratio
        return _round_fen(cap if accrued > cap else accrued), _round_fen(unpaid_principal), overdue_days

    def _reference(self, principal: Decimal, due_date: date, payments: Sequence[Tuple[date, Decimal]]) -> Figures:
        result = compute_late_fee(principal, due_date, self.as_of, [Payment(d, a) for d, a in payments], self.policy)
        return result.late_fee, result.unpaid_principal, result.overdue_days


def late_fees(
    bills: Iterable[Tuple[Decimal, date, Sequence[Tuple[date, Decimal]]]],
    as_of: date,
    policy: Optional[LateFeePolicy] = None,
) -> List[Figures]:
    """The figures of every (principal, due_date, payments) bill as of ``as_of``, in order."""
    rule = BatchRule(as_of, policy)
    with decimal.localcontext(EXACT):
        return [rule.figures_in_context(principal, due, payments) for principal, due, payments in bills]


def _first(item: Tuple[int, Decimal]) -> int:
    return item[0]


def _is_fen(amount: object, *, allow_zero: bool) -> bool:
    """What compute_late_fee's amount check accepts, for the Decimals a parser hands out."""
    if amount.__class__ is not Decimal:
        return False
    if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero) or amount.adjusted() > 15:
        return False
    return amount == amount.quantize(FEN, context=_EXACT_QUANTIZE)


# quantize without traps: a sub-fen amount simply compares unequal to its rounding.
_EXACT_QUANTIZE = decimal.Context(prec=60, traps=[])
