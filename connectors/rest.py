"""The REST channel: Rasa's own, passed through the handoff router.

Rasa's `RestInput` reads `request.json` without checking it; this subclass
validates the body (400 with an English error for operators, never a 500;
413 over 64 KiB), routes every message through `HandoffRouter` (the channel
seam, `connectors.base.HandoffInput`), answers the
resident with an apology when the bot fails instead of an empty list, and lets
REST clients collect agent replies (delivered into a Redis inbox).

The conversation is `rest:<sender>` (`bot.conversation`), so a REST client can
never name a WeChat or widget conversation. Agent replies are personal: the first
POST of a conversation gets an inbox token in the `X-HeatDesk-Inbox-Token` header
(random, kept in Redis); only a caller that presents it (header or `token` query
parameter) gets agent replies, in the webhook answer or from
`GET /webhooks/rest/inbox?sender=&token=`. A plain POST keeps Rasa's documented
request and answer shapes (`recipient_id` is the sender the client sent).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conversation import CLIENT_METADATA_KEY, conversation_id
from connectors.base import MAX_TEXT, HandoffInput, Send, text_too_long
from connectors.body import RequestTooLarge, read_limited
from bot.handoff.router import HandoffRouter
from bot.redis_client import NO_PERSISTENCE_WARNING, get_redis, persistence_mode, pipelined
from bot.settings import get_settings, redis_keys
from bot.stores.connection import store_health
from bot import messages
from bot.csat import CsatQuestion
from bot.delivery import Deliverable

logger = logging.getLogger(__name__)

MAX_SENDER = 128
MAX_BODY_BYTES = 64 * 1024
MAX_METADATA_BYTES = 4 * 1024
INBOX_TOKEN_HEADER = "X-HeatDesk-Inbox-Token"


class BadRequest(ValueError):
    """The request body is not a valid REST message."""


def parse_body(raw: bytes) -> Dict[str, Any]:
    """Validates `{"sender", "message", "metadata"?}`; raises `BadRequest`."""
    try:
        body = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest("body must be a JSON object") from error
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    sender, text = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER:
        raise BadRequest(f"'sender' must be a non-empty string of at most {MAX_SENDER} characters")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("'message' must be a non-empty string")
    if text_too_long(text):
        raise BadRequest(f"'message' must be at most {MAX_TEXT} characters")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest("'metadata' must be a JSON object when given")
    if metadata and len(json.dumps(metadata, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
        raise BadRequest(f"'metadata' must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return {"sender": sender, "message": text, "metadata": metadata or {}}


async def deliver_to_inbox(conversation_id: str, text: str, entry: Deliverable) -> None:
    """Agent replies for REST users wait in a Redis list until the client collects them; the
    rating question after a resolve carries its scores as Rasa's `buttons`."""
    fields: Dict[str, Any] = {
        # message_id: the console's id, so a client can drop a copy it already has (re-sends).
        "recipient_id": conversation_id, "text": text, "agent": getattr(entry, "agent_name", ""),
        "message_id": getattr(entry, "message_id", ""),
    }
    if isinstance(entry, CsatQuestion):
        fields["buttons"] = entry.buttons
    item = json.dumps(fields, ensure_ascii=False)
    redis = get_redis()
    await redis.rpush(redis_keys().inbox(conversation_id), item)
    await redis.expire(redis_keys().inbox(conversation_id), get_settings().rest_inbox_ttl_seconds)


async def inbox_token(conversation: str) -> Tuple[Optional[str], str]:
    """(a new token when the conversation had none yet, else None; the conversation's token).

    Renews the token's expiry; one round trip, since every message of the channel asks.
    """
    token = secrets.token_urlsafe(24)
    ttl = get_settings().rest_inbox_ttl_seconds
    key = redis_keys().inbox_token(conversation)

    def queue(pipe: Pipeline) -> None:
        pipe.set(key, token, nx=True, ex=ttl)
        pipe.expire(key, ttl)
        pipe.get(key)

    created, _, current = await pipelined(get_redis(), queue)
    return (token if created else None), str(current or "")


def token_matches(expected: Optional[str], given: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(str(expected).encode(), given.encode())


async def inbox_token_valid(conversation: str, given: str) -> bool:
    if not given:
        return False
    return token_matches(await get_redis().get(redis_keys().inbox_token(conversation)), given)


def given_token(request: Request) -> str:
    return str(request.headers.get(INBOX_TOKEN_HEADER) or request.args.get("token") or "")


def as_client_sees(items: List[Dict[str, Any]], sender: str) -> List[Dict[str, Any]]:
    """Rasa's answer shape: `recipient_id` is the sender the client sent, not `rest:<sender>`."""
    return [{**item, "recipient_id": sender} for item in items]


async def drain_inbox(conversation_id: str) -> List[Dict[str, Any]]:
    """Takes the waiting agent messages (MULTI: read and delete at once)."""

    def queue(pipe: Pipeline) -> None:
        pipe.lrange(redis_keys().inbox(conversation_id), 0, -1)
        pipe.delete(redis_keys().inbox(conversation_id))

    items, _ = await pipelined(get_redis(), queue, transaction=True)
    return [json.loads(item) for item in items]


class RestInput(HandoffInput, RasaRestInput):
    """`/webhooks/rest/webhook` with validation, the handoff router and an agent inbox."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def __init__(self, router: Optional[HandoffRouter] = None) -> None:
        self._router = router

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "RestInput":
        return cls()

    async def deliver(self, conversation_id: str, text: str, entry: Deliverable) -> None:
        await deliver_to_inbox(conversation_id, text, entry)

    async def health(self, request: Request) -> HTTPResponse:
        """200 only when the model is loaded and Redis (tracker, locks, handoff) answers.

        Also 503 for a while after Rasa's fail-safe tracker store fell back to memory
        (`bot.stores.connection.store_health`), so that a load balancer or monitor sees it.
        """
        agent = getattr(request.app.ctx, "agent", None)
        model_ready = bool(agent is not None and agent.is_ready())
        persistence = "unknown"
        try:
            redis_ready = bool(await get_redis().ping())
            persistence = await persistence_mode(get_redis())
        except RedisError:
            redis_ready = False
        stores = await store_health.check()
        ok = model_ready and redis_ready and stores["ok"]
        return response.json(
            {
                "status": "ok" if ok else "unavailable",
                "model": model_ready,
                "redis": redis_ready and stores["stores_redis"],
                "tracker_store_fallbacks": stores["fallbacks"],
                "tracker_store_fallback_recent": stores["recent_fallback"],
                "redis_persistence": persistence,
                "warnings": [NO_PERSISTENCE_WARNING] if persistence == "none" else [],
            },
            status=200 if ok else 503,
        )

    def routes(self, webhook: Blueprint, send: Send) -> None:
        """`POST /webhook` (Rasa's request and answer shapes) and `GET /inbox` (agent replies)."""

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = parse_body(await read_limited(request, MAX_BODY_BYTES))
            except RequestTooLarge:
                return response.json({"error": f"body must be at most {MAX_BODY_BYTES} bytes"}, status=413)
            except BadRequest as error:
                return response.json({"error": str(error)}, status=400)
            sender = body["sender"]
            conversation = conversation_id(self.name(), sender)
            collector = CollectingOutputChannel()
            message = self._extract_message(body, request.ip, collector)
            try:
                await send(message)
            except asyncio.CancelledError:
                logger.error("REST message timed out")
                return response.json(self._apology(sender))
            except Exception:  # noqa: BLE001 - the resident gets an apology, never a traceback
                logger.exception("REST message failed")
                return response.json(self._apology(sender))
            headers: Dict[str, str] = {}
            pending: List[Dict[str, Any]] = []
            try:
                issued, current = await inbox_token(conversation)
                if issued is not None:
                    headers[INBOX_TOKEN_HEADER] = issued
                elif token_matches(current, given_token(request)):
                    pending = await drain_inbox(conversation)
            except RedisError:
                pass
            return response.json(as_client_sees(pending + collector.messages, sender), headers=headers)

        @webhook.route("/inbox", methods=["GET"])
        async def inbox(request: Request) -> HTTPResponse:
            sender = request.args.get("sender", "")
            if not sender or len(sender) > MAX_SENDER:
                return response.json({"error": "query parameter 'sender' is required"}, status=400)
            conversation = conversation_id(self.name(), sender)
            try:
                if not await inbox_token_valid(conversation, given_token(request)):
                    return response.json(
                        {"error": f"the conversation's inbox token is required ({INBOX_TOKEN_HEADER} header)"},
                        status=403,
                    )
                return response.json(as_client_sees(await drain_inbox(conversation), sender))
            except RedisError:
                return response.json({"error": "inbox temporarily unavailable"}, status=503)

    def _extract_message(self, body: Dict[str, Any], client_ip: str, output: CollectingOutputChannel) -> UserMessage:
        """The Rasa message of a validated body (`parse_body`), in the `rest:<sender>` conversation."""
        return UserMessage(
            body["message"],
            output,
            conversation_id(self.name(), body["sender"]),
            input_channel=self.name(),
            # The client address is the channel's to say, never the body's.
            metadata={**body["metadata"], CLIENT_METADATA_KEY: f"ip:{client_ip}"},
            message_id=str(body["metadata"].get("message_id") or "") or None,
        )

    @staticmethod
    def _apology(sender: str) -> List[Dict[str, Any]]:
        return [{"recipient_id": sender, "text": messages.REST_SERVICE_ERROR}]
