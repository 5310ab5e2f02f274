"""Data access: the only module that queries the tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from sqlalchemy import BigInteger, Row, String, delete, select, type_coerce
from sqlalchemy.orm import Session, selectinload

from billing_service.models import Account, Bill, Payment
from billing_service.schemas import SeedFile


def get_account(session: Session, account_no: str) -> Optional[Account]:
    """One account with its bills and payments loaded (no lazy loads after the session closes)."""
    statement = (
        select(Account)
        .where(Account.account_no == account_no)
        .options(selectinload(Account.bills).selectinload(Bill.payments))
    )
    return session.scalars(statement).one_or_none()


def get_phone(session: Session, account_no: str) -> Optional[str]:
    return session.scalar(select(Account.phone).where(Account.account_no == account_no))


def all_accounts(session: Session) -> Sequence[Account]:
    """Every account with bills and payments, for reports."""
    statement = (
        select(Account)
        .order_by(Account.district, Account.account_no)
        .options(selectinload(Account.bills).selectinload(Bill.payments))
    )
    return session.scalars(statement).all()


@dataclass
class AccountPage:
    """One page of accounts as plain rows (no ORM objects: bulk reads must stay cheap)."""

    accounts: list[Row[Any]]
    bills: dict[str, list[Row[Any]]]
    payments: dict[int, list[Row[Any]]]


def page_of_accounts(session: Session, *, after: str = "", limit: int, district: Optional[str] = None) -> AccountPage:
    """Up to ``limit`` accounts ordered by number after ``after`` (keyset paging: stable while rows
    change), with their bills and payments in two more range queries instead of IN lists."""
    statement = (
        select(Account.account_no, Account.holder, Account.phone, Account.address, Account.district, Account.area_m2)
        .where(Account.account_no > after)
        .order_by(Account.account_no)
        .limit(limit)
    )
    if district is not None:
        statement = statement.where(Account.district == district)
    accounts = list(session.execute(statement))
    page = AccountPage(accounts, {row.account_no: [] for row in accounts}, {})
    if not accounts:
        return page
    in_range = (Bill.account_no > after) & (Bill.account_no <= accounts[-1].account_no)
    for bill in session.execute(
        select(Bill.id, Bill.account_no, Bill.season, Bill.principal, Bill.due_date)
        .where(in_range).order_by(Bill.due_date, Bill.id)
    ):
        if bill.account_no in page.bills:
            page.bills[bill.account_no].append(bill)
            page.payments[bill.id] = []
    for payment in session.execute(
        select(Payment.bill_id, Payment.paid_on, Payment.amount, Payment.channel)
        .join(Bill, Bill.id == Payment.bill_id).where(in_range).order_by(Payment.paid_on, Payment.id)
    ):
        if payment.bill_id in page.payments:
            page.payments[payment.bill_id].append(payment)
    return page


@dataclass
class ExportChunk:
    """Up to ``limit`` accounts as raw tuples for the NDJSON export: money in integer fen and dates
    as the driver gives them (ISO text on SQLite, ``date`` on PostgreSQL), so that no Decimal, no
    date and no ORM row is built for 100 000 households only to be turned back into text."""

    accounts: list[tuple[Any, ...]]  # account_no, holder, phone, address, district, area_fen
    bills: dict[str, list[tuple[Any, ...]]]  # account_no → [(bill id, season, principal_fen, due_date)]
    payments: dict[int, list[tuple[Any, ...]]]  # bill id → [(paid_on, amount_fen, channel)]


def export_chunk(session: Session, *, after: str = "", limit: int, district: Optional[str] = None) -> ExportChunk:
    """The rows of ``page_of_accounts`` (same keyset, same order), read through Core without type
    processing: the bulk export streams every household, and per-row conversions were most of its cost."""
    connection = session.connection()
    statement = (
        select(Account.account_no, Account.holder, Account.phone, Account.address, Account.district,
               type_coerce(Account.area_m2, BigInteger))
        .where(Account.account_no > after)
        .order_by(Account.account_no)
        .limit(limit)
    )
    if district is not None:
        statement = statement.where(Account.district == district)
    accounts = [tuple(row) for row in connection.execute(statement)]
    chunk = ExportChunk(accounts, {row[0]: [] for row in accounts}, {})
    if not accounts:
        return chunk
    in_range = (Bill.account_no > after) & (Bill.account_no <= accounts[-1][0])
    for bill_id, account_no, season, principal, due_date in connection.execute(
        select(Bill.id, Bill.account_no, Bill.season, type_coerce(Bill.principal, BigInteger),
               type_coerce(Bill.due_date, String))
        .where(in_range).order_by(Bill.due_date, Bill.id)
    ):
        bills = chunk.bills.get(account_no)
        if bills is not None:
            bills.append((bill_id, season, principal, due_date))
            chunk.payments[bill_id] = []
    for bill_id, paid_on, amount, channel in connection.execute(
        select(Payment.bill_id, type_coerce(Payment.paid_on, String), type_coerce(Payment.amount, BigInteger),
               Payment.channel)
        .join(Bill, Bill.id == Payment.bill_id).where(in_range).order_by(Payment.paid_on, Payment.id)
    ):
        payments = chunk.payments.get(bill_id)
        if payments is not None:
            payments.append((paid_on, amount, channel))
    return chunk


def replace_all(session: Session, seed: SeedFile) -> int:
    """Replace every account, bill and payment by the seed's, in the caller's transaction."""
    session.execute(delete(Payment))
    session.execute(delete(Bill))
    session.execute(delete(Account))
    for item in seed.accounts:
        account = Account(
            account_no=item.account_no,
            holder=item.holder,
            phone=item.phone,
            address=item.address,
            district=item.district,
            area_m2=item.area_m2,
        )
        for bill_item in item.bills:
            bill = Bill(season=bill_item.season, principal=bill_item.principal, due_date=bill_item.due_date)
            bill.payments = [
                Payment(paid_on=p.date, amount=p.amount, channel=p.channel) for p in bill_item.payments
            ]
            account.bills.append(bill)
        session.add(account)
    session.flush()
    return len(seed.accounts)
