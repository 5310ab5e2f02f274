"""The one module of the billing service that reads the environment.

Field names are the variables' names (as in console/settings.py); an empty variable
counts as unset (``env_ignore_empty``), the rule of every HeatDesk runtime
(docs/deployment.md, "Settings").
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml
from pydantic_settings import BaseSettings, SettingsConfigDict

from billing_client.rule import LateFeeInputError, LateFeePolicy
from heatdesk_contract import city as contract_city

ROOT = Path(__file__).resolve().parent.parent
#: The value of BILLING_SEED_FILE that loads no seed.
NO_SEED = "none"


class Settings(BaseSettings):
    """Environment variables of DESIGN.md ("Ports and settings") that this service uses.

    Relative paths (also inside a ``sqlite:///`` URL) are taken relative to the
    repository root, so the service behaves the same from any working directory.
    """

    # `make run` and shells export empty variables: empty = unset, so the default applies.
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True, env_ignore_empty=True)

    BILLING_DATABASE_URL: str = "sqlite:///var/billing.db"
    # `none` = load nothing, keep the database as it is (the default is the demo data).
    BILLING_SEED_FILE: Optional[str] = "billing_service/demo_seed.json"
    HEATING_TODAY: Optional[dt.date] = None
    BILLING_PORT: int = 8100
    HEATING_CITY_FILE: str = "config/city.yml"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, with a relative SQLite path anchored at the repo root."""
        url = self.BILLING_DATABASE_URL
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            relative = url[len(prefix):]
            if relative:
                return prefix + str(ROOT / relative)
        return url

    @property
    def seed_path(self) -> Optional[Path]:
        """The seed file to load at start; None for `BILLING_SEED_FILE=none`."""
        if self.BILLING_SEED_FILE is None or self.BILLING_SEED_FILE.lower() == NO_SEED:
            return None
        path = Path(self.BILLING_SEED_FILE)
        return path if path.is_absolute() else ROOT / path

    @property
    def city_path(self) -> Path:
        path = Path(self.HEATING_CITY_FILE)
        return path if path.is_absolute() else ROOT / path

    def today(self) -> dt.date:
        """``HEATING_TODAY`` when set (tests, demos), else the real date."""
        return self.HEATING_TODAY or dt.date.today()

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
