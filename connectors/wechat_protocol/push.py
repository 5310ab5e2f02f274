"""Customer-service messages (客服消息): what WeChat lets us send after the passive window.

A passive reply must be in the HTTP answer within 5 seconds; whatever the bot
says later, the rest of a long answer, and an agent's reply from the console go
out through the customer-service API instead, split to WeChat's 2048-byte limit.
`TurnMessages` holds one bot turn's messages: kept for the passive reply while
that is still possible, then pushed; `PushQueue` sends them in the order the bot
said them while the first one is still on its way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Iterable, List, Optional, Tuple

from heatdesk_contract.masking import mask_id
from connectors.wechat_protocol.api import WeChatAPI, WeChatAPIError
from connectors.wechat_protocol.replies import MAX_TEXT_BYTES, split_text

logger = logging.getLogger(__name__)


async def send_pieces(api: WeChatAPI, openid: str, pieces: Iterable[str]) -> None:
    """One customer-service message per piece, in order; the first failure stops the rest."""
    for piece in pieces:
        await api.send_text(openid, piece)


async def push_text(api: Optional[WeChatAPI], openid: str, text: str, max_text_bytes: int = MAX_TEXT_BYTES) -> None:
    """`text` now, split to fit; `WeChatAPIError` when it cannot be sent (or no AppID/AppSecret)."""
    if api is None:
        raise WeChatAPIError(-1, "no AppID/AppSecret configured")
    await send_pieces(api, openid, split_text(text, max_text_bytes))


class PushQueue:
    """Messages for the customer-service API, sent one after the other by a single task.

    A failed message is logged (by its error code only) and the next one is still tried.
    """

    def __init__(self, api: Optional[WeChatAPI], max_text_bytes: int = MAX_TEXT_BYTES) -> None:
        self._api = api
        self._max_text_bytes = max_text_bytes
        self._queue: "asyncio.Queue[Optional[Tuple[str, str]]]" = asyncio.Queue()
        self._worker: "asyncio.Task[None]" = asyncio.get_running_loop().create_task(self._drain())

    def put(self, openid: str, text: str) -> None:
        self._queue.put_nowait((openid, text))

    async def close(self) -> None:
        """Waits until every queued message was handed to WeChat."""
        self._queue.put_nowait(None)
        await self._worker

    async def _drain(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            openid, text = item
            try:
                await push_text(self._api, openid, text, self._max_text_bytes)
            except WeChatAPIError as error:
                logger.error(
                    "wechat.push.failed recipient=%s errcode=%s kind=%s",
                    mask_id(openid),
                    error.errcode,
                    type(error).__name__,
                )


class TurnMessages:
    """One bot turn's messages to one user (what `passive.Collector` needs).

    Collecting (while a passive reply is still possible), texts are kept for the HTTP
    answer; `start_pushing` sends what was kept and everything after through the API,
    strictly in order. Not collecting, each text is pushed at once.
    """

    def __init__(self, api: Optional[WeChatAPI], *, collect: bool, max_text_bytes: int = MAX_TEXT_BYTES) -> None:
        self._api = api
        self._collecting = collect
        self._collected: List[str] = []
        self._max_text_bytes = max_text_bytes
        self._queue: Optional[PushQueue] = None

    async def add(self, openid: str, text: str) -> None:
        if self._collecting:
            self._collected.append(text.strip())
        elif self._queue is not None:
            self._queue.put(openid, text)
        else:
            await push_text(self._api, openid, text, self._max_text_bytes)

    def collected(self) -> List[str]:
        """The texts kept for the passive reply so far."""
        return list(self._collected)

    def start_pushing(self, openid: str) -> None:
        """The passive window is over: what was kept and what follows go through the API."""
        self._collecting = False
        self._queue = PushQueue(self._api, self._max_text_bytes)
        for text in self._collected:
            self._queue.put(openid, text)
        self._collected = []

    async def close(self) -> None:
        """Wait until every pushed message was handed to WeChat (after the bot finished)."""
        if self._queue is not None:
            await self._queue.close()
