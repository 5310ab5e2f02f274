"""`GET /api/v1/accounts`: the bulk read the console's reminder campaigns page through."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def all_pages(client: TestClient, limit: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
    accounts: list[dict[str, Any]] = []
    after, pages = "", 0
    while after is not None:
        answer = client.get("/api/v1/accounts", params={"after": after, "limit": limit, **params})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        accounts += body["accounts"]
        after, pages = body["next_after"], pages + 1
        assert pages < 1000
    return accounts, pages


def test_pages_cover_every_account_once_in_order_exactly_as_the_single_read(client: TestClient) -> None:
    whole, pages = all_pages(client, 1000)
    small, small_pages = all_pages(client, 7)
    numbers = [a["account_no"] for a in whole]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers) > 7
    assert small == whole and small_pages > pages
    for item in whole[:5] + whole[-5:]:
        assert item == client.get(f"/api/v1/accounts/{item['account_no']}").json()
        assert "*" in item["phone_masked"]


def test_district_filter(client: TestClient) -> None:
    whole, _ = all_pages(client, 1000)
    district = whole[0]["district"]
    only, _ = all_pages(client, 3, district=district)
    assert only == [a for a in whole if a["district"] == district]
    assert all_pages(client, 10, district="没有这个区")[0] == []


def test_malformed_paging_is_a_clear_422(client: TestClient) -> None:
    for params in ({"after": "abc"}, {"limit": 0}, {"limit": 5001}, {"district": ""}):
        answer = client.get("/api/v1/accounts", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["code"] == "validation_error"
