"""Numbered choices: how bot buttons work on WeChat, whose text messages have none.

The titles are shown as "1. …", "2. …" under the text, and the payloads stay on
the server, so a reply "1" is mapped back to what the bot offered, never to
anything the client could choose. The offer is used up by the next message,
whatever it is: an old "1" later in the conversation is just text again.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from typing import Any, Callable, Dict, List

from redis.asyncio import Redis
from redis.exceptions import RedisError

from heatdesk_contract.masking import mask_id

logger = logging.getLogger(__name__)

#: How long a resident can answer numbered choices with their digit.
CHOICES_TTL_SECONDS = 30 * 60


def numbered(text: str, buttons: List[Dict[str, Any]]) -> List[str]:
    """The lines of one text message: the text, then the button titles numbered from 1."""
    return [text] + [f"{index}. {button.get('title', '')}" for index, button in enumerate(buttons, start=1)]


def payloads_of(buttons: List[Dict[str, Any]]) -> List[str]:
    return [str(button.get("payload") or button.get("title") or "") for button in buttons]


class NumberedChoices:
    """The last offer per conversation, in Redis (`key_of(conversation)`), until the next message."""

    def __init__(self, redis: Callable[[], Redis], key_of: Callable[[str], str]) -> None:
        self._redis = redis
        self._key_of = key_of

    async def remember(self, conversation: str, payloads: List[str]) -> None:
        """Keeps what "1", "2", … mean for this conversation."""
        try:
            await self._redis().set(
                self._key_of(conversation), json.dumps(payloads, ensure_ascii=False), ex=CHOICES_TTL_SECONDS
            )
        except RedisError as error:
            logger.error("wechat.choices.not_saved user=%s error=%s", mask_id(conversation), type(error).__name__)

    async def forget(self, conversation: str) -> None:
        """Withdraws the last offer: a question answered by a plain digit follows (the rating)."""
        try:
            await self._redis().delete(self._key_of(conversation))
        except RedisError as error:
            logger.error("wechat.choices.not_forgotten user=%s error=%s", mask_id(conversation), type(error).__name__)

    async def resolve(self, conversation: str, text: str) -> str:
        """A digit answering the last offer becomes the offered payload; anything else stays text."""
        key = self._key_of(conversation)
        try:
            async with self._redis().pipeline(transaction=True) as pipe:
                stored, _ = await pipe.get(key).delete(key).execute()
        except RedisError as error:
            logger.error("wechat.choices.unavailable user=%s error=%s", mask_id(conversation), type(error).__name__)
            return text
        if not stored:
            return text
        answer = unicodedata.normalize("NFKC", text).strip().rstrip(".。、")
        try:
            payloads = [str(item) for item in json.loads(stored)]
        except (ValueError, TypeError):
            return text
        if answer.isdecimal() and 1 <= int(answer) <= len(payloads):
            return payloads[int(answer) - 1]
        return text
