"""The passive-reply state machine: one answer per callback, within WeChat's 5 seconds.

WeChat waits 5 s for the HTTP answer and retries a callback it got none for
(possibly at another process). The first request `claim`s the message; the bot
turn runs at once, and if it finishes within `reply_deadline` its messages are
the passive reply (`reply`), otherwise the answer is `success` and the output
switches to customer-service pushes for what it collected and everything after.
The outcome is recorded, so a retry gets the same passive reply or `success`
and never runs the bot again. What does not fit in one passive reply follows as
customer-service messages (`overflow_delay` later, so WeChat shows them in order).

Nothing here knows about Rasa: the turn is any awaitable, and its output only has
to collect texts and switch to pushing (`Collector`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Iterable, List, Optional, Protocol, Set

from redis.exceptions import RedisError

from heatdesk_contract.masking import mask_id
from connectors.wechat_protocol.api import WeChatAPI, WeChatAPIError
from connectors.wechat_protocol.dedupe import DONE, PASSIVE, PROCESSING, PUSHED, MessageDeduplicator, Outcome
from connectors.wechat_protocol.push import send_pieces
from connectors.wechat_protocol.replies import split_text

logger = logging.getLogger(__name__)


class Collector(Protocol):
    """The messages of a bot turn, as the state machine needs them (`push.TurnMessages`)."""

    def collected(self) -> List[str]: ...

    def start_pushing(self, recipient_id: str) -> None: ...

    async def close(self) -> None: ...


class PassiveReplies:
    """Claims callbacks, runs bot turns against the deadline and records what was answered."""

    def __init__(
        self,
        dedupe: Callable[[], MessageDeduplicator],
        api: Callable[[], Optional[WeChatAPI]],
        *,
        reply_deadline: float,
        overflow_delay: float,
        failure_text: str,
    ) -> None:
        """`dedupe` and `api` are factories: Redis and HTTP clients are made on first use."""
        self._dedupe = dedupe
        self._api = api
        self.reply_deadline = reply_deadline
        self.overflow_delay = overflow_delay
        self.failure_text = failure_text
        self._background: Set["asyncio.Task[Any]"] = set()

    async def claim(self, key: str) -> bool:
        """True for the first request of a message; later ones (retries) must not run the bot."""
        try:
            return await self._dedupe().claim(key)
        except RedisError as error:
            # Same choice as the handoff router: without Redis, answering beats silence.
            logger.error("wechat.dedupe.unavailable key=%s error=%s", key, type(error).__name__)
            return True

    async def fresh_nonce(self, timestamp: Optional[str], nonce: Optional[str], key: str, window: int) -> bool:
        """A (timestamp, nonce) pair signs one message only, for the whole timestamp window."""
        if not nonce or not timestamp:
            return True
        try:
            return await self._dedupe().claim_nonce(timestamp, nonce, key, window)
        except RedisError as error:
            logger.error("wechat.nonce.unavailable error=%s", type(error).__name__)
            return True  # same choice as `claim`: answering beats silence

    async def retry_answer(self, key: str) -> Optional[str]:
        """A retry of a callback another request owns: wait briefly for its outcome."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reply_deadline
        while True:
            try:
                outcome = await self._dedupe().outcome(key)
            except RedisError:
                return None
            if outcome is None or outcome.state != PROCESSING or loop.time() >= deadline:
                break
            await asyncio.sleep(0.1)
        if outcome is not None and outcome.state == PASSIVE:
            return outcome.reply
        return None

    async def run(self, turn: Awaitable[Any], output: Collector, openid: str, key: str) -> Optional[List[str]]:
        """Runs the bot turn; its messages if done within the deadline, else None (they get pushed)."""
        task = asyncio.ensure_future(turn)
        try:
            await asyncio.wait({task}, timeout=self.reply_deadline)
        except asyncio.CancelledError:
            # WeChat hung up before our deadline (Sanic cancels the handler): the bot
            # goes on, and its answer must still reach the user, exactly once.
            logger.warning("wechat.callback.hung_up openid=%s", mask_id(openid))
            self._defer(task, output, openid)
            self.spawn(self._record(key, Outcome(PUSHED)))
            raise
        if not task.done():
            # Nothing awaited since the check: no bot message can slip in between.
            self._defer(task, output, openid)
            return None
        if task.cancelled() or task.exception() is not None:
            logger.error(
                "wechat.bot.failed openid=%s",
                mask_id(openid),
                exc_info=None if task.cancelled() else task.exception(),
            )
            return output.collected() or [self.failure_text]
        return output.collected()

    async def reply(self, key: str, openid: str, texts: Optional[List[str]]) -> Optional[str]:
        """Records the outcome; returns the passive reply (None: answer `success`).

        `texts` None means the turn was deferred to customer-service pushes.
        """
        if texts is None:
            await self._record(key, Outcome(PUSHED))
            return None
        pieces = split_text("\n\n".join(texts)) if texts else []
        if not pieces:
            await self._record(key, Outcome(DONE))
            return None
        first, rest = pieces[0], pieces[1:]
        await self._record(key, Outcome(PASSIVE, first))
        if rest:
            self.spawn(self._push_overflow(openid, rest))
        return first

    def spawn(self, coroutine: Awaitable[Any]) -> None:
        """Run work that outlives the HTTP answer, keeping a reference so it is not GC'd."""
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_background(self, timeout: float = 10.0) -> None:
        """Wait for deliveries still in flight (tests and graceful shutdown)."""
        pending = [task for task in self._background if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def _record(self, key: str, outcome: Outcome) -> None:
        """Remember the outcome for retries; shielded, so a hang-up cannot leave it `processing`."""
        try:
            await asyncio.shield(self._dedupe().record(key, outcome))
        except RedisError as error:
            logger.error("wechat.dedupe.record_failed key=%s error=%s", key, type(error).__name__)

    def _defer(self, task: "asyncio.Future[Any]", output: Collector, openid: str) -> None:
        """From now on the bot's messages go through the customer-service API."""
        output.start_pushing(openid)
        self.spawn(self._finish_in_background(task, output, openid))
        logger.info("wechat.reply.deferred openid=%s", mask_id(openid))

    async def _finish_in_background(self, task: "asyncio.Future[Any]", output: Collector, openid: str) -> None:
        try:
            await task
        except asyncio.CancelledError:
            logger.error("wechat.bot.cancelled openid=%s", mask_id(openid))
        except Exception:  # noqa: BLE001 - the bot's failure must not kill delivery
            logger.exception("wechat.bot.failed openid=%s", mask_id(openid))
        finally:
            await output.close()

    async def _push_overflow(self, openid: str, pieces: Iterable[str]) -> None:
        """The parts of a long answer that did not fit in the passive reply."""
        api = self._api()
        if api is None:
            logger.error("wechat.overflow.dropped openid=%s reason=no_api_credentials", mask_id(openid))
            return
        await asyncio.sleep(self.overflow_delay)
        try:
            await send_pieces(api, openid, pieces)
        except WeChatAPIError as error:
            logger.error("wechat.overflow.failed openid=%s errcode=%s", mask_id(openid), error.errcode)
