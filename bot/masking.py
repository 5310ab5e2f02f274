"""Masking of personal data in replies and logs (DESIGN.md: 138****5678, 张*)."""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1\d{2})\d{4}(\d{4})(?!\d)")


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str) -> str:
    """13800005678 → 138****5678; an already masked number is returned as it is."""
    phone = (phone or "").strip()
    if "*" in phone:
        return phone
    if len(phone) >= 7:
        return phone[:3] + "****" + phone[-4:]
    return "****"


def mask_text(text: str) -> str:
    """Masks every mobile number inside free text (for logs and ticket summaries)."""
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text or "")


def mask_account(account_no: str) -> str:
    """2024000004 → 2024****04: enough for a resident to recognise the household, not to reuse it."""
    account_no = (account_no or "").strip()
    if len(account_no) < 7:
        return "****"
    return account_no[:4] + "*" * (len(account_no) - 6) + account_no[-2:]
