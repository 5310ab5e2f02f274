"""Reports: arrears per district, for the company's managers (and a check of the rule at scale)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Iterable, Optional

from fastapi import APIRouter, Query

from billing_client.rule import LateFeeInputError, LateFeePolicy, compute_late_fee
from billing_service import crud
from billing_service.deps import PolicyDep, SessionDep, TodayDep
from billing_service.errors import ApiError
from billing_service.models import Account
from billing_service.schemas import ArrearsReportOut, DistrictArrearsOut, ErrorOut

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
logger = logging.getLogger("billing_service")

TOTAL_LABEL = "合计"
ZERO = Decimal("0.00")


@dataclass
class _Tally:
    households: int = 0
    households_in_arrears: int = 0
    bills_in_arrears: int = 0
    unpaid_principal: Decimal = ZERO
    late_fees: Decimal = ZERO
    credit_warnings: int = 0

    def out(self, district: str) -> DistrictArrearsOut:
        return DistrictArrearsOut(
            district=district,
            households=self.households,
            households_in_arrears=self.households_in_arrears,
            bills_in_arrears=self.bills_in_arrears,
            unpaid_principal=self.unpaid_principal,
            late_fees=self.late_fees,
            total_owed=self.unpaid_principal + self.late_fees,
            credit_warnings=self.credit_warnings,
        )


@dataclass
class _Household:
    in_arrears: bool = False
    credit_warning: bool = False
    bills_in_arrears: int = 0
    unpaid_principal: Decimal = ZERO
    late_fees: Decimal = ZERO


def _household(account: Account, as_of: dt.date, policy: LateFeePolicy) -> _Household:
    """What one household owes on bills past their due date, as of ``as_of``."""
    result = _Household()
    for bill in account.bills:
        if bill.due_date >= as_of:
            continue  # not overdue yet: not arrears
        try:
            fee = compute_late_fee(
                bill.principal,
                bill.due_date,
                as_of,
                [_PaymentView(p.paid_on, p.amount) for p in bill.payments],
                policy,
            )
        except LateFeeInputError as exc:
            raise ApiError(
                500, "invalid_billing_data", f"bill {bill.season} of account {account.account_no}: {exc}"
            ) from exc
        if fee.unpaid_principal > 0 or fee.late_fee > 0:
            result.in_arrears = True
            result.bills_in_arrears += 1
            result.unpaid_principal += fee.unpaid_principal
            result.late_fees += fee.late_fee
        result.credit_warning = result.credit_warning or fee.credit_warning
    return result


@dataclass(frozen=True)
class _PaymentView:
    date: dt.date
    amount: Decimal


def build_report(accounts: Iterable[Account], as_of: dt.date, policy: LateFeePolicy) -> ArrearsReportOut:
    by_district: dict[str, _Tally] = defaultdict(_Tally)
    total = _Tally()
    for account in accounts:
        household = _household(account, as_of, policy)
        for tally in (by_district[account.district], total):
            tally.households += 1
            if household.in_arrears:
                tally.households_in_arrears += 1
            tally.bills_in_arrears += household.bills_in_arrears
            tally.unpaid_principal += household.unpaid_principal
            tally.late_fees += household.late_fees
            if household.credit_warning:
                tally.credit_warnings += 1
    return ArrearsReportOut(
        as_of=as_of,
        rate=str(policy.rate),
        rule_start=policy.start,
        cap_ratio=str(policy.cap_ratio),
        districts=[by_district[name].out(name) for name in sorted(by_district)],
        total=total.out(TOTAL_LABEL),
    )


@router.get(
    "/arrears",
    response_model=ArrearsReportOut,
    responses={422: {"model": ErrorOut, "description": "malformed as_of (code `validation_error`)"}},
    summary="Arrears per district as of a day",
    description=(
        "For every district: households, households in arrears (owing principal or late fee on a bill past "
        "its due date), unpaid principal, late fees (the 1‰-per-day rule, capped and rounded per bill) and "
        "the number of households with a bill unpaid for more than the credit-warning threshold. "
        "Payments dated after as_of are not counted. Without as_of, today (HEATING_TODAY when set)."
    ),
)
def arrears_report(
    session: SessionDep,
    policy: PolicyDep,
    today: TodayDep,
    as_of: Annotated[
        Optional[str],
        Query(
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            description="YYYY-MM-DD; default today",
            examples=["2025-02-15"],
            json_schema_extra={"format": "date"},
        ),
    ] = None,
) -> ArrearsReportOut:
    day = today
    if as_of is not None:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ApiError(422, "validation_error", f"as_of is not a real calendar date: {as_of}") from None
    return build_report(crud.all_accounts(session), day, policy)
