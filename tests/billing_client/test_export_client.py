"""BillingClient.export_accounts: the NDJSON export read from the real billing service, and the
ways a stream can go wrong, from a scripted server."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing
from datetime import date
from typing import Any

import pytest

from billing_client.bulk import Household, household_of, parse_households
from billing_client.client import BillingClient, BillingUnavailable, ExportUnsupported

ACCOUNT = {"account_no": "2024000001", "holder": "张三", "phone_masked": "138****5678", "address": "x",
           "district": "南岗区", "area_m2": "96.50", "bills": []}


async def read_all(client: BillingClient, **kwargs: Any) -> list[list[Household]]:
    """The export as the batches the client yields, each parsed."""
    batches = []
    async with aclosing(client.export_accounts(**kwargs)) as stream:
        async for lines in stream:
            batches.append(parse_households(lines))
    return batches


def test_every_account_as_the_single_read_gives_it(billing_server: str, seed_accounts: dict[str, Any]) -> None:
    async def go() -> None:
        async with BillingClient(billing_server) as client:
            batches = await read_all(client, batch_lines=4)
            singles = [household_of(await client.get_account(number)) for number in sorted(seed_accounts)]
            households = [household for batch in batches for household in batch]
            assert households == singles
            assert len(batches) > 1 and all(len(batch) >= 4 for batch in batches[:-1])
            middle = households[len(households) // 2][0]
            rest = await read_all(client, after=middle)
            assert [h for batch in rest for h in batch] == [h for h in households if h[0] > middle]
            owing = [h for batch in await read_all(client, owing_on=date(2025, 2, 15)) for h in batch]
            assert 0 < len(owing) < len(households) and set(owing) <= set(households)
            assert client.breaker.state == "closed"

    asyncio.run(go())


def ndjson(*items: Any) -> bytes:
    return b"".join(json.dumps(item, ensure_ascii=False).encode() + b"\n" for item in items)


def test_a_stream_without_its_trailer_or_cut_short_is_unavailable(scripted_server: Any) -> None:
    async def go() -> None:
        client = BillingClient(scripted_server.base_url, failure_threshold=10)
        scripted_server.body = ndjson(ACCOUNT, {**ACCOUNT, "account_no": "2024000002"})
        with pytest.raises(BillingUnavailable, match="trailer"):
            await read_all(client)
        scripted_server.body = ndjson(ACCOUNT, {"complete": True, "accounts": 2})
        with pytest.raises(BillingUnavailable, match="counts 2 accounts, 1 were received"):
            await read_all(client)
        scripted_server.body = ndjson(ACCOUNT, {"complete": True, "accounts": 1})
        scripted_server.truncate = True
        with pytest.raises(BillingUnavailable, match="broke off"):
            await read_all(client)
        scripted_server.truncate = False
        assert await read_all(client) == [parse_households([json.dumps(ACCOUNT).encode()])]
        assert client.breaker.consecutive_failures == 0  # a good answer closes it again
        assert all(path.startswith("/api/v1/accounts/export?after=") for path in scripted_server.paths)
        await client.aclose()

    asyncio.run(go())


def test_no_export_endpoint_is_said_so_and_a_server_error_is_unavailable(scripted_server: Any) -> None:
    async def go() -> None:
        client = BillingClient(scripted_server.base_url, failure_threshold=2)
        scripted_server.status, scripted_server.body = 404, {"code": "not_found", "message": "no such path"}
        for _ in range(3):
            with pytest.raises(ExportUnsupported):
                await read_all(client)
        assert client.breaker.state == "closed"  # the billing system answered: it is up
        scripted_server.status = 503
        for _ in range(2):
            with pytest.raises(BillingUnavailable):
                await read_all(client)
        assert client.breaker.state == "open"
        await client.aclose()

    asyncio.run(go())


def test_the_filters_travel_as_query_parameters(scripted_server: Any) -> None:
    async def go() -> None:
        async with BillingClient(scripted_server.base_url) as client:
            scripted_server.body = ndjson({"complete": True, "accounts": 0})
            assert await read_all(client, after="2024000009", district="南岗区", owing_on=date(2025, 2, 15),
                                  paid_since=date(2025, 2, 9)) == []
        [path] = scripted_server.paths
        assert path == ("/api/v1/accounts/export?after=2024000009&district=%E5%8D%97%E5%B2%97%E5%8C%BA"
                        "&owing_on=2025-02-15&paid_since=2025-02-09")

    asyncio.run(go())
