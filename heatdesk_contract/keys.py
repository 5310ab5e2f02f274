"""Every Redis key HeatDesk writes, under one prefix (table in docs/architecture.md).

Both runtimes build a :class:`KeySpace` from their settings (``HEATDESK_KEY_PREFIX``, default
``heatdesk:``), so the bot and the console always agree; tests isolate themselves with a
prefix of their own. Rasa's own tracker and lock stores use ``rasa_store_prefix()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from heatdesk_contract import streams

DEFAULT_PREFIX = "heatdesk:"

QUEUE_PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2}
_RANK_SPAN = 1e10  # larger than any epoch-seconds value we will see: rank first, then SLA due time


def queue_score(priority: str, sla_due_epoch: float) -> float:
    """Score of a ticket in the queue sorted set: the order the console works the queue
    (priority, then SLA due time), so the position the bot tells equals the console's."""
    return QUEUE_PRIORITY_RANK.get(priority, 3) * _RANK_SPAN + round(sla_due_epoch, 3)


def optout_member(channel: str, address: str) -> str:
    """A member of ``KeySpace.reminder_optouts``: the channel and its own address (e.g. the OpenID)."""
    return f"{channel}:{address}"


@dataclass(frozen=True)
class KeySpace:
    """The key names of one HeatDesk installation (one prefix)."""

    prefix: str = DEFAULT_PREFIX

    def key(self, *parts: str) -> str:
        """``{prefix}part:part…``."""
        return self.prefix + ":".join(parts)

    def rasa_store_prefix(self) -> str:
        """Rasa's tracker and lock stores add their own ``:`` (``heatdesk:tracker:…``)."""
        return self.prefix.rstrip(":")

    # -- handoff ------------------------------------------------------------------------

    def owner(self, conversation_id: str) -> str:
        """Hash of who answers the conversation (fields: ``heatdesk_contract.owner``)."""
        return self.key("owner", conversation_id)

    def queue(self) -> str:
        """Sorted set ticket_no → :func:`queue_score`; position = rank + 1."""
        return self.key("queue")

    def presence(self) -> str:
        """Sorted set agent id → until when (epoch seconds) the agent counts as on duty.

        Written by the console on every authenticated request and live-stream heartbeat, read by
        the bot to tell a queued resident whether anybody is there to answer.
        """
        return self.key("presence")

    def ticket_seq(self, day: str) -> str:
        """The day's ticket counter (``GD{yyyymmdd}{seq:04d}``); the console raises it from SQL."""
        return self.key("ticket_seq", day)

    def conversations_of_day(self, day: str) -> str:
        """HyperLogLog of the conversations that wrote on `day` (yyyymmdd), for the handoff rate."""
        return self.key("stats", "conversations", day)

    # -- streams --------------------------------------------------------------------------

    def stream(self, name: str) -> str:
        """A stream by its name in :mod:`heatdesk_contract.streams` (e.g. ``streams.TICKETS``)."""
        if name not in streams.ALL_STREAMS:
            raise ValueError(f"unknown stream {name!r}")
        return self.prefix + name

    def tickets_stream(self) -> str:
        return self.stream(streams.TICKETS)

    def outbox_stream(self) -> str:
        return self.stream(streams.OUTBOX)

    def events_stream(self) -> str:
        return self.stream(streams.EVENTS)

    def dead_letter_stream(self) -> str:
        return self.stream(streams.TICKETS_DEAD)

    # -- REST channel -----------------------------------------------------------------------

    def inbox(self, conversation_id: str) -> str:
        """Agent messages waiting for a REST-channel user."""
        return self.key("inbox", conversation_id)

    def inbox_token(self, conversation_id: str) -> str:
        """The REST conversation's inbox token (issued on its first POST)."""
        return self.key("inbox_token", conversation_id)

    # -- identity (actions/identity.py, actions/lockout.py) ---------------------------------------

    def identity_lock(self, account_no: str, conversation_id: str) -> str:
        """This account locked in this conversation."""
        return self.key("identity", "lock", account_no, conversation_id)

    def identity_failures(self, account_no: str, conversation_id: str) -> str:
        return self.key("identity", "fail", account_no, conversation_id)

    def identity_account_failures(self, account_no: str) -> str:
        """Failed tries on an account across all conversations (the global ceiling)."""
        return self.key("identity", "account_fail", account_no)

    def identity_account_cooldown(self, account_no: str) -> str:
        return self.key("identity", "account_cooldown", account_no)

    def identity_client_failures(self, client: str) -> str:
        """Failed tries from one client address (`ip:…`, `wechat:…`) on any account."""
        return self.key("identity", "client_fail", client)

    def identity_conversation_failures(self, conversation_id: str) -> str:
        return self.key("identity", "conversation_fail", conversation_id)

    def identity_session(self, conversation_id: str) -> str:
        """The account verified in this conversation's current session (expires when idle)."""
        return self.key("identity", "session", conversation_id)

    def identity_pattern(self) -> str:
        """SCAN pattern of every identity record (tests reset them)."""
        return self.key("identity", "*")

    # -- WeChat -----------------------------------------------------------------------------

    def wechat_binding(self, openid: str) -> str:
        """OpenID → account_no after a verified check (解绑 deletes it)."""
        return self.key("bind", "wechat", openid)

    def wechat_binding_pattern(self) -> str:
        """SCAN pattern of every WeChat binding (the console's reminders read them in bulk)."""
        return self.wechat_binding("*")

    def openid_of_binding(self, binding_key: str) -> str:
        return binding_key[len(self.wechat_binding("")):]

    def wechat_choices(self, openid: str) -> str:
        """The payloads behind the numbered choices last shown to a WeChat user ("1" → payload)."""
        return self.key("choices", "wechat", openid)

    def wechat_last_seen(self, openid: str) -> str:
        """Set by the router on every WeChat message, expiring with WeChat's 48-hour service window."""
        return self.key("wechat", "last_seen", openid)

    def wechat_dedupe(self, message_key: str) -> str:
        """A callback's claim and remembered outcome (MsgId or sender+time)."""
        return self.key("wechat", "dedupe", message_key)

    def wechat_nonce(self, timestamp: str, nonce: str) -> str:
        """A signed query string's (timestamp, nonce): one message only."""
        return self.key("wechat", "nonce", timestamp, nonce)

    def wechat_access_token(self, appid: str) -> str:
        return self.key("wechat", "access_token", appid)

    def wechat_access_token_lock(self, appid: str) -> str:
        return self.key("wechat", "access_token_lock", appid)

    # -- widget channel -------------------------------------------------------------------------

    def widget_seq(self, session_id: str) -> str:
        """Message ids of a widget session's transcript."""
        return self.key("widget", "seq", session_id)

    def widget_transcript(self, session_id: str) -> str:
        return self.key("widget", "transcript", session_id)

    def widget_seen(self, *parts: str) -> str:
        """Dedupe of resent user messages, agent messages and resolve notices."""
        return self.key("widget", "seen", *parts)

    def widget_session(self, session_id: str) -> str:
        """Digest of the session's resume token."""
        return self.key("widget", "session", session_id)

    def widget_binding(self, session_id: str) -> str:
        """Widget session → account_no after a verified check in that session: only reminder
        notices read it (they are shown to this session, never used for money answers)."""
        return self.key("bind", "widget", session_id)

    def widget_binding_pattern(self) -> str:
        """SCAN pattern of every widget binding (the console's reminders read them in bulk)."""
        return self.widget_binding("*")

    def session_of_widget_binding(self, binding_key: str) -> str:
        return binding_key[len(self.widget_binding("")):]

    def widget_notices(self, session_id: str) -> str:
        """Hash send id → :class:`heatdesk_contract.notices.WidgetNotice` JSON: reminder notices
        waiting for the session's next widget open (the console writes, the widget pops)."""
        return self.key("widget", "notice", session_id)

    def widget_notices_shown(self) -> str:
        """Hash send id → conversation id of notices the widget showed; the console's reminder
        worker marks those sends delivered and removes them."""
        return self.key("remind", "widget_shown")

    def widget_socketio(self, database: str) -> str:
        """python-socketio's pub/sub channel (db in the name: pub/sub ignores databases)."""
        return self.key("widget", "socketio", database)

    # -- satisfaction question after resolve (bot/csat.py) ----------------------------------------

    def csat_pending(self, conversation_id: str) -> str:
        """The ticket whose rating (1–5) the conversation's next message may be, until it expires."""
        return self.key("csat", "pending", conversation_id)

    def csat_asked(self, ticket_no: str) -> str:
        """Set once the question about this ticket went out: a re-read resolve notice asks no more."""
        return self.key("csat", "asked", ticket_no)

    # -- reminders and the console --------------------------------------------------------------

    def reminder_optouts(self) -> str:
        """Set of :func:`optout_member` that replied 退订 (reminders stop until 恢复提醒)."""
        return self.key("remind", "optout")

    def login_attempts(self, user_and_ip: str) -> str:
        """Login attempts of one username+IP (hashed) per window."""
        return self.key("ratelimit", "login", user_and_ip)

    def login_attempts_of_ip(self, ip: str) -> str:
        return self.key("ratelimit", "login_ip", ip)

    def login_attempts_all(self) -> str:
        return self.key("ratelimit", "login_all")


DEFAULT = KeySpace()
