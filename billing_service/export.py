"""The NDJSON bulk export (`GET /api/v1/accounts/export`): one account per line, then a trailer.

Each line is byte for byte the JSON object `GET /api/v1/accounts/{account_no}` returns (the same
keys in the same order, amounts with two decimals, the phone masked). Lines are written with
f-strings and the C string encoder json.dumps itself uses, from the raw rows of
`crud.export_chunk`: building 100 000 dicts of Decimals and dates only to serialise them again was
most of what a campaign plan cost the billing service. The last line, `{"complete":true,
"accounts":N}`, tells a client the stream was not cut short (docs/billing_api.md).

Two optional filters narrow the export to the households a campaign can concern: `owing_on`
(a bill not paid in full by that day) and `paid_since` (a payment on or after that day). They are
hints: a billing system may ignore them, HeatDesk checks every household it receives anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # C: json.dumps(ensure_ascii=False)
from typing import Any, Optional

from sqlalchemy.orm import Session

from billing_service import crud
from heatdesk_contract.masking import mask_phone

CHUNK = 1000
MEDIA_TYPE = "application/x-ndjson"

_quote: Callable[[str], str] = encode_basestring


def yuan(fen: int) -> str:
    """Integer fen as the API's amount string: 250900 → "2509.00", -5 → "-0.05"."""
    sign, fen = ("-", -fen) if fen < 0 else ("", fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def _iso(value: Any) -> str:
    """A date column as text: SQLite hands out the stored ISO text, PostgreSQL a ``date``."""
    return value if value.__class__ is str else dt.date.isoformat(value)


def account_line(account: tuple[Any, ...], bills: list[tuple[Any, ...]],
                 payments: dict[int, list[tuple[Any, ...]]]) -> str:
    """One account, exactly as the single read serialises it."""
    account_no, holder, phone, address, district, area = account
    rendered = []
    for bill_id, season, principal, due_date in bills:
        paid = ",".join(
            f'{{"date":{_quote(_iso(paid_on))},"amount":"{yuan(amount)}","channel":{_quote(channel)}}}'
            for paid_on, amount, channel in payments[bill_id]
        )
        rendered.append(f'{{"season":{_quote(season)},"principal":"{yuan(principal)}",'
                        f'"due_date":{_quote(_iso(due_date))},"payments":[{paid}]}}')
    return (f'{{"account_no":{_quote(account_no)},"holder":{_quote(holder)},'
            f'"phone_masked":{_quote(mask_phone(phone))},"address":{_quote(address)},'
            f'"district":{_quote(district)},"area_m2":"{yuan(area)}","bills":[{",".join(rendered)}]}}')


def trailer(count: int) -> str:
    return f'{{"complete":true,"accounts":{count}}}'


def _wanted(bills: list[tuple[Any, ...]], payments: dict[int, list[tuple[Any, ...]]],
            owing_on: Optional[str], paid_since: Optional[str]) -> bool:
    """The optional filters: a bill not paid in full by payments dated on or before ``owing_on``;
    a payment dated on or after ``paid_since`` (ISO dates compare as text)."""
    if owing_on is not None:
        owing = False
        for bill_id, _season, principal, _due in bills:
            if principal > sum([amount for day, amount, _ in payments[bill_id] if _iso(day) <= owing_on]):
                owing = True
                break
        if not owing:
            return False
    if paid_since is not None:
        return any(_iso(day) >= paid_since for bill in bills for day, _amount, _ in payments[bill[0]])
    return True


def export_lines(session_factory: Callable[[], Session], after: str = "", district: Optional[str] = None,
                 owing_on: Optional[dt.date] = None, paid_since: Optional[dt.date] = None) -> Iterator[bytes]:
    """The whole export, one chunk of accounts per yield. Each chunk is read in a session of its
    own (keyset paging, as the pages): the stream never holds a transaction open while it waits
    for a slow client. An error raises and cuts the stream, so the client sees no trailer."""
    owing = owing_on.isoformat() if owing_on is not None else None
    since = paid_since.isoformat() if paid_since is not None else None
    filtered = owing is not None or since is not None
    count = 0
    while True:
        with session_factory() as session:
            chunk = crud.export_chunk(session, after=after, limit=CHUNK, district=district)
        if not chunk.accounts:
            break
        lines = [account_line(row, chunk.bills[row[0]], chunk.payments) for row in chunk.accounts
                 if not filtered or _wanted(chunk.bills[row[0]], chunk.payments, owing, since)]
        count += len(lines)
        if lines:
            yield ("\n".join(lines) + "\n").encode()
        if len(chunk.accounts) < CHUNK:
            break
        after = chunk.accounts[-1][0]
    yield (trailer(count) + "\n").encode()
