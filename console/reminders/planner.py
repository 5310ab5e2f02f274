"""Which households a campaign targets, with their own amounts as of the send day (pure).

Late fees come from billing_client's rule (its batch form, billing_client.batch: the same
figures) computed in this process over the households the billing API exports in bulk, never
from one HTTP call per household: that is what keeps planning 100 000 households under 30 s
(docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billing_client.batch import BatchRule
from billing_client.bulk import BillRow, Household, household_of
from billing_client.models import Account
from billing_client.rule import EXACT, LateFeeInputError, LateFeePolicy

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


class Planner:
    """One campaign's test of a household, with the rule's constants worked out once: a plan
    runs it over every household of the city (billing_client.bulk's tuples, as the export gives them)."""

    def __init__(self, spec: Spec, as_of: dt.date, policy: LateFeePolicy, rules: Rules) -> None:
        self.spec = spec
        self.as_of = as_of
        self.rule = BatchRule(as_of, policy)
        self.low, self.high = _days_window(spec, rules, policy)

    def export_filter(self) -> dict[str, dt.date]:
        """What the billing export may leave out (billing_client's ``owing_on`` / ``paid_since``):
        households this campaign cannot target. A hint only: every household received is tested."""
        if self.spec.kind == "payment_credited":
            return {"paid_since": self.as_of - dt.timedelta(days=self.low - 1)}  # paid within the last `low` days
        return {"owing_on": self.as_of}  # every other kind needs principal unpaid as of the send day

    def plan(self, households: Iterable[Household]) -> list[Target]:
        """Every targeted household, in the order they came (account number)."""
        targets = []
        try:
            # The rule's exact context once per batch, not once per bill (BatchRule.figures would).
            with decimal.localcontext(EXACT):
                for household in households:
                    target = self.target(household)
                    if target is not None:
                        targets.append(target)
        except decimal.DecimalException as exc:  # amounts of 60 digits and more: the rule refuses them too
            raise LateFeeInputError(f"amounts cannot be computed exactly: {exc.__class__.__name__}") from exc
        return targets

    def target(self, household: Household) -> Target | None:
        """The household's figures for this campaign, or None when it is not targeted. Runs in the
        rule's exact Decimal context (``plan`` enters it)."""
        account_no, holder, district, bills = household
        spec, as_of, low, high = self.spec, self.as_of, self.low, self.high
        if spec.district is not None and district != spec.district:
            return None
        credited = spec.kind == "payment_credited"
        unpaid = late_fee = ZERO
        chosen: BillRow | None = None
        chosen_overdue = 0
        paid = ZERO
        paid_on: dt.date | None = None
        for bill in bills:
            season, principal, due_date, payments = bill
            if not credited:
                # Most bills: paid in full by the due date (and by as_of), nothing to compute.
                cutoff = due_date if due_date < as_of else as_of
                if sum([amount for day, amount in payments if day <= cutoff], ZERO) >= principal:
                    continue
            bill_fee, bill_unpaid, overdue_days = self.rule.figures_in_context(principal, due_date, payments)
            if bill_unpaid + bill_fee > 0:
                unpaid += bill_unpaid
                late_fee += bill_fee
            if credited:
                recent = [(day, amount) for day, amount in payments if 0 <= (as_of - day).days < low]
                if recent:
                    chosen, chosen_overdue = bill, overdue_days
                    paid += sum((amount for _, amount in recent), ZERO)
                    paid_on = max(day for day, _ in recent)
                continue
            if bill_unpaid <= 0:
                continue
            if spec.kind == "bill_issued":
                matches = due_date >= as_of
            elif spec.kind == "deadline_approaching":
                matches = low <= (due_date - as_of).days <= high
            else:
                matches = low <= overdue_days <= high
            if matches and (chosen is None or due_date < chosen[2]):
                chosen, chosen_overdue = bill, overdue_days
        if chosen is None:
            return None
        total = unpaid + late_fee
        if not credited and total < spec.min_arrears:
            return None
        return Target(
            account_no=account_no,
            district=district,
            holder=holder,
            season=chosen[0],
            principal=chosen[1],
            unpaid=unpaid,
            late_fee=late_fee,
            total=total,
            due_date=chosen[2],
            overdue_days=chosen_overdue,
            paid=paid,
            paid_on=paid_on,
        )


def target_of(account: Account, spec: Spec, as_of: dt.date, policy: LateFeePolicy, rules: Rules) -> Target | None:
    """One `Account` (as billing_client.models parses it): its target figures, or None."""
    return next(iter(Planner(spec, as_of, policy, rules).plan([household_of(account)])), None)


def plan(
    accounts: Iterable[Account], spec: Spec, as_of: dt.date, policy: LateFeePolicy, rules: Rules
) -> list[Target]:
    """Every targeted household of these `Account`s, in the order they came (account number)."""
    return Planner(spec, as_of, policy, rules).plan(household_of(account) for account in accounts)


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
