"""The one place of the Rasa runtime (bot/, connectors/, actions/) that reads the environment.

Everything else imports `settings` from here, so a deployment is described by its
environment variables (DESIGN.md, "Ports and settings") and the city file alone.
Every variable is read the same way (`env`): the text is parsed as the type of the
field's default, and an empty variable counts as unset — the rule pydantic-settings
applies on the service side (`env_ignore_empty=True` in console/ and billing_service/).
The table of every variable is in docs/deployment.md ("Settings"); `RASA_PORT`,
`ACTION_PORT` and `RASA_TOKEN` are given to Rasa and the action server on their command
lines (Procfile) and in endpoints.yml, so no code here reads them.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, Optional, TypeVar

import yaml

from billing_client.rule import LateFeePolicy
from heatdesk_contract import city as contract_city
from heatdesk_contract.keys import DEFAULT_PREFIX, KeySpace

ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")

#: variable name → its default, for every variable this module reads (docs and tests list them).
VARIABLES: Dict[str, Any] = {}

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _parse(name: str, raw: str, kind: type) -> Any:
    """The variable's text as `kind`; a clear error naming the variable otherwise."""
    try:
        if kind is bool:
            word = raw.strip().lower()
            if word not in _TRUE | _FALSE:
                raise ValueError(raw)
            return word in _TRUE
        return kind(raw.strip()) if kind in (int, float) else kind(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a valid {kind.__name__}") from None


def env(name: str, default: T) -> Callable[[], T]:
    """The factory of a settings field: `name` parsed as the type of `default`; unset or empty → `default`."""
    VARIABLES[name] = default

    def read() -> T:
        raw = os.environ.get(name, "")
        return default if raw == "" else _parse(name, raw, type(default))

    return read


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment for the Rasa runtime (each field: `env(VARIABLE, default)`)."""

    redis_url: str = field(default_factory=env("REDIS_URL", "redis://localhost:6379/0"))
    # The prefix of every HeatDesk Redis key; the console reads the same variable.
    key_prefix: str = field(default_factory=env("HEATDESK_KEY_PREFIX", DEFAULT_PREFIX))
    billing_url: str = field(default_factory=env("BILLING_URL", "http://localhost:8100"))
    # YYYY-MM-DD: the whole system takes this as today (tests, demos); empty = the real date.
    heating_today: str = field(default_factory=env("HEATING_TODAY", ""))
    city_file: Path = field(default_factory=env("HEATING_CITY_FILE", ROOT / "config" / "city.yml"))
    # Shared by Rasa (endpoints.yml sends it) and the action server (refuses calls without it).
    action_server_token: str = field(default_factory=env("ACTION_SERVER_TOKEN", ""))
    # Where the action server listens: only Rasa calls it, so loopback unless set otherwise.
    action_host: str = field(default_factory=env("ACTION_HOST", "127.0.0.1"))
    # The company's local time zone (shared with the console's daily statistics).
    timezone: str = field(default_factory=env("CONSOLE_TIMEZONE", "Asia/Shanghai"))
    # Idle conversations' trackers expire from Redis after this long (WeChat conversations never
    # end on their own); 0 keeps them for ever.
    tracker_expiry_seconds: int = field(default_factory=env("TRACKER_EXPIRY_SECONDS", 30 * 24 * 3600))
    # How long after a resolve the resident's reply 1–5 counts as the service rating (bot/csat.py);
    # 0 asks no rating at all.
    csat_window_minutes: int = field(default_factory=env("CSAT_WINDOW_MINUTES", 30))
    # Agent replies a REST client never collected expire after this long.
    rest_inbox_ttl_seconds: int = field(default_factory=env("REST_INBOX_TTL_SECONDS", 7 * 24 * 3600))
    wechat_token: str = field(default_factory=env("WECHAT_TOKEN", ""))
    wechat_appid: str = field(default_factory=env("WECHAT_APPID", ""))
    wechat_appsecret: str = field(default_factory=env("WECHAT_APPSECRET", ""))
    # 43 characters; empty = plain mode only.
    wechat_aes_key: str = field(default_factory=env("WECHAT_AES_KEY", ""))
    # A migration window only: with an AES key set, plain callbacks are refused unless this is true.
    wechat_allow_plain: bool = field(default_factory=env("WECHAT_ALLOW_PLAIN", False))
    wechat_previous_aes_key: str = field(default_factory=env("WECHAT_PREVIOUS_AES_KEY", ""))
    wechat_api_base: str = field(default_factory=env("WECHAT_API_BASE", "https://api.weixin.qq.com"))
    # Seconds the WeChat channel waits for the bot before answering `success` and
    # pushing through the customer-service API (WeChat itself gives up after 5 s).
    wechat_reply_deadline: float = field(default_factory=env("WECHAT_REPLY_DEADLINE", 4.0))

    @property
    def keys(self) -> KeySpace:
        """The Redis key names under this installation's prefix (heatdesk_contract.keys)."""
        return KeySpace(self.key_prefix)

    def today(self) -> dt.date:
        """`HEATING_TODAY` when set (tests, demos), else the real date."""
        if self.heating_today:
            return dt.date.fromisoformat(self.heating_today)
        return dt.date.today()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


@lru_cache(maxsize=4)
def _load_city(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def city(settings: Optional[Settings] = None) -> dict[str, Any]:
    """The city's heating facts: prices, season, deadlines, late-fee policy, SLA."""
    return _load_city(str((settings or get_settings()).city_file))


def redis_keys() -> KeySpace:
    """The Redis key names of this process (prefix from `HEATDESK_KEY_PREFIX`)."""
    return get_settings().keys


def late_fee_policy(settings: Optional[Settings] = None) -> LateFeePolicy:
    """The late-fee policy of billing_client built from the city file (heatdesk_contract.city)."""
    return contract_city.late_fee_policy(city(settings))
