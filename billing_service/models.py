"""Tables: accounts (户), bills (one per heating season), payments.

Money is stored as integer fen (BIGINT): exact on every database, SQLite
included, which has no real decimal type. The ORM hands out ``Decimal``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

FEN = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    """``Decimal`` yuan in Python, integer fen in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Optional[Decimal], dialect: Dialect) -> Optional[int]:
        if value is None:
            return None
        fen = Decimal(value) * 100
        if fen != fen.to_integral_value():
            raise ValueError(f"amount {value} has fractions of a fen")
        return int(fen)

    def process_result_value(self, value: Optional[Any], dialect: Dialect) -> Optional[Decimal]:
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(FEN)


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    account_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(50), index=True)
    area_m2: Mapped[Decimal] = mapped_column(Money)

    bills: Mapped[list["Bill"]] = relationship(
        back_populates="account",
        cascade="all, delete-orphan",
        order_by="Bill.due_date",
        passive_deletes=True,
    )


class Bill(Base):
    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("account_no", "season", name="uq_bills_account_season"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_no: Mapped[str] = mapped_column(ForeignKey("accounts.account_no", ondelete="CASCADE"), index=True)
    season: Mapped[str] = mapped_column(String(9))
    principal: Mapped[Decimal] = mapped_column(Money)
    due_date: Mapped[dt.date] = mapped_column(Date)

    account: Mapped[Account] = relationship(back_populates="bills")
    payments: Mapped[list["Payment"]] = relationship(
        back_populates="bill",
        cascade="all, delete-orphan",
        order_by=lambda: (Payment.paid_on, Payment.id),
        passive_deletes=True,
    )


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id", ondelete="CASCADE"), index=True)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    channel: Mapped[str] = mapped_column(String(20))

    bill: Mapped[Bill] = relationship(back_populates="payments")
