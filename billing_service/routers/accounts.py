"""Accounts: what the bot reads to answer balance and late-fee questions."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated, Optional

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, StreamingResponse

from billing_service import crud, export
from billing_service.deps import SessionDep, SessionFactoryDep
from billing_service.errors import ApiError
from billing_service.models import Account
from billing_service.schemas import (
    ACCOUNT_NO_PATTERN,
    AccountOut,
    AccountPageOut,
    BillOut,
    ErrorOut,
    PaymentOut,
    VerifyIn,
    VerifyOut,
)
from heatdesk_contract.masking import mask_phone

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])

AccountNo = Annotated[
    str,
    Path(pattern=ACCOUNT_NO_PATTERN, description="户号: 8 to 10 digits", examples=["2024000001"]),
]

_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut, "description": "no account with this number (code `account_not_found`)"},
    422: {"model": ErrorOut, "description": "malformed account number or body (code `validation_error`)"},
}


def _not_found(account_no: str) -> ApiError:
    return ApiError(404, "account_not_found", f"no account {account_no}")


def _account_out(account: Account) -> AccountOut:
    return AccountOut(
        account_no=account.account_no,
        holder=account.holder,
        phone_masked=mask_phone(account.phone),
        address=account.address,
        district=account.district,
        area_m2=account.area_m2,
        bills=[
            BillOut(
                season=bill.season,
                principal=bill.principal,
                due_date=bill.due_date,
                payments=[PaymentOut(date=p.paid_on, amount=p.amount, channel=p.channel) for p in bill.payments],
            )
            for bill in account.bills
        ],
    )


MAX_PAGE = 5000


@router.get(
    "",
    response_model=AccountPageOut,
    responses={422: _ERRORS[422]},
    summary="Accounts with their bills, page by page (bulk reads: reminders, reports)",
    description=(
        "Accounts ordered by account number, each with bills and payments exactly as "
        "`GET /api/v1/accounts/{account_no}` returns it. Page with `after` = the previous page's "
        "`next_after` (keyset paging: stable while accounts are added). `district` keeps one district. "
        f"At most {MAX_PAGE} accounts per page."
    ),
)
def list_accounts(
    session: SessionDep,
    after: Annotated[
        str, Query(pattern=r"^[0-9]{0,10}$", description="last account_no of the previous page; empty = first page")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")] = 1000,
    district: Annotated[Optional[str], Query(min_length=1, max_length=50, description="only this district")] = None,
) -> JSONResponse:
    # Built as plain JSON (same shape as AccountPageOut): validating 1000 nested models per page
    # through pydantic would triple the cost of the bulk read reminders depend on.
    page = crud.page_of_accounts(session, after=after, limit=limit, district=district)
    accounts = [
        {
            "account_no": row.account_no,
            "holder": row.holder,
            "phone_masked": mask_phone(row.phone),
            "address": row.address,
            "district": row.district,
            "area_m2": f"{row.area_m2:.2f}",
            "bills": [
                {
                    "season": bill.season,
                    "principal": f"{bill.principal:.2f}",
                    "due_date": bill.due_date.isoformat(),
                    "payments": [
                        {"date": p.paid_on.isoformat(), "amount": f"{p.amount:.2f}", "channel": p.channel}
                        for p in page.payments[bill.id]
                    ],
                }
                for bill in page.bills[row.account_no]
            ],
        }
        for row in page.accounts
    ]
    next_after = page.accounts[-1].account_no if len(page.accounts) == limit else None
    return JSONResponse({"accounts": accounts, "next_after": next_after})


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {export.MEDIA_TYPE: {}}, "description": "one account per line, then the trailer"},
               422: _ERRORS[422]},
    summary="Every account with its bills, streamed as NDJSON (bulk reads: reminder campaigns)",
    description=(
        "One JSON object per line, each exactly the object of `GET /api/v1/accounts/{account_no}`, ordered "
        "by account number; the last line is `{\"complete\":true,\"accounts\":N}` (N account lines were "
        "sent), so a client can tell a finished export from a cut one. `after` resumes after an account "
        "number (a client whose stream broke passes the last account it received); `district` keeps one "
        "district. `owing_on` keeps accounts with a bill not paid in full by payments dated on or before that "
        "day, `paid_since` accounts with a payment dated on or after that day (a reminder campaign asks only "
        "for the households it can concern). One request instead of a page per 500 households."
    ),
)
def export_accounts(
    sessions: SessionFactoryDep,
    after: Annotated[
        str, Query(pattern=r"^[0-9]{0,10}$", description="resume after this account_no; empty = from the first")
    ] = "",
    district: Annotated[Optional[str], Query(min_length=1, max_length=50, description="only this district")] = None,
    owing_on: Annotated[
        Optional[dt.date], Query(description="only accounts with a bill not paid in full by payments up to this day")
    ] = None,
    paid_since: Annotated[
        Optional[dt.date], Query(description="only accounts with a payment dated on or after this day")
    ] = None,
) -> StreamingResponse:
    lines = export.export_lines(sessions, after, district, owing_on, paid_since)
    return StreamingResponse(lines, media_type=export.MEDIA_TYPE)


@router.get(
    "/{account_no}",
    response_model=AccountOut,
    responses=_ERRORS,
    summary="An account with its bills and payments",
    description=(
        "Returns the household, its bills (one per heating season) and the payments credited to each. "
        "The phone number is masked. Late fees are not stored: clients compute them with the rule "
        "(docs/billing_api.md) as of the day they need."
    ),
)
def read_account(account_no: AccountNo, session: SessionDep) -> AccountOut:
    account = crud.get_account(session, account_no)
    if account is None:
        raise _not_found(account_no)
    return _account_out(account)


@router.post(
    "/{account_no}/verify",
    response_model=VerifyOut,
    responses=_ERRORS,
    summary="Check the last four digits of the phone on file",
    description=(
        "Identity check before the bot tells a balance. Answers only true or false; the comparison is "
        "constant-time. Lock-out after repeated failures is the caller's job."
    ),
)
def verify_phone(account_no: AccountNo, body: VerifyIn, session: SessionDep) -> VerifyOut:
    phone = crud.get_phone(session, account_no)
    if phone is None:
        raise _not_found(account_no)
    verified = hmac.compare_digest(phone[-4:].encode("ascii"), body.phone_last4.encode("ascii"))
    return VerifyOut(verified=verified)
