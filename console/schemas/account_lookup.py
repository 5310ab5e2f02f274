"""What the agent's account lookup takes and answers (POST /api/tickets/{no}/account-lookup)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from console.schemas.tickets import TicketOut

Verification = Literal["verified", "tail_mismatch", "no_tail"]


class AccountLookupRequest(BaseModel):
    """The 户号 as the resident typed it (full-width digits and spaces are read as digits)."""

    account_no: str = Field(min_length=1, max_length=40, examples=["2024000003"],
                            description="8 to 10 digits after full-width forms and spaces are folded")


class AccountLookupOut(BaseModel):
    """The household the agent looked up, and how far it is proven."""

    account_no: str
    verified: bool = Field(description="the resident gave the phone tail on file in this conversation")
    verification: Verification = Field(description="verified | tail_mismatch (the tail the resident gave "
                                       "does not match) | no_tail (the resident gave none: 未验证)")
    phone_tail: str | None = Field(description="the tail taken from the resident's messages, if any")
    account: dict[str, Any] = Field(description="masked holder and phone, address, bills with late fees "
                                    "and payments (as GET /account shows a verified account)")
    ticket: TicketOut
