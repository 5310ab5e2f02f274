"""Which households a campaign targets, with their own amounts as of the send day (pure).

Late fees come from billing_client's rule computed in this process over the accounts the
billing API hands out page by page, never from one HTTP call per household: that is what
keeps planning 100 000 households well under 30 s (docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billing_client.models import Account, Bill
from billing_client.rule import LateFeePolicy, compute_late_fee

from console.reminders import messages

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Spec:
    """What a supervisor asked for. ``days`` means, per kind: overdue → at least N days overdue
    (default 1); credit_warning → from day N (default the city's credit_warning_day);
    deadline_approaching → due within N days (default the city's deadline_days);
    payment_credited → paid within the last N days (default 1); bill_issued → unused."""

    kind: str
    district: str | None = None
    min_arrears: Decimal = ZERO
    days: int | None = None


@dataclass(frozen=True)
class Rules:
    """The city's reminder settings the planner needs (config/city.yml, ``reminders``)."""

    credit_warning_day: int = 25
    deadline_days: int = 7

    @classmethod
    def from_city(cls, city: Mapping[str, Any]) -> "Rules":
        section = city.get("reminders") or {}
        return cls(
            credit_warning_day=int(section.get("credit_warning_day", cls.credit_warning_day)),
            deadline_days=int(section.get("deadline_days", cls.deadline_days)),
        )


@dataclass(frozen=True)
class Target:
    """One household a campaign reaches, with the figures its message states."""

    account_no: str
    district: str
    holder: str
    season: str
    principal: Decimal
    unpaid: Decimal
    late_fee: Decimal
    total: Decimal
    due_date: dt.date
    overdue_days: int
    paid: Decimal = ZERO
    paid_on: dt.date | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def mask_holder(holder: str) -> str:
    """张* / 欧阳** : the surname only, as the bot masks names."""
    return holder[:1] + "*" * max(len(holder) - 1, 1) if holder else ""


def _days_window(spec: Spec, rules: Rules, policy: LateFeePolicy) -> tuple[int, int]:
    """(low, high) bounds in days for the kind's bill test."""
    if spec.kind == "overdue":
        return (spec.days if spec.days is not None else 1, 10**6)
    if spec.kind == "credit_warning":
        return (spec.days if spec.days is not None else rules.credit_warning_day, policy.credit_warning_days)
    if spec.kind == "deadline_approaching":
        return (0, spec.days if spec.days is not None else rules.deadline_days)
    return (spec.days if spec.days is not None else 1, 0)


def _settled_in_time(bill: Bill, as_of: dt.date) -> bool:
    """Paid in full on or before both the due date and `as_of`: no unpaid principal, no late fee."""
    cutoff = min(bill.due_date, as_of)
    return sum((p.amount for p in bill.payments if p.date <= cutoff), ZERO) >= bill.principal


def target_of(account: Account, spec: Spec, as_of: dt.date, policy: LateFeePolicy, rules: Rules) -> Target | None:
    """The household's target figures for this campaign, or None when it is not targeted."""
    if spec.district is not None and account.district != spec.district:
        return None
    low, high = _days_window(spec, rules, policy)
    unpaid = late_fee = ZERO
    chosen: Any = None
    chosen_result: Any = None
    paid = ZERO
    paid_on: dt.date | None = None
    for bill in account.bills:
        if spec.kind != "payment_credited" and _settled_in_time(bill, as_of):
            continue  # most bills: paid in full by the due date, nothing to compute
        result = compute_late_fee(bill.principal, bill.due_date, as_of, bill.payments, policy)
        if result.total_due > 0:
            unpaid += result.unpaid_principal
            late_fee += result.late_fee
        if spec.kind == "payment_credited":
            recent = [p for p in bill.payments if 0 <= (as_of - p.date).days < low]
            if recent:
                chosen, chosen_result = bill, result
                paid += sum((p.amount for p in recent), ZERO)
                paid_on = max(p.date for p in recent)
            continue
        if result.unpaid_principal <= 0:
            continue
        if spec.kind == "bill_issued":
            matches = bill.due_date >= as_of
        elif spec.kind == "deadline_approaching":
            matches = low <= (bill.due_date - as_of).days <= high
        else:
            matches = low <= result.overdue_days <= high
        if matches and (chosen is None or bill.due_date < chosen.due_date):
            chosen, chosen_result = bill, result
    if chosen is None:
        return None
    total = unpaid + late_fee
    if spec.kind != "payment_credited" and total < spec.min_arrears:
        return None
    return Target(
        account_no=account.account_no,
        district=account.district,
        holder=account.holder,
        season=chosen.season,
        principal=chosen.principal,
        unpaid=unpaid,
        late_fee=late_fee,
        total=total,
        due_date=chosen.due_date,
        overdue_days=chosen_result.overdue_days,
        paid=paid,
        paid_on=paid_on,
    )


def plan(
    accounts: Iterable[Account], spec: Spec, as_of: dt.date, policy: LateFeePolicy, rules: Rules
) -> list[Target]:
    """Every targeted household, in the order the accounts came (account number)."""
    targets = []
    for account in accounts:
        target = target_of(account, spec, as_of, policy, rules)
        if target is not None:
            targets.append(target)
    return targets


def _yuan(value: Decimal) -> str:
    return f"{value:.2f}"


def fields(target: Target, as_of: dt.date, credit_days: int) -> dict[str, str]:
    """The values every text and template of a notice may use."""
    return {
        "holder": mask_holder(target.holder),
        "account_no": target.account_no,
        "season": target.season,
        "principal": _yuan(target.principal),
        "unpaid": _yuan(target.unpaid),
        "late_fee": _yuan(target.late_fee),
        "total": _yuan(target.total),
        "due_date": target.due_date.isoformat(),
        "days_left": str(max(0, (target.due_date - as_of).days)),
        "overdue_days": str(target.overdue_days),
        "as_of": as_of.isoformat(),
        "paid": _yuan(target.paid),
        "paid_on": target.paid_on.isoformat() if target.paid_on else "",
        "credit_days": str(credit_days),
    }


def render_text(kind: str, values: Mapping[str, str], pay_url: str | None) -> str:
    """The customer-service message (and the sample the preview shows): notice, pay link, opt-out."""
    lines = [messages.TEXTS[kind].format(**values)]
    if pay_url:
        lines.append(messages.PAY_LINE.format(pay_url=pay_url))
    lines.append(messages.OPT_OUT_LINE)
    return "\n".join(lines)


def render_template_data(kind: str, values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The template message's fields (first, keyword1–3, remark), as WeChat's template API wants them."""
    amount = values["paid"] if kind == "payment_credited" else values["total"]
    day = values["paid_on"] if kind == "payment_credited" else values["due_date"]
    return {
        "first": {"value": messages.TEMPLATE_FIRST[kind]},
        "keyword1": {"value": values["account_no"]},
        "keyword2": {"value": f"{amount}元"},
        "keyword3": {"value": day},
        "remark": {"value": messages.TEMPLATE_REMARK},
    }
