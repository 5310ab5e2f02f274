"""Data access: the only module that queries the tables."""

from __future__ import annotations

from typing import Optional, Sequence

from sqlalchemy import delete, select
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


def page_of_accounts(
    session: Session, *, after: str = "", limit: int, district: Optional[str] = None
) -> Sequence[Account]:
    """Up to ``limit`` accounts ordered by number after ``after`` (keyset paging: stable while rows change)."""
    statement = (
        select(Account)
        .where(Account.account_no > after)
        .order_by(Account.account_no)
        .limit(limit)
        .options(selectinload(Account.bills).selectinload(Bill.payments))
    )
    if district is not None:
        statement = statement.where(Account.district == district)
    return session.scalars(statement).all()


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
