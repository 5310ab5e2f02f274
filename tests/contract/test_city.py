"""The late-fee policy is built from the city file in one place, with the rule's own defaults."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

from billing_client.rule import LateFeeInputError, LateFeePolicy
from heatdesk_contract.city import late_fee_policy

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_city_file_gives_design_md_rule() -> None:
    city = yaml.safe_load((ROOT / "config" / "city.yml").read_text(encoding="utf-8"))
    assert late_fee_policy(city) == LateFeePolicy(
        rate=Decimal("0.001"), start=dt.date(2024, 1, 1), cap_ratio=Decimal("1.0"), credit_warning_days=30)


@pytest.mark.parametrize("city", [{}, None, {"late_fee": None}, {"late_fee": {}}])
def test_what_the_file_leaves_out_takes_the_rules_defaults(city: Any) -> None:
    assert late_fee_policy(city) == LateFeePolicy()


def test_every_setting_is_read() -> None:
    city = {"late_fee": {"rate_per_day": 0.0005, "start": dt.date(2025, 3, 1), "cap_ratio": "0.3",
                         "credit_warning_days": "10"}}
    assert late_fee_policy(city) == LateFeePolicy(
        rate=Decimal("0.0005"), start=dt.date(2025, 3, 1), cap_ratio=Decimal("0.3"), credit_warning_days=10)


@pytest.mark.parametrize("rule", [
    {"rate_per_day": "lots"}, {"rate_per_day": "-0.001"}, {"start": "2024-13-01"}, {"cap_ratio": "NaN"},
    {"credit_warning_days": "thirty"}, {"credit_warning_days": -1},
])
def test_a_bad_value_is_a_clear_error(rule: Dict[str, Any]) -> None:
    with pytest.raises(LateFeeInputError):
        late_fee_policy({"late_fee": rule})
    with pytest.raises(LateFeeInputError):
        late_fee_policy({"late_fee": ["not", "a", "mapping"]})


def test_sla_minutes_one_rule_for_both_runtimes() -> None:
    """The bot scores the queue with the due time the console gives the ticket: one function decides it."""
    from heatdesk_contract.city import sla_minutes

    city = {"sla": {"first_reply_minutes": 45, "urgent_minutes": 5}}
    assert [sla_minutes(city, p) for p in ("urgent", "high", "normal")] == [5, 45, 45]
    assert [sla_minutes(c, p) for c in ({}, None, {"sla": None}) for p in ("urgent", "normal")] == [10, 30] * 3
    assert sla_minutes(city, "normal", first_reply=20, urgent=3) == 20
    assert sla_minutes(city, "urgent", first_reply=20, urgent=3) == 3
