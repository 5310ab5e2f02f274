"""Identity before money: 户号 + the last four digits of the phone on file.

Every try is counted before billing is asked (`actions.lockout`: per account and
conversation, per account overall, per conversation, per client address), and an
unknown 户号 gets the same answer as a wrong tail — the 户号 alone is never looked
up, so the bot is no account-existence oracle.
A verification holds for the current session only: it is remembered in Redis
under the conversation id with an idle timeout (`identity.session_idle_minutes`
in config/city.yml, 30 by default) and the slot does not carry over into a new
Rasa session. A WeChat user who passed once is bound (OpenID → account) until
they send「解绑」; only conversations of the WeChat channel read that binding.
A widget session that passed is bound too, but only so that reminder notices can
wait for it (console/reminders); no answer ever reads that binding.
When the check cannot go on (locked, billing down) both slots are filled with a
sentinel and `identity_outcome` says why, so the form ends normally and
`action_billing_query` reports instead of looping.

Residents can leave the form: a message that carries no number and is another
question is not taken as a 户号 (the extraction below leaves it, the form is rejected
and a rule answers it); when the form resumes after such an answer and the resident
had said "算了不查了", the check ends (outcome `cancelled`). Digits are read through
`actions.digits.normalize_digits` (full-width, spaced, dashed, Chinese numerals).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from redis.exceptions import RedisError

from actions import lockout
from actions.common import ACCOUNT_RE, LAST4_RE, billing, latest_intent
from actions.digits import normalize_digits
from billing_client.client import AccountNotFound, BillingError, BillingRequestError
from bot.conversation import CLIENT_METADATA_KEY, ForeignConversation, native_id
from bot.redis_client import get_redis
from bot.settings import city, redis_keys
from heatdesk_contract.masking import mask_name
from heatdesk_contract.notices import WIDGET_NOTICE_TTL_SECONDS

logger = logging.getLogger(__name__)

STOPPED = "-"  # slot sentinel: the check ended without a verified account

VERIFIED = "verified"
LOCKED = "locked"
UNAVAILABLE = "unavailable"
CANCELLED = "cancelled"

#: Intents of a message that answers the form's question even without a valid number in it
#: (it is then validated and gets the format hint); any other intent interrupts the form
#: (a message not understood gets utter_default and the question again, see rules.yml).
ANSWER_INTENTS = frozenset({"inform"})
#: Actions that start the form: a message they ran for is still the form's first input.
FORM_STARTERS = frozenset({"action_billing_query"})
_FORM_MACHINERY = frozenset({"action_listen", "action_extract_slots", "identity_form", "validate_identity_form"})
#: How residents say they no longer want the check ("算了不查了，暖气费多少钱一平").
CANCEL_MARKERS = ("算了", "不查了", "不用查", "别查了", "先不查", "不想查", "不查啦", "不用了")

WECHAT = "wechat"
WIDGET = "widget"


def _stop(outcome: str) -> Dict[Text, Any]:
    return {"account_no": STOPPED, "phone_last4": STOPPED, "identity_outcome": outcome}


def session_idle_seconds() -> int:
    return int((city().get("identity") or {}).get("session_idle_minutes", 30)) * 60


def client_of(tracker: Tracker) -> str:
    """The client address the channel put in the metadata; the conversation when none."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    client = metadata.get(CLIENT_METADATA_KEY) if isinstance(metadata, dict) else None
    return str(client) if client else f"conversation:{tracker.sender_id}"


async def remember_verified(conversation: str, account_no: str) -> None:
    """Adds the account to this conversation's proven set (a resident may check several households)."""
    key = redis_keys().identity_session(conversation)
    pipe = get_redis().pipeline(transaction=True)
    pipe.sadd(key, account_no)
    pipe.expire(key, session_idle_seconds())
    await pipe.execute()


async def session_verified(tracker: Tracker, account_no: Optional[str]) -> bool:
    """Whether this conversation proved `account_no` and is not idle for too long (touching it).

    A slot is only a claim in a tracker; the Redis set is what the identity check wrote, and it
    expires when the conversation is idle.
    """
    if not account_no or account_no == STOPPED:
        return False
    key = redis_keys().identity_session(tracker.sender_id)
    try:
        redis = get_redis()
        if not await redis.sismember(key, account_no):
            return False
        await redis.expire(key, session_idle_seconds())
        return True
    except RedisError:
        logger.error("Redis unreachable: verified identity not read")
        return False


async def session_account(tracker: Tracker) -> Optional[str]:
    """The account verified in this session (the slot does not carry into a new session)."""
    claimed = tracker.get_slot("verified_account")
    return str(claimed) if await session_verified(tracker, claimed) else None


async def bind_wechat(openid: str, account_no: str) -> None:
    await get_redis().set(redis_keys().wechat_binding(openid), account_no)


async def bind_widget(session_id: str, account_no: str) -> None:
    """Lets reminder notices for this household wait for this widget session (never money answers)."""
    await get_redis().set(redis_keys().widget_binding(session_id), account_no, ex=WIDGET_NOTICE_TTL_SECONDS)


async def bound_account(tracker: Tracker) -> Optional[str]:
    """The account a WeChat OpenID was bound to; only for conversations of the WeChat channel."""
    try:
        openid = native_id(WECHAT, tracker.sender_id)
    except ForeignConversation:
        return None
    try:
        return await get_redis().get(redis_keys().wechat_binding(openid))
    except RedisError:
        logger.error("Redis unreachable: WeChat binding not read")
        return None


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def answered_since_user(tracker: Tracker) -> bool:
    """True when another action already answered the latest message (the form resumes)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        name = event.get("name")
        if event.get("event") == "action" and name not in _FORM_MACHINERY and name not in FORM_STARTERS:
            return True
    return False


def held_before_message(tracker: Tracker, slot: str) -> Optional[str]:
    """The value `slot` had when the latest message arrived (the tracker given to a validation
    method already holds what was extracted from that message)."""
    value: Optional[str] = None
    held: Optional[str] = None
    for event in tracker.events:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
        elif event.get("event") == "user":
            held = value
    return held


async def verified_account(tracker: Tracker) -> Optional[str]:
    """The account this conversation may see: this session's check, or a WeChat binding."""
    return await session_account(tracker) or await bound_account(tracker)


class ValidateIdentityForm(FormValidationAction):
    """Validates the 户号 and the phone tail against the billing system."""

    def name(self) -> Text:
        return "validate_identity_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Ends the check when the form resumes after a question the resident asked instead."""
        if answered_since_user(tracker) and any(marker in latest_text(tracker) for marker in CANCEL_MARKERS):
            dispatcher.utter_message(response="utter_identity_cancelled")
            return [SlotSet(slot, value) for slot, value in _stop(CANCELLED).items()] + [
                SlotSet("requested_slot", None)
            ]
        return await super().run(dispatcher, tracker, domain)

    async def extract_account_no(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A 户号 anywhere in a new message (also a correction while the tail is asked)."""
        if answered_since_user(tracker):
            return {}
        text = normalize_digits(latest_text(tracker))
        found = ACCOUNT_RE.search(text)
        if found is not None:
            return {"account_no": found.group(1)}
        if tracker.get_slot("requested_slot") == "account_no" and latest_intent(tracker) in ANSWER_INTENTS:
            return {"account_no": text}
        return {}

    async def extract_phone_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if answered_since_user(tracker) or tracker.get_slot("requested_slot") != "phone_last4":
            return {}
        text = normalize_digits(latest_text(tracker))
        if ACCOUNT_RE.search(text):
            return {}  # a corrected 户号: extract_account_no takes it, the tail is asked again
        found = LAST4_RE.search(text)
        if found is not None:
            return {"phone_last4": found.group(1)}
        if latest_intent(tracker) in ANSWER_INTENTS:
            return {"phone_last4": text}
        return {}

    async def validate_account_no(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        found = ACCOUNT_RE.search(normalize_digits(str(slot_value or "")))
        held = held_before_message(tracker, "account_no")
        if found is None and tracker.get_slot("requested_slot") == "phone_last4" and held and held != STOPPED:
            # The model read part of a typed tail ("56 78") as a 户号 entity: the 户号 already
            # given stands and the tail is validated on its own.
            return {"account_no": held}
        if found is None:
            dispatcher.utter_message(response="utter_account_format")
            return {"account_no": None}
        account_no = found.group(1)
        # "户号2024000001 尾号5678" in one message: check the tail at once.
        rest = normalize_digits(latest_text(tracker)).replace(account_no, " ")
        tail = LAST4_RE.search(rest)
        return await self._check(account_no, tail.group(1) if tail else None, dispatcher, tracker)

    async def validate_phone_last4(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        account_no = tracker.get_slot("account_no")
        if not account_no or account_no == STOPPED:
            return {"phone_last4": None}
        tail = LAST4_RE.search(normalize_digits(str(slot_value or "")))
        if tail is None:
            dispatcher.utter_message(response="utter_phone_format")
            return {"phone_last4": None}
        return await self._check(account_no, tail.group(1), dispatcher, tracker)

    async def _check(
        self,
        account_no: str,
        tail: Optional[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> Dict[Text, Any]:
        if tail is None:
            return {"account_no": account_no}  # nothing looked up yet: no existence oracle
        conversation, client = tracker.sender_id, client_of(tracker)
        try:
            verdict = await lockout.begin(account_no, conversation, client)
            if verdict != lockout.GO:
                dispatcher.utter_message(
                    response="utter_identity_locked" if verdict == lockout.LOCKED else "utter_identity_too_many"
                )
                return _stop(LOCKED)
            try:
                matches = await billing().verify_phone(account_no, tail)
            except AccountNotFound:
                matches = False  # told exactly like a wrong tail
            except BillingError:
                await lockout.refund(account_no, conversation, client, verified=False)  # not their failure
                raise
            if not matches:
                remaining = await lockout.failed(account_no, conversation, client)
                if remaining <= 0:
                    logger.warning("Identity check locked for an account in one conversation")
                    dispatcher.utter_message(response="utter_identity_locked")
                    return _stop(LOCKED)
                dispatcher.utter_message(response="utter_phone_mismatch", remaining=remaining)
                return {"account_no": account_no, "phone_last4": None}
            await lockout.refund(account_no, conversation, client, verified=True)
            account = await billing().get_account(account_no)
            await remember_verified(conversation, account_no)
            if tracker.sender_id.startswith(WECHAT + ":"):
                await bind_wechat(native_id(WECHAT, conversation), account_no)
            elif tracker.sender_id.startswith(WIDGET + ":"):
                await bind_widget(native_id(WIDGET, conversation), account_no)
        except BillingRequestError:
            dispatcher.utter_message(response="utter_account_format")
            return {"account_no": None}
        except (BillingError, RedisError) as error:
            logger.error("Identity check unavailable: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_billing_unavailable")
            return _stop(UNAVAILABLE)

        dispatcher.utter_message(
            response="utter_identity_verified",
            holder=mask_name(account.holder),
            phone=account.phone_masked,
            address=account.address,
        )
        return {
            "account_no": account_no,
            "phone_last4": tail,
            "verified_account": account_no,
            "identity_outcome": VERIFIED,
        }
