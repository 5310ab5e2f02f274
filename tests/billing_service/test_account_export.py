"""`GET /api/v1/accounts/export`: every account as NDJSON, the bulk read reminder campaigns stream."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from billing_service import export


def exported(client: TestClient, **params: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The account lines and the trailer of one export."""
    answer = client.get("/api/v1/accounts/export", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert answer.text.endswith("\n")
    lines = answer.text.splitlines()
    *accounts, trailer = [json.loads(line) for line in lines]
    return accounts, trailer


def all_pages(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    accounts: list[dict[str, Any]] = []
    after: str | None = ""
    while after is not None:
        body = client.get("/api/v1/accounts", params={"after": after, "limit": 7, **params}).json()
        accounts += body["accounts"]
        after = body["next_after"]
    return accounts


def test_every_account_once_in_order_exactly_as_the_single_read(client: TestClient) -> None:
    accounts, trailer = exported(client)
    assert trailer == {"complete": True, "accounts": len(accounts)}
    assert accounts == all_pages(client)
    numbers = [a["account_no"] for a in accounts]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers) > 7
    for item in accounts:
        assert item == client.get(f"/api/v1/accounts/{item['account_no']}").json()


def test_lines_are_the_bytes_json_dumps_writes(client: TestClient) -> None:
    """Same keys, same order, same escaping as the single read's JSON (ensure_ascii=False)."""
    answer = client.get("/api/v1/accounts/export")
    for line in answer.text.splitlines()[:-1]:
        assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))


def test_resume_after_an_account_and_district(client: TestClient) -> None:
    accounts, _ = exported(client)
    middle = accounts[len(accounts) // 2]["account_no"]
    rest, trailer = exported(client, after=middle)
    assert rest == [a for a in accounts if a["account_no"] > middle] and trailer["accounts"] == len(rest)
    district = accounts[0]["district"]
    only, _ = exported(client, district=district)
    assert only == [a for a in accounts if a["district"] == district]
    assert exported(client, district="没有这个区") == ([], {"complete": True, "accounts": 0})


def owing(account: dict[str, Any], day: str) -> bool:
    return any(
        Decimal(bill["principal"]) > sum((Decimal(p["amount"]) for p in bill["payments"] if p["date"] <= day), Decimal(0))
        for bill in account["bills"]
    )


def test_owing_on_and_paid_since_leave_out_exactly_the_others(client: TestClient) -> None:
    accounts, _ = exported(client)
    for day in ("2024-12-30", "2025-01-10", "2025-02-15", "2026-01-01"):
        kept, trailer = exported(client, owing_on=day)
        assert kept == [a for a in accounts if owing(a, day)] and trailer["accounts"] == len(kept)
        paid, _ = exported(client, paid_since=day)
        assert paid == [a for a in accounts if any(p["date"] >= day for b in a["bills"] for p in b["payments"])]
    both, _ = exported(client, owing_on="2025-02-15", paid_since="2025-01-01")
    assert both == [a for a in accounts if owing(a, "2025-02-15")
                    and any(p["date"] >= "2025-01-01" for b in a["bills"] for p in b["payments"])]
    assert 0 < len(both) < len(accounts)


def test_malformed_filters_are_a_clear_422(client: TestClient) -> None:
    for params in ({"after": "abc"}, {"district": ""}, {"owing_on": "2025-02-30"}, {"paid_since": "yesterday"}):
        answer = client.get("/api/v1/accounts/export", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["code"] == "validation_error"


def test_amounts_from_integer_fen() -> None:
    assert export.yuan(250900) == "2509.00" and export.yuan(5) == "0.05" and export.yuan(-5) == "-0.05"
