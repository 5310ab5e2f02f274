"""The one place of the Rasa runtime (bot/, connectors/, actions/) that reads the environment.

Everything else imports `settings` from here, so a deployment is described by its
environment variables (DESIGN.md, "Ports and settings") and the city file alone.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import yaml

from billing_client.rule import LateFeePolicy
from heatdesk_contract import city as contract_city
from heatdesk_contract.keys import DEFAULT_PREFIX, KeySpace

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment for the Rasa runtime."""

    rasa_port: int = field(default_factory=lambda: _int("RASA_PORT", 5005))
    action_port: int = field(default_factory=lambda: _int("ACTION_PORT", 5055))
    console_port: int = field(default_factory=lambda: _int("CONSOLE_PORT", 8000))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", "redis://localhost:6379/0"))
    # The prefix of every HeatDesk Redis key; the console reads the same variable.
    key_prefix: str = field(default_factory=lambda: _env("HEATDESK_KEY_PREFIX", DEFAULT_PREFIX) or DEFAULT_PREFIX)
    billing_url: str = field(default_factory=lambda: _env("BILLING_URL", "http://localhost:8100"))
    heating_today: str = field(default_factory=lambda: _env("HEATING_TODAY"))
    city_file: Path = field(
        default_factory=lambda: Path(_env("HEATING_CITY_FILE", str(ROOT / "config" / "city.yml")))
    )
    rasa_token: str = field(default_factory=lambda: _env("RASA_TOKEN"))
    # Shared by Rasa (endpoints.yml sends it) and the action server (refuses calls without it).
    action_server_token: str = field(default_factory=lambda: _env("ACTION_SERVER_TOKEN"))
    # Where the action server listens: only Rasa calls it, so loopback unless set otherwise.
    action_host: str = field(default_factory=lambda: _env("ACTION_HOST", "127.0.0.1"))
    # The company's local time zone (shared with the console's daily statistics).
    timezone: str = field(default_factory=lambda: _env("CONSOLE_TIMEZONE", "Asia/Shanghai"))
    # Idle conversations' trackers expire from Redis after this long (WeChat conversations never
    # end on their own); 0 keeps them for ever.
    tracker_expiry_seconds: int = field(default_factory=lambda: _int("TRACKER_EXPIRY_SECONDS", 30 * 24 * 3600))
    # How long after a resolve the resident's reply 1–5 counts as the service rating (bot/csat.py);
    # 0 asks no rating at all.
    csat_window_minutes: int = field(default_factory=lambda: _int("CSAT_WINDOW_MINUTES", 30))
    # Agent replies a REST client never collected expire after this long.
    rest_inbox_ttl_seconds: int = field(default_factory=lambda: _int("REST_INBOX_TTL_SECONDS", 7 * 24 * 3600))
    wechat_token: str = field(default_factory=lambda: _env("WECHAT_TOKEN"))
    wechat_appid: str = field(default_factory=lambda: _env("WECHAT_APPID"))
    wechat_appsecret: str = field(default_factory=lambda: _env("WECHAT_APPSECRET"))
    wechat_aes_key: str = field(default_factory=lambda: _env("WECHAT_AES_KEY"))
    # A migration window only: with an AES key set, plain callbacks are refused unless this is 1.
    wechat_allow_plain: bool = field(default_factory=lambda: _env("WECHAT_ALLOW_PLAIN") == "1")
    wechat_previous_aes_key: str = field(default_factory=lambda: _env("WECHAT_PREVIOUS_AES_KEY"))
    wechat_api_base: str = field(
        default_factory=lambda: _env("WECHAT_API_BASE", "https://api.weixin.qq.com")
    )
    # Seconds the WeChat channel waits for the bot before answering `success` and
    # pushing through the customer-service API (WeChat itself gives up after 5 s).
    wechat_reply_deadline: float = field(
        default_factory=lambda: _float("WECHAT_REPLY_DEADLINE", 4.0)
    )

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
