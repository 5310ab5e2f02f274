"""The "pay now" link of a household for a channel, from the city file's ``payment.pay_url``.

Shared by the bot's balance answers and the console's reminders, so both hand
the resident the same link (the WeChat pay page in WeChat, the H5 page elsewhere).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional
from urllib.parse import quote


def pay_url(payment: Mapping[str, Any], channel: str, account_no: str) -> Optional[str]:
    """The link with the account number filled in; None when the company configured none."""
    urls = payment.get("pay_url")
    if isinstance(urls, str):
        template: Any = urls
    elif isinstance(urls, Mapping):
        template = urls.get(channel) or urls.get("default")
    else:
        return None
    if not isinstance(template, str) or not template:
        return None
    return template.replace("{account_no}", quote(account_no, safe=""))
