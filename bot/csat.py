"""The satisfaction question after an agent resolved a ticket (issue 15), in one place.

Asking: once the delivery worker has told the resident that their ticket is resolved, it calls
:func:`begin` (the conversation now waits for a rating, ``csat_pending``, for
``CSAT_WINDOW_MINUTES``) and delivers the :class:`CsatQuestion` through the resident's own channel:
the widget shows the scores as quick-reply buttons, WeChat (no buttons there) as numbered text
("回复1-5为本次服务评分"), REST as the same text with buttons.

Answering: the handoff router, in front of every channel, reads the pending rating together with
the owner (no extra round trip) and hands the next message to :func:`settle` first. A score 1–5
is recorded once — one Lua script checks and deletes the pending key and appends the
``TicketCsat`` to the tickets stream, so a repeated "5" or two racing ones count once — and
thanked; any other message ends the wait and goes to the bot as usual, so a resident who ignores
the question is never stuck. The rating and the thanks do not reach Rasa's tracker (the router
has no Rasa agent); the console records the rating in the ticket's history.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from rasa.core.channels.channel import UserMessage
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import messages
from bot.redis_client import run_script
from bot.settings import get_settings, redis_keys
from heatdesk_contract.digits import normalize_digits
from heatdesk_contract.masking import mask_id
from heatdesk_contract.owner import Owner
from heatdesk_contract.streams import TicketCsat, TicketResolved

logger = logging.getLogger(__name__)

#: A re-read resolve notice (a crash, a Redis failover) within this long asks no second time.
ASKED_SECONDS = 7 * 24 * 3600
SCORES = (5, 4, 3, 2, 1)
#: "5", "５", "5分", "5。": the whole message is the score (a 户号 or a date is not).
_SCORE = re.compile(r"^([1-5])\s*分?$")
_TRAILING = ".。!！、,，~～ "

#: KEYS: pending, tickets stream; ARGV: the ticket it must still name, then the entry's fields.
_RECORD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
return 1
"""


@dataclass(frozen=True)
class CsatQuestion:
    """The question as a deliverable: made on the Rasa side, delivered like an outbox entry."""

    ticket_no: str
    conversation_id: str
    channel: str

    @property
    def message_id(self) -> str:
        """One question per ticket: channels drop a copy they already sent."""
        return f"csat:{self.ticket_no}"

    @property
    def text(self) -> str:
        """The question with the scores as numbered lines (WeChat, REST)."""
        options = "\n".join(messages.CSAT_OPTION.format(score=s, label=messages.CSAT_LABELS[s]) for s in SCORES)
        return messages.CSAT_QUESTION.format(options=options)

    @property
    def button_text(self) -> str:
        """The question above buttons that carry the scores (widget)."""
        return messages.CSAT_QUESTION_BUTTONS

    @property
    def buttons(self) -> List[Dict[str, str]]:
        """Rasa's button shape: the title shown, the digit sent."""
        return [{"title": messages.CSAT_OPTION.format(score=s, label=messages.CSAT_LABELS[s]), "payload": str(s)}
                for s in SCORES]


def rating_of(text: Optional[str]) -> Optional[int]:
    """The score a message gives (1–5: a digit, "5分", or the label, e.g. 非常满意), else None."""
    folded = normalize_digits(text or "").strip().rstrip(_TRAILING).strip()
    found = _SCORE.match(folded)
    if found:
        return int(found.group(1))
    for score in SCORES:
        label = messages.CSAT_LABELS[score]
        if folded in (label, messages.CSAT_OPTION.format(score=score, label=label)):
            return score
    return None


async def begin(redis: Redis, entry: TicketResolved) -> Optional[CsatQuestion]:
    """The question to ask after this resolve notice, the conversation now waiting for it; None
    when no rating is wanted (nobody answered the resident, the window is 0) or it was asked."""
    window = get_settings().csat_window_minutes
    if not entry.ask_csat or window <= 0 or not entry.ticket_no:
        return None
    keys = redis_keys()
    if not await redis.set(keys.csat_asked(entry.ticket_no), "1", nx=True, ex=ASKED_SECONDS):
        return None
    await redis.set(keys.csat_pending(entry.conversation_id), entry.ticket_no, ex=window * 60)
    return CsatQuestion(entry.ticket_no, entry.conversation_id, entry.channel)


async def cancel(redis: Redis, question: CsatQuestion) -> None:
    """The question could not be delivered: the resident's next "1" is not a rating."""
    await redis.delete(redis_keys().csat_pending(question.conversation_id))


async def settle(redis: Redis, message: UserMessage, ticket_no: str, owner: Owner) -> bool:
    """True when `message` was the rating (recorded and thanked); otherwise the wait is over and
    the message goes on to its owner. Redis failing here never costs the resident an answer."""
    pending = redis_keys().csat_pending(message.sender_id)
    score = rating_of(message.text) if not owner.is_agent else None
    try:
        if score is None:
            await redis.delete(pending)
            return False
        entry = TicketCsat(ticket_no=ticket_no, score=score, idempotency_key=f"csat:{ticket_no}")
        fields: List[Any] = [part for pair in entry.to_fields().items() for part in pair]
        recorded = await run_script(redis, _RECORD, [pending, redis_keys().tickets_stream()], [ticket_no, *fields])
    except RedisError as error:
        logger.error("csat.unavailable conversation=%s error=%s", mask_id(message.sender_id), type(error).__name__)
        return False
    if not recorded:  # a second "5" racing the first: the bot answers it
        return False
    logger.info("csat.recorded ticket=%s score=%s", ticket_no, score)
    thanks = messages.CSAT_THANKS_LOW if score <= 2 else messages.CSAT_THANKS
    if message.output_channel is not None:
        await message.output_channel.send_response(message.sender_id, {"text": thanks})
    return True
