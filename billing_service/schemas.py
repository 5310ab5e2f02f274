"""The API's JSON shapes (the contract in docs/billing_api.md) and the seed file's.

Amounts are strings with exactly two decimals ("2509.00") so that no client
ever parses money as a float.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, field_validator

MONEY_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"
ACCOUNT_NO_PATTERN = r"^[0-9]{8,10}$"

Money = Annotated[
    Decimal,
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["2509.00"]}),
]


class ErrorOut(BaseModel):
    """Every error the API returns has this shape."""

    code: str = Field(description="machine-readable: account_not_found, validation_error, not_found, internal_error, …")
    message: str = Field(description="human-readable English explanation")
    errors: Optional[list[dict[str, Any]]] = Field(
        default=None, description="for validation_error: where and why (loc, msg, type)"
    )


class PaymentOut(BaseModel):
    date: dt.date = Field(description="day the payment was credited (YYYY-MM-DD)")
    amount: Money = Field(description="yuan, two decimals")
    channel: str = Field(description="wechat, alipay, bank, counter, …", examples=["wechat"])


class BillOut(BaseModel):
    season: str = Field(description="heating season, e.g. 2024-2025", examples=["2024-2025"])
    principal: Money = Field(description="the season's heating fee (热费) in yuan")
    due_date: dt.date = Field(description="last day to pay without a late fee; fees accrue from the next day")
    payments: list[PaymentOut] = Field(description="payments credited to this bill, oldest first")


class AccountOut(BaseModel):
    account_no: str = Field(description="户号, 8–10 digits", examples=["2024000001"])
    holder: str = Field(description="account holder (户主); the bot masks it when it replies")
    phone_masked: str = Field(description="phone on file, masked: 138****5678; the full number is never returned")
    address: str
    district: str = Field(description="district (区), e.g. 南岗区")
    area_m2: Money = Field(description="billed heating area in square metres")
    bills: list[BillOut] = Field(description="bills by due date, oldest first")


class AccountPageOut(BaseModel):
    accounts: list[AccountOut] = Field(description="accounts ordered by account_no, with bills and payments")
    next_after: Optional[str] = Field(
        description="pass as `after` for the next page; null on the last page", examples=["2024000500"]
    )


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone_last4: str = Field(pattern=r"^[0-9]{4}$", description="last four digits of the phone on file", examples=["5678"])


class VerifyOut(BaseModel):
    verified: bool


class DistrictArrearsOut(BaseModel):
    district: str
    households: int = Field(description="households (accounts) in the district")
    households_in_arrears: int = Field(description="households owing principal or late fee on a bill past its due date")
    bills_in_arrears: int
    unpaid_principal: Money = Field(description="unpaid principal of bills past their due date")
    late_fees: Money = Field(description="late fees accrued as of the day, per bill capped and rounded")
    total_owed: Money = Field(description="unpaid_principal + late_fees")
    credit_warnings: int = Field(description="households with a bill unpaid more than the warning threshold (征信)")


class ArrearsReportOut(BaseModel):
    as_of: dt.date
    rate: str = Field(description="daily late-fee rate used", examples=["0.001"])
    rule_start: dt.date = Field(description="no day before this accrues")
    cap_ratio: str = Field(description="late fee cap as a ratio of the principal", examples=["1.0"])
    districts: list[DistrictArrearsOut]
    total: DistrictArrearsOut = Field(description="all districts together (district = 合计)")


# -- seed file (BILLING_SEED_FILE) --------------------------------------------

SeedMoney = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class SeedPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date
    amount: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]
    channel: str = Field(min_length=1, max_length=20)


class SeedBill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    season: str = Field(pattern=r"^[0-9]{4}-[0-9]{4}$")
    principal: SeedMoney
    due_date: dt.date
    payments: list[SeedPayment] = Field(default_factory=list)

    @field_validator("season")
    @classmethod
    def _consecutive_years(cls, value: str) -> str:
        first, second = value.split("-")
        if int(second) != int(first) + 1:
            raise ValueError("season must span two consecutive years, e.g. 2024-2025")
        return value


class SeedAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    holder: str = Field(min_length=1, max_length=100)
    phone: str = Field(pattern=r"^1[0-9]{10}$", description="11-digit mobile number")
    address: str = Field(min_length=1, max_length=200)
    district: str = Field(min_length=1, max_length=50)
    area_m2: SeedMoney
    bills: list[SeedBill] = Field(default_factory=list)

    @field_validator("bills")
    @classmethod
    def _one_bill_per_season(cls, bills: list[SeedBill]) -> list[SeedBill]:
        seasons = [bill.season for bill in bills]
        if len(seasons) != len(set(seasons)):
            raise ValueError("an account has at most one bill per season")
        return bills


class SeedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accounts: list[SeedAccount]

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(cls, accounts: list[SeedAccount]) -> list[SeedAccount]:
        counts = Counter(account.account_no for account in accounts)
        duplicates = sorted(number for number, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate account_no: {', '.join(duplicates)}")
        return accounts
