"""The digit normaliser the identity form reads 户号 and phone tails through."""

from __future__ import annotations

import pytest

from actions.common import ACCOUNT_RE, LAST4_RE
from actions.digits import normalize_digits


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("２０２４０００００１", "2024000001"),
        ("户号：２０２４０００００１", "户号:2024000001"),
        ("2024 0000 01", "2024000001"),
        ("2024-0000-01", "2024000001"),
        ("2024－0000－01", "2024000001"),
        ("2024\u30000000\u300001", "2024000001"),
        ("五六七八", "5678"),
        ("伍陆柒捌", "5678"),
        ("尾号是幺二三四", "尾号是1234"),
        ("2024 0000 01 5678", "2024000001 5678"),
        ("户号2024000006 尾号1021", "户号2024000006 尾号1021"),
        ("暖气费多少钱一平", "暖气费多少钱一平"),
        ("两天前交的", "两天前交的"),
        ("", ""),
    ],
)
def test_normalize_digits(typed: str, expected: str) -> None:
    assert normalize_digits(typed) == expected


def test_long_groups_that_cannot_be_an_account_stay_apart() -> None:
    text = "138 0013 8000 1234 5678"
    assert normalize_digits(text) == text


@pytest.mark.parametrize("typed", ["２０２４０００００１", "2024 0000 01", "户号：2024-0000-01"])
def test_normalised_account_numbers_are_found(typed: str) -> None:
    found = ACCOUNT_RE.search(normalize_digits(typed))
    assert found is not None and found.group(1) == "2024000001"


@pytest.mark.parametrize("typed", ["五六七八", "伍陆柒捌", "５６７８", "56 78"])
def test_normalised_phone_tails_are_found(typed: str) -> None:
    found = LAST4_RE.search(normalize_digits(typed))
    assert found is not None and found.group(1) == "5678"
