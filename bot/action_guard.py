"""When the action server cannot run an action, the resident is told so instead of getting silence.

Rasa 3.6's `MessageProcessor._run_action` catches every exception of an action, logs it and
continues with no events: a resident who asks for a balance, a price or a person while the
action server is down or restarting gets an empty answer on every channel. Rasa offers no
hook for this (remote actions are always `rasa.core.actions.action.RemoteAction`), so
`install()` wraps `RemoteAction.run` once per process: a failure to reach the action server
(connection refused, timeout, 5xx from it or from the load balancer in front of it) becomes a
`BotUttered` apology with the service hotline, which Rasa sends through the resident's own
channel and records on the tracker like any bot message. Rejections (`ActionExecutionRejection`,
a form asking for another slot) are Rasa's normal flow and pass through untouched.

Installed by the `bot.stores` package (endpoints.yml makes every Rasa server import it at start).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, List

import aiohttp
import yaml
from rasa.core.actions import action as rasa_action
from rasa.shared.core.events import BotUttered, Event
from rasa.shared.exceptions import RasaException

from bot import messages
from bot.settings import city

logger = logging.getLogger(__name__)

ACTION_FAILED_METADATA = "action_failed"

_GUARD_FLAG = "_heatdesk_action_guard"


def apology_text() -> str:
    try:
        hotline = str(city().get("hotline") or "")
    except (OSError, yaml.YAMLError) as error:  # a broken city file must not turn the apology into silence
        logger.error("city file unreadable for the apology: %s", error)
        hotline = ""
    return messages.ACTION_FAILED.format(hotline=hotline) if hotline else messages.ACTION_FAILED_NO_HOTLINE


def install() -> None:
    """Wraps `RemoteAction.run` (idempotent)."""
    original = rasa_action.RemoteAction.run
    if getattr(original, _GUARD_FLAG, False):
        return

    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
        try:
            return await original(self, output_channel, nlg, tracker, domain)
        except rasa_action.ActionExecutionRejection:
            raise
        except (RasaException, aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error(
                "Action %s failed for conversation %s (%s: %s); the resident gets an apology.",
                self.name(), tracker.sender_id, type(error).__name__, error,
            )
            return [BotUttered(apology_text(), metadata={ACTION_FAILED_METADATA: self.name()})]

    setattr(run, _GUARD_FLAG, True)
    run.__doc__ = original.__doc__
    rasa_action.RemoteAction.run = run  # type: ignore[method-assign]
