"""The one module of the console that reads the environment.

Every other console module receives a :class:`Settings` instance (through
``deps.SettingsDep`` or as an argument), so tests build their own settings
instead of patching globals. Field names are the variables' names; an empty
variable counts as unset (``env_ignore_empty``), the rule of every HeatDesk
runtime (docs/deployment.md, "Settings").
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from heatdesk_contract.city import sla_minutes as city_sla_minutes
from heatdesk_contract.keys import DEFAULT_PREFIX, KeySpace

REPO_ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = Path(__file__).resolve().parent / "static"

logger = logging.getLogger(__name__)


class Settings(BaseSettings):
    """Typed view of the console's environment (DESIGN.md, "Ports and settings")."""

    # `make run` and shells export empty variables: empty = unset, so the default applies.
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True, env_ignore_empty=True)

    DATABASE_URL: str = f"sqlite:///{REPO_ROOT / 'var' / 'console.db'}"
    REDIS_URL: str = "redis://localhost:6379/0"
    # The prefix of every HeatDesk Redis key; the Rasa side reads the same variable (bot/settings.py).
    HEATDESK_KEY_PREFIX: str = DEFAULT_PREFIX
    CONSOLE_PORT: int = 8000
    CONSOLE_ADMIN_USER: str | None = None
    CONSOLE_ADMIN_PASSWORD: SecretStr | None = None
    # Secrets have no default: when unset a random one is generated and kept in var/.
    CONSOLE_SESSION_SECRET: SecretStr | None = None
    CONSOLE_SESSION_HOURS: float = 12.0
    CONSOLE_COOKIE_SECURE: bool = False
    CONSOLE_LOGIN_MAX_ATTEMPTS: int = 5
    CONSOLE_LOGIN_WINDOW_SECONDS: int = 300
    # Failed logins per client address across all usernames, and across the whole console.
    CONSOLE_LOGIN_MAX_FAILURES_PER_IP: int = 20
    CONSOLE_LOGIN_MAX_FAILURES_GLOBAL: int = 500
    # Origins (scheme://host[:port]) besides the console's own host that may send state-changing
    # requests, e.g. the public name of a reverse proxy. Comma-separated in the environment.
    CONSOLE_ALLOWED_ORIGINS: str = ""
    CONSOLE_TIMEZONE: str = "Asia/Shanghai"
    CONSOLE_CONSUMER_NAME: str | None = None
    CONSOLE_CLAIM_IDLE_SECONDS: float = 60.0
    CONSOLE_MAX_DELIVERIES: int = 10
    CONSOLE_EVENTS_MAXLEN: int = 100_000
    # An agent message no channel confirmed is sent again after this long (the outbox in SQL is
    # the source; Redis may have lost the entry), and marked failed after this many sends.
    CONSOLE_RESEND_AFTER_SECONDS: float = 60.0
    CONSOLE_DELIVERY_MAX_ATTEMPTS: int = 5
    # Seconds between the consumer's upkeep passes: Redis restart check, re-sends, stream trimming.
    CONSOLE_UPKEEP_SECONDS: float = 15.0
    CONSOLE_SSE_CHECK_SECONDS: float = 5.0
    CONSOLE_SSE_HEARTBEAT_SECONDS: float = 15.0
    # Socket read timeout of the console's Redis clients, and the one source of every blocking
    # stream read's BLOCK time (redis_block_ms): a read that waits for events must end well
    # before the socket gives up, or a quiet stream looks like a lost Redis (issue 15).
    CONSOLE_REDIS_TIMEOUT_SECONDS: float = Field(default=10.0, ge=1.5)
    # An agent counts as on duty this long after their last request or live-stream heartbeat.
    CONSOLE_PRESENCE_SECONDS: float = 90.0
    # A resident who needs a person again within this many hours of a resolve goes back to the
    # agent who helped them when that agent is on duty (console/follow_up.py); 0 turns it off.
    CONSOLE_FOLLOW_UP_HOURS: float = Field(default=24.0, ge=0)
    RASA_TOKEN: SecretStr | None = None
    RASA_PORT: int = 5005
    RASA_HOST: str = "localhost"
    BILLING_URL: str = "http://localhost:8100"
    HEATING_TODAY: dt.date | None = None
    HEATING_CITY_FILE: Path = REPO_ROOT / "config" / "city.yml"
    SLA_FIRST_REPLY_MINUTES: int | None = None
    SLA_URGENT_MINUTES: int | None = None
    HTTP_TIMEOUT_SECONDS: float = 3.0
    # Reminders (docs/reminders.md): the WeChat API for template and customer-service messages.
    WECHAT_APPID: str = ""
    WECHAT_APPSECRET: SecretStr | None = None
    WECHAT_API_BASE: str = "https://api.weixin.qq.com"
    # Local wall-clock time seam (like HEATING_TODAY) for the reminders' quiet hours.
    HEATING_NOW: dt.datetime | None = None
    REMINDER_BACKOFF_SECONDS: float = 60.0

    # --- derived values -------------------------------------------------------------

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, with the psycopg 3 driver for plain postgresql:// URLs."""
        url = self.DATABASE_URL
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def timezone(self) -> ZoneInfo:
        """Day boundaries of the dashboard are local (the company's) days."""
        return ZoneInfo(self.CONSOLE_TIMEZONE)

    @property
    def rasa_base_url(self) -> str:
        return f"http://{self.RASA_HOST}:{self.RASA_PORT}"

    @property
    def consumer_name(self) -> str:
        """Stable across restarts, so a restarted console re-reads its own pending entries."""
        if self.CONSOLE_CONSUMER_NAME:
            return self.CONSOLE_CONSUMER_NAME
        return f"console-{os.uname().nodename}-{self.CONSOLE_PORT}"

    @property
    def redis_block_ms(self) -> int:
        """The longest BLOCK of a stream read: the socket timeout less a margin of a third (at least 1 s)."""
        timeout = self.CONSOLE_REDIS_TIMEOUT_SECONDS
        return int((timeout - max(timeout / 3, 1.0)) * 1000)

    @property
    def sse_block_ms(self) -> int:
        """How long the live stream waits for events before a heartbeat (and a session re-check)."""
        wanted = max(min(self.CONSOLE_SSE_HEARTBEAT_SECONDS, self.CONSOLE_SSE_CHECK_SECONDS), 0.5)
        return min(int(wanted * 1000), self.redis_block_ms)

    @property
    def keys(self) -> KeySpace:
        """The Redis key names under the shared prefix (heatdesk_contract.keys)."""
        return KeySpace(self.HEATDESK_KEY_PREFIX)

    def city(self) -> dict[str, Any]:
        return _load_city(str(self.HEATING_CITY_FILE))

    def today(self) -> dt.date:
        """`HEATING_TODAY` when set (tests, demos), else the company's local date."""
        if self.HEATING_TODAY is not None:
            return self.HEATING_TODAY
        return dt.datetime.now(self.timezone).date()

    def local_now(self) -> dt.datetime:
        """`HEATING_NOW` when set (read as the company's local time), else the local wall clock."""
        if self.HEATING_NOW is not None:
            now = self.HEATING_NOW
            return now if now.tzinfo else now.replace(tzinfo=self.timezone)
        return dt.datetime.now(self.timezone)

    def session_secret(self) -> str:
        """The cookie-signing secret; generated once into var/ when not configured.

        Keeping the generated secret on disk means a console restart does not log
        every agent out (the SSE stream reconnects with the same cookie).
        """
        if self.CONSOLE_SESSION_SECRET is not None:
            return self.CONSOLE_SESSION_SECRET.get_secret_value()
        return _generated_secret(str(REPO_ROOT / "var" / "console_session_secret"))

    def sla_minutes(self, priority: str) -> int:
        """SLA_* settings first, then the city file, then DESIGN.md's 30 and 10 minutes (heatdesk_contract.city)."""
        return city_sla_minutes(self.city(), priority, self.SLA_FIRST_REPLY_MINUTES, self.SLA_URGENT_MINUTES)


@lru_cache(maxsize=4)
def _load_city(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        logger.warning("city file %s not found; using built-in SLA defaults", path)
        return {}
    return data if isinstance(data, dict) else {}


@lru_cache(maxsize=4)
def _generated_secret(path: str) -> str:
    secret_file = Path(path)
    if secret_file.exists():
        return secret_file.read_text(encoding="utf-8").strip()
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another console process won the race: use its secret
        return secret_file.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    logger.warning("CONSOLE_SESSION_SECRET is not set; generated one in %s", secret_file)
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process (read once)."""
    return Settings()

