"""What the billing API returns, as typed, immutable values.

Parsing is strict (``from_json`` raises :class:`ValueError` on a missing field
or a malformed amount) so that a broken billing system is noticed at the edge,
not as a wrong balance in a reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping, Tuple, TypeVar

__all__ = ["Account", "ArrearsReport", "Bill", "DistrictArrears", "Payment"]

_MONEY_RE = re.compile(r"^-?[0-9]+(\.[0-9]{1,2})?$")
_T = TypeVar("_T")


def _money(value: Any, what: str) -> Decimal:
    if not isinstance(value, str) or not _MONEY_RE.fullmatch(value):
        raise ValueError(f"{what}: expected an amount string such as '2509.00', got {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what}: not a number: {value!r}") from None


def _date(value: Any, what: str) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(f"{what}: expected YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what}: not a date: {value!r}") from None


def _str(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{what}.{key}: expected a string, got {value!r}")
    return value


def _int(data: Mapping[str, Any], key: str, what: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what}.{key}: expected an integer, got {value!r}")
    return value


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if type(value) is dict:  # what JSON gives; the ABC check below costs more than the rest of a field
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{what}: expected a list, got {type(value).__name__}")
    return value


def _items(parse: Callable[[Any, str], _T], value: Any, what: str) -> Tuple[_T, ...]:
    """Each element of a JSON list parsed; an error names the element by its index."""
    return tuple(parse(item, f"{what}[{i}]") for i, item in enumerate(_list(value, what)))


@dataclass(frozen=True)
class Payment:
    """A payment on a bill; has ``date`` and ``amount`` so the late-fee rule takes it as is."""

    date: date
    amount: Decimal
    channel: str

    @classmethod
    def from_json(cls, data: Any, what: str = "payment") -> "Payment":
        data = _mapping(data, what)
        return cls(
            date=_date(data.get("date"), f"{what}.date"),
            amount=_money(data.get("amount"), f"{what}.amount"),
            channel=_str(data, "channel", what),
        )


@dataclass(frozen=True)
class Bill:
    """One season's heating bill (采暖季账单) of an account."""

    season: str
    principal: Decimal
    due_date: date
    payments: Tuple[Payment, ...]

    @property
    def paid(self) -> Decimal:
        """All payments on record, whatever their date (use the rule for an as-of view)."""
        return sum((p.amount for p in self.payments), Decimal("0.00"))

    @classmethod
    def from_json(cls, data: Any, what: str = "bill") -> "Bill":
        data = _mapping(data, what)
        return cls(
            season=_str(data, "season", what),
            principal=_money(data.get("principal"), f"{what}.principal"),
            due_date=_date(data.get("due_date"), f"{what}.due_date"),
            payments=_items(Payment.from_json, data.get("payments", []), f"{what}.payments"),
        )


@dataclass(frozen=True)
class Account:
    """A household (户) as the billing API returns it; the phone is masked by the server."""

    account_no: str
    holder: str
    phone_masked: str
    address: str
    district: str
    area_m2: Decimal
    bills: Tuple[Bill, ...]

    @classmethod
    def from_json(cls, data: Any) -> "Account":
        data = _mapping(data, "account")
        return cls(
            account_no=_str(data, "account_no", "account"),
            holder=_str(data, "holder", "account"),
            phone_masked=_str(data, "phone_masked", "account"),
            address=_str(data, "address", "account"),
            district=_str(data, "district", "account"),
            area_m2=_money(data.get("area_m2"), "account.area_m2"),
            bills=_items(Bill.from_json, data.get("bills", []), "account.bills"),
        )


@dataclass(frozen=True)
class DistrictArrears:
    """One district's line of the arrears report."""

    district: str
    households: int
    households_in_arrears: int
    bills_in_arrears: int
    unpaid_principal: Decimal
    late_fees: Decimal
    total_owed: Decimal
    credit_warnings: int

    @classmethod
    def from_json(cls, data: Any, what: str = "district") -> "DistrictArrears":
        data = _mapping(data, what)
        return cls(
            district=_str(data, "district", what),
            households=_int(data, "households", what),
            households_in_arrears=_int(data, "households_in_arrears", what),
            bills_in_arrears=_int(data, "bills_in_arrears", what),
            unpaid_principal=_money(data.get("unpaid_principal"), f"{what}.unpaid_principal"),
            late_fees=_money(data.get("late_fees"), f"{what}.late_fees"),
            total_owed=_money(data.get("total_owed"), f"{what}.total_owed"),
            credit_warnings=_int(data, "credit_warnings", what),
        )


@dataclass(frozen=True)
class ArrearsReport:
    """Arrears per district as of a day, with the city-wide total."""

    as_of: date
    districts: Tuple[DistrictArrears, ...]
    total: DistrictArrears

    @classmethod
    def from_json(cls, data: Any) -> "ArrearsReport":
        data = _mapping(data, "report")
        return cls(
            as_of=_date(data.get("as_of"), "report.as_of"),
            districts=_items(DistrictArrears.from_json, data.get("districts"), "report.districts"),
            total=DistrictArrears.from_json(data.get("total"), "report.total"),
        )
