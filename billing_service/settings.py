"""The one module of the billing service that reads the environment."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from billing_client.rule import LateFeeInputError, LateFeePolicy
from heatdesk_contract import city as contract_city

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Environment variables of DESIGN.md ("Ports and settings") that this service uses.

    Relative paths (also inside a ``sqlite:///`` URL) are taken relative to the
    repository root, so the service behaves the same from any working directory.
    """

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    billing_database_url: str = "sqlite:///var/billing.db"
    billing_seed_file: Optional[str] = "billing_service/demo_seed.json"
    heating_today: Optional[dt.date] = None
    billing_port: int = 8100
    heating_city_file: str = "config/city.yml"

    @field_validator("heating_today", "billing_seed_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """An empty variable means "not set" (``HEATING_TODAY=`` in a shell)."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, with a relative SQLite path anchored at the repo root."""
        url = self.billing_database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            relative = url[len(prefix):]
            if relative:
                return prefix + str(ROOT / relative)
        return url

    @property
    def seed_path(self) -> Optional[Path]:
        if not self.billing_seed_file:
            return None
        path = Path(self.billing_seed_file)
        return path if path.is_absolute() else ROOT / path

    @property
    def city_path(self) -> Path:
        path = Path(self.heating_city_file)
        return path if path.is_absolute() else ROOT / path

    def today(self) -> dt.date:
        """``HEATING_TODAY`` when set (tests, demos), else the real date."""
        return self.heating_today or dt.date.today()

    def late_fee_policy(self) -> LateFeePolicy:
        """The late-fee settings from the city file; the rule's defaults if it is absent."""
        path = self.city_path
        if not path.is_file():
            return LateFeePolicy()
        with path.open(encoding="utf-8") as handle:
            city = yaml.safe_load(handle) or {}
        try:
            return contract_city.late_fee_policy(city)
        except LateFeeInputError as exc:
            raise LateFeeInputError(f"{path}: {exc}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
