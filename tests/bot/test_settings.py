"""The Rasa runtime's settings (bot/settings.py): one reader, one empty-string rule (empty = unset, as
pydantic-settings' env_ignore_empty on the service side), and no other module of bot/, actions/ or
connectors/ reads the environment. Every variable is in the documented table."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, List

import pytest

from bot.settings import ROOT, VARIABLES, Settings, get_settings

RASA_SIDE = ("bot", "actions", "connectors")
DOCS_TABLE = ROOT / "docs" / "deployment.md"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_unset_variables_give_the_documented_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.redis_url == "redis://localhost:6379/0" and settings.billing_url == "http://localhost:8100"
    assert settings.key_prefix == "heatdesk:" and settings.action_host == "127.0.0.1"
    assert settings.city_file == ROOT / "config" / "city.yml"
    assert settings.wechat_allow_plain is False and settings.wechat_reply_deadline == 4.0
    assert settings.tracker_expiry_seconds == 30 * 24 * 3600 and settings.rest_inbox_ttl_seconds == 7 * 24 * 3600


def test_an_empty_variable_is_unset_for_every_setting(clean_env: pytest.MonkeyPatch) -> None:
    """`make run` and shells export empty variables: each means the default, never "" or a crash."""
    defaults = Settings()
    for name in VARIABLES:
        clean_env.setenv(name, "")
    assert Settings() == defaults


def test_values_are_parsed_as_the_type_of_their_default(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TRACKER_EXPIRY_SECONDS", " 3600 ")
    clean_env.setenv("WECHAT_REPLY_DEADLINE", "2.5")
    clean_env.setenv("HEATING_CITY_FILE", "/etc/heatdesk/city.yml")
    clean_env.setenv("HEATDESK_KEY_PREFIX", "hd-test:")
    clean_env.setenv("HEATING_TODAY", "2025-02-15")
    settings = Settings()
    assert (settings.tracker_expiry_seconds, settings.wechat_reply_deadline) == (3600, 2.5)
    assert settings.city_file == Path("/etc/heatdesk/city.yml")
    assert settings.keys.owner("rest:a") == "hd-test:owner:rest:a"
    assert settings.today().isoformat() == "2025-02-15"


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("Yes", True), ("on", True),
                                           ("0", False), ("false", False), ("no", False), ("off", False)])
def test_switches_read_like_the_service_sides(raw: str, expected: bool, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WECHAT_ALLOW_PLAIN", raw)
    assert Settings().wechat_allow_plain is expected


@pytest.mark.parametrize("name, raw", [("REST_INBOX_TTL_SECONDS", "a week"), ("WECHAT_ALLOW_PLAIN", "maybe"), ("WECHAT_REPLY_DEADLINE", "4s")])
def test_a_bad_value_names_its_variable(name: str, raw: str, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv(name, raw)
    with pytest.raises(ValueError, match=f"{name}='{raw}' is not a valid"):
        Settings()


def _environment_reads(path: Path) -> List[str]:
    """`os.environ…` / `os.getenv(…)` / `from os import environ` in one module."""
    found: List[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and any(
            alias.name in ("environ", "getenv") for alias in node.names
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_other_rasa_side_module_reads_the_environment() -> None:
    modules = [path for folder in RASA_SIDE for path in (ROOT / folder).rglob("*.py")]
    assert len(modules) > 30
    reads = [read for path in modules if path != ROOT / "bot" / "settings.py" for read in _environment_reads(path)]
    assert reads == []
    assert _environment_reads(ROOT / "bot" / "settings.py")  # the scan sees a read where there is one


def test_every_variable_is_in_the_settings_table() -> None:
    text = DOCS_TABLE.read_text(encoding="utf-8")
    section = text[text.index("## Settings"):]
    section = section[: section.find("\n## ", 3)]
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", section, re.M)) | set(re.findall(r"`([A-Z0-9_]+)`", section))
    assert set(VARIABLES) <= documented, sorted(set(VARIABLES) - documented)
