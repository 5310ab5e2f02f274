"""What the WeChat channel answers itself, without the bot, and what the agent is told.

Menu clicks map to intents (Rasa's `/intent` syntax, like a button payload);
「解绑」 is the resident's own command; voice without recognition, images,
subscriptions and unknown menu keys get a fixed answer; a refusal of the
customer-service API becomes a reason the agent can read in the console. The
texts live in `bot.messages`, the one place of user-facing Chinese.
"""

from __future__ import annotations

from typing import Dict, List, Tuple, Type

from bot import messages
from connectors.wechat_protocol.api import (
    AmbiguousSendError, OutsideServiceWindowError, QuotaExceededError, WeChatAPIError,
)
from connectors.wechat_protocol.messages import (
    ClickEvent, ImageMessage, SubscribeEvent, UnknownMessage, VoiceMessage, WeChatMessage,
)

#: Custom-menu CLICK keys → Rasa's `/intent` syntax (bypasses NLU, like a button payload).
CLICK_INTENTS: Dict[str, str] = {
    "QUERY_BALANCE": "/ask_balance",
    "LATE_FEE_HELP": "/ask_late_fee",
    "HUMAN": "/request_human",
}

#: What a resident types to revoke the OpenID → account binding (handled by the channel itself).
UNBIND_COMMANDS = frozenset({"解绑", "解除绑定", "取消绑定"})

#: The channel's own answer to messages Rasa cannot read (first match wins).
_FIXED_REPLIES: Tuple[Tuple[Type[WeChatMessage], str], ...] = (
    (SubscribeEvent, messages.WECHAT_WELCOME),
    (VoiceMessage, messages.WECHAT_VOICE_PLEASE_TYPE),  # only when WeChat's recognition is empty
    (ImageMessage, messages.WECHAT_IMAGE_RECEIVED),
    (ClickEvent, messages.WECHAT_UNKNOWN_MENU),  # a menu key without an intent
)

#: What the agent is told when the customer-service API refuses their reply (first match wins).
_AGENT_REFUSALS: Tuple[Tuple[Type[WeChatAPIError], str], ...] = (
    (OutsideServiceWindowError, messages.WECHAT_AGENT_OUTSIDE_WINDOW),
    (QuotaExceededError, messages.WECHAT_AGENT_QUOTA_EXCEEDED),
    (AmbiguousSendError, messages.WECHAT_AGENT_SEND_UNCERTAIN),
)


def fixed_reply(message: WeChatMessage) -> List[str]:
    """The answer to a message that never reaches Rasa (none for empty text and most events)."""
    for kind, text in _FIXED_REPLIES:
        if isinstance(message, kind):
            return [text]
    if isinstance(message, UnknownMessage) and message.msg_type != "event":
        return [messages.WECHAT_UNSUPPORTED_MESSAGE]
    return []  # empty text, unsubscribe, other events (VIEW, SCAN, LOCATION, …): no answer


def refusal_reason(error: WeChatAPIError) -> str:
    """Why an agent's reply did not reach the resident, in the agent's words."""
    for kind, text in _AGENT_REFUSALS:
        if isinstance(error, kind):
            return text
    return messages.WECHAT_AGENT_SEND_FAILED.format(errcode=error.errcode)
