"""The seam every HeatDesk channel is built on: `HandoffInput`.

DESIGN.md: every connector asks the same handoff router before Rasa sees a
message. Rasa hands a channel its `on_new_message` in `blueprint()`; here that is
the only place that sees it, and a channel's routes get `send` instead, which
goes through `bot.handoff.router.HandoffRouter`. A subclass that defines its own
`blueprint` is refused when its class is created, so a new channel (a phone
line, an app) cannot skip the router by accident.

The same `blueprint()` registers the channel's deliverer for agent replies
(`bot.delivery`), starts this process's delivery worker once the server runs,
and serves `GET /webhooks/<channel>/` as the channel's health check. `MAX_TEXT`
is the one limit on what a resident may send; channels answer an over-long
message in their own way before it reaches `send`, which refuses it as well.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.delivery import Deliverable, register_deliverer, start_worker
from bot.handoff.router import HandoffRouter, OnNewMessage, Owner
from bot.redis_client import get_redis

logger = logging.getLogger(__name__)

#: Characters of one resident message; longer ones are answered by the channel, never routed.
MAX_TEXT = 2000

#: What a channel's routes call with each `UserMessage`: the handoff router, then Rasa.
Send = Callable[[UserMessage], Awaitable[Owner]]


class TextTooLong(ValueError):
    """A channel passed a message over `MAX_TEXT` to `send` (it should have answered it itself)."""


def text_too_long(text: Optional[str]) -> bool:
    """Whether a message is over the limit every channel applies."""
    return len(text or "") > MAX_TEXT


class HandoffInput(InputChannel):
    """Base of every HeatDesk input channel: routing, delivery registration and health in one place.

    A channel implements `name()`, `routes(webhook, send)` and `deliver(...)`; it may
    override `make_blueprint()` (socket.io), `redis()` (its own client) and `health()`.
    Constructors only store configuration: set `_router` / `_redis` to inject them
    (tests), else they are created on first use.
    """

    _router: Optional[HandoffRouter] = None
    _redis: Optional[Redis] = None
    #: False in tests that run several channels in one process and check delivery themselves.
    register_delivery: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Also catches a base listed before HandoffInput (e.g. Rasa's RestInput) bringing its own.
        if cls.blueprint is not HandoffInput.blueprint:
            raise TypeError(
                f"{cls.__name__} must not bring its own blueprint(): add its routes in routes(webhook, send), "
                "so that every message passes the handoff router"
            )

    # -- collaborators -----------------------------------------------------------------

    def router(self) -> HandoffRouter:
        """The handoff router (one per channel; its Redis is the injected client, else the shared one)."""
        if self._router is None:
            self._router = HandoffRouter(self._redis)
        return self._router

    def redis(self) -> Redis:
        """The Redis client the channel's health check pings."""
        return self._redis or get_redis()

    # -- what each channel provides ------------------------------------------------------

    def make_blueprint(self) -> Blueprint:
        """The blueprint the routes are added to (the socket.io channel returns its own kind)."""
        return Blueprint(f"heatdesk_{self.name()}_webhook", __name__)

    def routes(self, webhook: Blueprint, send: Send) -> None:
        """Adds the channel's routes; every user message goes to Rasa through `send`."""
        raise NotImplementedError

    async def deliver(self, conversation_id: str, text: str, entry: Deliverable) -> None:
        """An agent's reply or a resolve notice from the console, or the bot's rating question
        after a resolve (`bot.delivery.Deliverer`; `bot.csat.CsatQuestion` carries its buttons)."""
        raise NotImplementedError

    async def health(self, request: Request) -> HTTPResponse:
        """`GET /webhooks/<channel>/`: 200 only when the channel's Redis answers."""
        try:
            redis_ready = bool(await self.redis().ping())
        except RedisError:
            redis_ready = False
        return response.json(
            {"status": "ok" if redis_ready else "unavailable", "redis": redis_ready},
            status=200 if redis_ready else 503,
        )

    # -- the seam ------------------------------------------------------------------------

    def sender(self, on_new_message: OnNewMessage) -> Send:
        """`on_new_message` behind the length limit and the handoff router."""

        async def send(message: UserMessage) -> Owner:
            if text_too_long(message.text):
                raise TextTooLong(f"message of {len(message.text or '')} characters from {self.name()}")
            return await self.router().route(message, on_new_message)

        return send

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Rasa's entry point: the only code that sees `on_new_message`."""
        webhook = self.make_blueprint()
        if self.register_delivery:
            register_deliverer(self.name(), self.deliver)

            @webhook.listener("after_server_start")
            async def start_delivery(app: Any, _loop: Any) -> None:
                agent = getattr(app.ctx, "agent", None)
                if agent is not None:
                    start_worker(agent)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return await self.health(request)

        self.routes(webhook, self.sender(on_new_message))
        return webhook
