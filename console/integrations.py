"""The console's view of its neighbours: Rasa's tracker (transcripts) and the billing API.

Both are optional at run time: when Rasa or billing does not answer, the
console shows what it has and says so, instead of failing the request.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from billing_client.client import AccountNotFound, BillingClient, BillingError
from billing_client.rule import LateFeeInputError, LateFeePolicy, compute_late_fee

from console.schemas.metrics import ArrearsStats, DistrictArrears
from console.schemas.tickets import TranscriptItem
from console.settings import Settings
from heatdesk_contract import city as contract_city
from heatdesk_contract.masking import mask_name, mask_phone, mask_text
from heatdesk_contract.streams import parse_time

logger = logging.getLogger(__name__)

# Console and tracker copies of one message may be stamped a little apart.
_SAME_MESSAGE_WINDOW = dt.timedelta(minutes=5)


# --- Rasa tracker --------------------------------------------------------------------


def tracker_items(events: Iterable[Any]) -> list[TranscriptItem]:
    """User and bot turns of a Rasa tracker; agent replies recorded by the delivery worker
    carry ``metadata.agent`` and are shown as the agent's."""
    items: list[TranscriptItem] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        text = event.get("text")
        if kind not in ("user", "bot") or not isinstance(text, str) or not text.strip():
            continue
        metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
        agent_name = metadata.get("agent") if kind == "bot" else None
        items.append(
            TranscriptItem(
                sender="user" if kind == "user" else ("agent" if agent_name else "bot"),
                # Agents see phone and ID-card numbers masked; the resident's channel shows them.
                text=mask_text(text) if kind == "user" else text,
                ts=parse_time(event.get("timestamp")),
                agent_name=str(agent_name) if agent_name else None,
                source="rasa",
                message_id=str(metadata["message_id"]) if metadata.get("message_id") else None,
            )
        )
    return items


def fetch_tracker(settings: Settings, conversation_id: str) -> list[TranscriptItem] | None:
    """The conversation as Rasa recorded it, or None when Rasa cannot be asked."""
    # Rasa (Sanic) does not unquote path parameters: the channel prefix's colon goes as it is.
    url = f"{settings.rasa_base_url}/conversations/{quote(conversation_id, safe=':')}/tracker"
    params = {"token": settings.RASA_TOKEN.get_secret_value()} if settings.RASA_TOKEN else None
    try:
        response = httpx.get(url, params=params, timeout=min(settings.HTTP_TIMEOUT_SECONDS, 3.0))
    except httpx.HTTPError as exc:
        logger.info("Rasa tracker unavailable for a transcript (%s)", type(exc).__name__)
        return None
    if response.status_code != 200:
        logger.info("Rasa tracker answered HTTP %s for a transcript", response.status_code)
        return None
    try:
        data = response.json()
    except ValueError:
        logger.warning("Rasa tracker returned invalid JSON")
        return None
    events = data.get("events") if isinstance(data, dict) else None
    return tracker_items(events) if isinstance(events, list) else None


def summary_items(summary: dict[str, Any]) -> list[TranscriptItem]:
    """The last messages the bot attached to the ticket: the fallback bot-side transcript."""
    items: list[TranscriptItem] = []
    last = summary.get("last_messages")
    if not isinstance(last, list):
        return items
    for entry in last:
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            continue
        sender = entry.get("sender")
        items.append(
            TranscriptItem(
                sender="user" if sender == "user" else ("agent" if sender == "agent" else "bot"),
                text=mask_text(entry["text"]) if sender == "user" else entry["text"],
                ts=parse_time(entry.get("ts")),
                source="summary",
            )
        )
    return items


def merge_transcript(base: Sequence[TranscriptItem], console: Sequence[TranscriptItem]) -> list[TranscriptItem]:
    """Bot-side turns plus the console's own messages, each message once, in time order.

    A console message already on the tracker (same sender and text, close in
    time, or the same message_id) is not repeated; it lends the tracker item its id.
    """
    merged = list(base)
    for item in console:
        match = None
        for index, other in enumerate(merged):
            if other.source == "console":
                continue
            if item.message_id and other.message_id == item.message_id:
                match = index
                break
            if other.sender == item.sender and other.text.strip() == item.text.strip() and (
                other.ts is None or item.ts is None or abs(other.ts - item.ts) <= _SAME_MESSAGE_WINDOW
            ):
                match = index
                break
        if match is None:
            merged.append(item)
        else:
            existing = merged[match]
            merged[match] = existing.model_copy(
                update={"message_id": item.message_id, "agent_name": existing.agent_name or item.agent_name}
            )
    far_future = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    return sorted(merged, key=lambda entry: entry.ts or far_future)


# --- billing -------------------------------------------------------------------------


def late_fee_policy(settings: Settings) -> LateFeePolicy:
    """The city's late-fee rule (config/city.yml), as billing_client expects it."""
    return contract_city.late_fee_policy(settings.city())


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


async def account_panel(
    client: BillingClient, account_no: str, as_of: dt.date, policy: LateFeePolicy
) -> dict[str, Any]:
    """The account as the side panel shows it: masked holder and phone, bills with late fees."""
    account = await client.get_account(account_no)
    bills = []
    for bill in account.bills:
        entry: dict[str, Any] = {
            "season": bill.season,
            "principal": _money(bill.principal),
            "due_date": bill.due_date.isoformat(),
            "payments": [
                {"date": p.date.isoformat(), "amount": _money(p.amount), "channel": p.channel} for p in bill.payments
            ],
        }
        try:
            result = compute_late_fee(bill.principal, bill.due_date, as_of, bill.payments, policy)
        except LateFeeInputError as exc:
            entry["late_fee_error"] = str(exc)
        else:
            entry.update(
                paid=_money(result.paid),
                unpaid_principal=_money(result.unpaid_principal),
                late_fee=_money(result.late_fee),
                total_due=_money(result.total_due),
                overdue_days=result.overdue_days,
                capped=result.capped,
                credit_warning=result.credit_warning,
            )
        bills.append(entry)
    return {
        "account_no": account.account_no,
        "holder_masked": mask_name(account.holder),
        "phone_masked": mask_phone(account.phone_masked),  # already masked by the billing API: kept
        "address": account.address,
        "district": account.district,
        "area_m2": _money(account.area_m2),
        "as_of": as_of.isoformat(),
        "bills": bills,
    }


async def arrears_by_district(client: BillingClient, as_of: dt.date) -> ArrearsStats:
    """Arrears per district from the billing API; marked unavailable when it does not answer."""
    try:
        report = await client.arrears_by_district(as_of)
    except BillingError as exc:
        logger.info("billing arrears report unavailable: %s", type(exc).__name__)
        return ArrearsStats(available=False, as_of=as_of, items=[], error="The billing system did not answer.")
    items = [
        DistrictArrears(
            district=line.district,
            accounts=line.households_in_arrears,
            amount=_money(line.total_owed),
            unpaid_principal=_money(line.unpaid_principal),
            late_fees=_money(line.late_fees),
            households=line.households,
            credit_warnings=line.credit_warnings,
        )
        for line in report.districts
    ]
    return ArrearsStats(available=True, as_of=report.as_of, items=items)


__all__ = [
    "AccountNotFound",
    "BillingError",
    "account_panel",
    "arrears_by_district",
    "fetch_tracker",
    "late_fee_policy",
    "merge_transcript",
    "summary_items",
    "tracker_items",
]
