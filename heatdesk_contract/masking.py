"""Masking of personal data in replies, tickets and logs (DESIGN.md: 138****5678, 张*).

One behaviour for the bot, the console and the billing service: a resident recognises their
own number or name, nobody can call or address them with it.
"""

from __future__ import annotations

import re
from typing import Optional

_PHONE = re.compile(r"(?<!\d)(1\d{2})\d{4}(\d{4})(?!\d)")
# 居民身份证号: 17 digits and a check digit (0-9 or X); an 8-10 digit 户号 never matches.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_NOT_DIGIT = re.compile(r"\D")


def mask_name(name: Optional[str]) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***; nothing → ""."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: Optional[str]) -> str:
    """13800005678 → 138****5678 (a landline too: first three and last four digits).

    An already masked number is returned as it is; a number of fewer than 7 digits shows none;
    nothing → "".
    """
    phone = (phone or "").strip()
    if not phone or "*" in phone:
        return phone
    digits = _NOT_DIGIT.sub("", phone)
    if len(digits) < 7:
        return "****"
    return digits[:3] + "****" + digits[-4:]


def mask_text(text: Optional[str]) -> str:
    """Masks every mobile number and ID-card number inside free text (logs, tickets, the console).

    Only the resident's own channel shows what they typed unmasked.
    """
    text = _ID_NUMBER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text or "")
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def mask_id(native: Optional[str]) -> str:
    """For logs: an OpenID or a sender id shortened, so a log line cannot be replayed as an identity."""
    native = native or ""
    if len(native) <= 8:
        return "*" * len(native)
    return f"{native[:4]}…{native[-2:]}"


def mask_account(account_no: Optional[str]) -> str:
    """2024000004 → 2024****04: enough for a resident to recognise the household, not to reuse it."""
    account_no = (account_no or "").strip()
    if len(account_no) < 7:
        return "****"
    return account_no[:4] + "*" * (len(account_no) - 6) + account_no[-2:]
