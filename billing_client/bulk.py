"""Reading the billing API's bulk export fast, without giving up the strict parsing of models.py.

`GET /api/v1/accounts/export` streams every household as NDJSON (docs/billing_api.md). A campaign
plan reads 100 000 of them; building an `Account` of frozen dataclasses field by field, through
one checking function per field, cost more than the JSON parse itself. Here:

* :class:`LineSplitter` cuts the byte stream into lines and keeps the last complete line back,
  because the stream's last line is the trailer (``{"complete":true,"accounts":N}``), not an account.
* :func:`parse_households` parses a batch of lines with one ``json.loads`` and checks every field
  models.Account.from_json checks (types, amount and date formats) in bulk: every amount of the
  batch against one regular expression, every date against another. It returns plain tuples with
  what a bulk reader needs (:data:`Household`). Anything the fast checks refuse is parsed again
  by ``Account.from_json``, so a malformed account raises the same precise ``ValueError`` it always
  did, and the fast path never refuses what the strict parser accepts
  (tests/billing_client/test_bulk.py holds both to the same answers).
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, List, Optional, Sequence, Tuple

from billing_client.models import Account

__all__ = ["BillRow", "Household", "LineSplitter", "household_of", "parse_households", "parse_trailer"]

# (date, amount) of one payment; bills: (season, principal, due_date, payments oldest first);
# households: (account_no, holder, district, bills by due date).
PaymentRow = Tuple[date, Decimal]
BillRow = Tuple[str, Decimal, date, Tuple[PaymentRow, ...]]
Household = Tuple[str, str, str, Tuple[BillRow, ...]]

_AMOUNT = r"-?[0-9]+(?:\.[0-9]{1,2})?"  # models._MONEY_RE, one amount per line
_AMOUNTS = re.compile(rf"{_AMOUNT}(?:\n{_AMOUNT})*")
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DATES = re.compile(rf"{_DATE}(?:\n{_DATE})*")


class _Refused(Exception):
    """The fast checks did not accept a batch; the strict parser decides (and explains)."""


def household_of(account: Account) -> Household:
    """The bulk form of an `Account` parsed by models.py (pages, single reads, tests)."""
    return (
        account.account_no,
        account.holder,
        account.district,
        tuple(
            (bill.season, bill.principal, bill.due_date, tuple((p.date, p.amount) for p in bill.payments))
            for bill in account.bills
        ),
    )


def _strict(lines: Sequence[bytes]) -> List[Household]:
    """The reference path: `Account.from_json` line by line, with its precise error messages."""
    households = []
    for number, line in enumerate(lines, 1):
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"export line {number}: not JSON ({exc.__class__.__name__})") from None
        try:
            households.append(household_of(Account.from_json(data)))
        except ValueError as exc:
            named = data.get("account_no") if isinstance(data, dict) else None
            account = f" (account {named})" if isinstance(named, str) else ""
            raise ValueError(f"export line {number}{account}: {exc}") from None
    return households


def parse_households(lines: Sequence[bytes]) -> List[Household]:
    """Accounts of the export, one per line (no trailer), checked like ``Account.from_json``.

    Raises ``ValueError`` naming the line and the field when an account is malformed.
    """
    if not lines:
        return []
    try:
        return _fast(lines)
    except _Refused:
        return _strict(lines)


def _fast(lines: Sequence[bytes]) -> List[Household]:
    try:
        items = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        raise _Refused from None
    if len(items) != len(lines):  # a line holding two values, e.g. `{…},{…}`
        raise _Refused
    amounts: List[Any] = []
    dates: List[Any] = []
    seen: dict[str, date] = {}  # a city's bills share a few due dates; parse each text once
    households: List[Household] = []
    try:
        for item in items:
            account_no, holder, district = item["account_no"], item["holder"], item["district"]
            if not (type(account_no) is str and type(holder) is str and type(district) is str
                    and type(item["phone_masked"]) is str and type(item["address"]) is str):
                raise _Refused
            amounts.append(item["area_m2"])
            bills = item.get("bills", [])
            if type(bills) is not list:
                raise _Refused
            rows = []
            for bill in bills:
                season, principal, due, payments = bill["season"], bill["principal"], bill["due_date"], \
                    bill.get("payments", [])
                if type(season) is not str or type(payments) is not list:
                    raise _Refused
                amounts.append(principal)
                dates.append(due)
                paid = []
                for payment in payments:
                    day, amount = payment["date"], payment["amount"]
                    if type(payment["channel"]) is not str:
                        raise _Refused
                    amounts.append(amount)
                    dates.append(day)
                    paid.append((seen.get(day) or _day(day, seen), Decimal(amount)))
                rows.append((season, Decimal(principal), seen.get(due) or _day(due, seen), tuple(paid)))
            households.append((account_no, holder, district, tuple(rows)))
        # One pass of the regular expressions over every amount and every date of the batch: what
        # Decimal() and date.fromisoformat() above would accept beyond the API's formats is refused.
        if not (_all_match(_AMOUNTS, amounts) and _all_match(_DATES, dates)):
            raise _Refused
    except (KeyError, TypeError, ValueError, InvalidOperation):  # missing key, non-dict, bad text
        raise _Refused from None
    return households


def _all_match(pattern: "re.Pattern[str]", texts: List[Any]) -> bool:
    """Every text matches the one-per-line pattern (and none hides a newline of its own)."""
    if not texts:
        return True
    joined = "\n".join(texts)  # TypeError for a non-string: refused
    return joined.count("\n") == len(texts) - 1 and pattern.fullmatch(joined) is not None


def _day(text: Any, seen: dict[str, date]) -> date:
    day = date.fromisoformat(text)  # TypeError / ValueError: refused, the strict parser explains
    seen[text] = day
    return day


class LineSplitter:
    """Complete lines out of a byte stream, holding back the newest one (it may be the trailer)."""

    def __init__(self) -> None:
        self._partial = b""
        self._held: Optional[bytes] = None

    def feed(self, data: bytes) -> List[bytes]:
        """The lines that are certainly not the stream's last one."""
        parts = (self._partial + data).split(b"\n")
        self._partial = parts.pop()
        lines = [line for line in parts if line.strip()]
        if not lines:
            return []
        if self._held is not None:
            lines.insert(0, self._held)
        self._held = lines.pop()
        return lines

    def finish(self) -> Tuple[List[bytes], Optional[bytes]]:
        """At the end of the stream: (the account lines still held, the last line — the trailer —
        or None when the stream had no line at all)."""
        if self._partial.strip():  # a last line without its newline
            held = [self._held] if self._held is not None else []
            return held, self._partial
        return [], self._held


def parse_trailer(line: Optional[bytes], received: int) -> None:
    """Raise ``ValueError`` unless ``line`` is ``{"complete": true, "accounts": received}``."""
    if line is None:
        raise ValueError("export ended without its trailer (cut short)")
    try:
        data = json.loads(line)
    except ValueError:
        raise ValueError("export ended without its trailer (cut short)") from None
    if not isinstance(data, dict) or data.get("complete") is not True:
        raise ValueError("export ended without its trailer (cut short)")
    if data.get("accounts") != received:
        raise ValueError(f"export trailer counts {data.get('accounts')!r} accounts, {received} were received")
