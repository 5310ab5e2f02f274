"""The service side's settings (console/settings.py, billing_service/settings.py): pydantic-settings
classes whose field names are the variables' names, an empty variable counting as unset (the rule of
the Rasa side too), and every variable in its documented table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Type

import pytest
from pydantic_settings import BaseSettings

from billing_service.settings import Settings as BillingSettings
from console.settings import REPO_ROOT, Settings as ConsoleSettings

TABLES = {ConsoleSettings: ("docs/console_api.md", "## Settings (environment"),
          BillingSettings: ("docs/billing_api.md", "## The reference service")}


@pytest.mark.parametrize("settings_class", [ConsoleSettings, BillingSettings])
def test_an_empty_variable_is_unset(settings_class: Type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in settings_class.model_fields:
        monkeypatch.delenv(name, raising=False)
    defaults = settings_class()
    for name in settings_class.model_fields:
        monkeypatch.setenv(name, "")
    assert settings_class() == defaults
    assert settings_class.model_config.get("env_ignore_empty") is True
    assert settings_class.model_config.get("case_sensitive") is True
    assert all(name.isupper() for name in settings_class.model_fields)  # the variables' own names


def test_empty_optional_values_stay_unset_and_set_ones_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HEATING_TODAY", "HEATING_NOW", "CONSOLE_ADMIN_USER", "RASA_TOKEN", "SLA_URGENT_MINUTES", "HEATDESK_KEY_PREFIX"):
        monkeypatch.setenv(name, "")
    settings = ConsoleSettings()
    assert (settings.HEATING_TODAY, settings.HEATING_NOW, settings.CONSOLE_ADMIN_USER, settings.RASA_TOKEN) == (None,) * 4
    assert settings.sla_minutes("urgent") == 10 and settings.keys.queue() == "heatdesk:queue"
    monkeypatch.setenv("HEATING_TODAY", "2025-02-15")
    monkeypatch.setenv("SLA_URGENT_MINUTES", "5")
    settings = ConsoleSettings()
    assert settings.today().isoformat() == "2025-02-15" and settings.sla_minutes("urgent") == 5


@pytest.mark.parametrize("settings_class", [ConsoleSettings, BillingSettings])
def test_every_variable_is_in_its_settings_table(settings_class: Type[BaseSettings]) -> None:
    path, heading = TABLES[settings_class]
    text = (Path(REPO_ROOT) / path).read_text(encoding="utf-8")
    section = text[text.index(heading):]
    section = section[: section.find("\n## ", 3)]
    documented = set(re.findall(r"`([A-Z0-9_]+)`", section))
    assert set(settings_class.model_fields) <= documented, sorted(set(settings_class.model_fields) - documented)
