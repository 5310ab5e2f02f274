"""Planning reads the billing system in bulk: the NDJSON export, resumed after a broken stream,
or the pages of a billing system that has no export. Either way every household is planned
exactly once, with the figures the reference planner gives; and the plan's rows are written in
bulk (COPY on PostgreSQL) exactly as the ORM would write them."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import json
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from billing_client.client import BillingError
from billing_client.models import Account
from console.db import bulk_insert, make_engine, make_session_factory, upgrade_to_head, utcnow
from console.reminders import planner, service
from console.reminders.models import Campaign, ReminderSend
from console.settings import Settings
from console_helpers import temporary_pg_database

AS_OF = dt.date(2025, 2, 15)


def households(count: int) -> list[dict[str, Any]]:
    """Accounts as a company's billing API returns them: paid, partly paid late, unpaid."""
    rng = random.Random(17)
    accounts = []
    for index in range(count):
        principal = rng.randint(100_00, 4000_00)
        payments = []
        roll = rng.random()
        if roll < 0.4:
            payments = [{"date": "2024-11-20", "amount": f"{principal / 100:.2f}", "channel": "wechat"}]
        elif roll < 0.7:
            payments = [{"date": f"2025-01-{rng.randint(1, 31):02d}", "amount": f"{principal // 200}.00", "channel": "bank"}]
        accounts.append({
            "account_no": f"{2060000000 + index}", "holder": "王五", "phone_masked": "138****5678",
            "address": f"{index}号", "district": ("南岗区", "道里区")[index % 2], "area_m2": "80.00",
            "bills": [{"season": "2024-2025", "principal": f"{principal // 100}.{principal % 100:02d}",
                       "due_date": "2024-12-31", "payments": payments}],
        })
    return accounts


class CompanyBilling:
    """A company's billing API on localhost: the export (which can break off once) and the pages."""

    def __init__(self, accounts: list[dict[str, Any]]) -> None:
        self.accounts = accounts
        self.export = True
        self.cut_after: int | None = None  # account lines of the first export before the connection drops
        self.requests: list[tuple[str, dict[str, str]]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                url = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
                owner.requests.append((url.path, query))
                after = query.get("after", "")
                rest = [a for a in owner.accounts if a["account_no"] > after]
                if url.path == "/api/v1/accounts/export" and owner.export:
                    lines = [json.dumps(a, ensure_ascii=False).encode() + b"\n" for a in rest]
                    body = b"".join(lines) + json.dumps({"complete": True, "accounts": len(rest)}).encode() + b"\n"
                    sent = body
                    if owner.cut_after is not None:
                        sent, owner.cut_after = b"".join(lines[:owner.cut_after]) + lines[owner.cut_after][:9], None
                    self._send(200, body, sent, "application/x-ndjson")
                elif url.path == "/api/v1/accounts":
                    page = rest[:int(query["limit"])]
                    more = len(page) == int(query["limit"]) and len(rest) > len(page)
                    body = json.dumps({"accounts": page, "next_after": page[-1]["account_no"] if more else None},
                                      ensure_ascii=False).encode()
                    self._send(200, body, body, "application/json")
                else:
                    self._send(404, b'{"code":"not_found","message":"no such path"}', None, "application/json")

            def _send(self, status: int, body: bytes, sent: bytes | None, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body if sent is None else sent)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def company() -> Iterator[CompanyBilling]:
    server = CompanyBilling(households(2500))
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def plan_through_billing(url: str, spec: planner.Spec) -> list[planner.Target]:
    settings = Settings(HEATING_TODAY=AS_OF, BILLING_URL=url)

    async def go() -> list[planner.Target]:
        async with service.bulk_billing_client(settings) as billing:
            return await service.targets_of(settings, billing, spec, AS_OF)

    # A thread of its own: Playwright's sync API leaves an event loop running in this one when the
    # browser tests ran earlier in the same session.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def reference(accounts: list[dict[str, Any]], spec: planner.Spec) -> list[planner.Target]:
    settings = Settings(HEATING_TODAY=AS_OF)
    return planner.plan([Account.from_json(a) for a in accounts], spec, AS_OF, service.policy_of(settings),
                        planner.Rules.from_city(settings.city()))


def test_a_broken_export_resumes_after_the_last_household_planned(company: CompanyBilling) -> None:
    company.cut_after = 1500  # a batch (≥ 1000 lines) planned, then the connection drops mid-line
    spec = planner.Spec(kind="overdue")
    targets = plan_through_billing(company.url, spec)
    assert targets == reference(company.accounts, spec) and len(targets) > 1000
    exports = [query for path, query in company.requests if path == "/api/v1/accounts/export"]
    first, resumed = [q["after"] for q in exports]  # batches of at least 1000 lines, as they arrived
    assert first == "" and company.accounts[999]["account_no"] <= resumed < company.accounts[1499]["account_no"]
    assert all(q["owing_on"] == "2025-02-15" for q in exports)  # only households that can owe, please


def test_a_billing_system_without_the_export_is_read_page_by_page(company: CompanyBilling) -> None:
    company.export = False
    for spec in (planner.Spec(kind="overdue", district="道里区"), planner.Spec(kind="payment_credited", days=60)):
        assert plan_through_billing(company.url, spec) == reference(company.accounts, spec) != []
    assert sum(path == "/api/v1/accounts" for path, _ in company.requests) >= 2 * (2500 // service.PAGE_SIZE)


def test_a_filter_the_billing_system_ignores_changes_nothing(company: CompanyBilling) -> None:
    """The company's export above sends every account whatever owing_on / paid_since say."""
    spec = planner.Spec(kind="payment_credited", days=40)
    assert plan_through_billing(company.url, spec) == reference(company.accounts, spec) != []
    [(_path, query)] = company.requests
    assert query["paid_since"] == "2025-01-07"  # paid within the last 40 days: 01-07 .. 02-15


def test_a_malformed_account_fails_the_plan_with_the_field_named(company: CompanyBilling) -> None:
    company.accounts[1234]["bills"][0]["principal"] = 2509.0  # a float: money must be a string
    with pytest.raises(BillingError, match=r"malformed account: export line \d+ \(account 2060001234\): "
                                           r"account.bills\[0\].principal"):
        plan_through_billing(company.url, planner.Spec(kind="overdue"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bulk_rows_are_the_rows_the_orm_writes(backend: str, tmp_path: Any) -> None:
    def check(url: str) -> None:
        engine = make_engine(url)
        upgrade_to_head(engine)
        factory = make_session_factory(engine)
        now = utcnow()
        with factory() as session:
            campaign = Campaign(kind="overdue", status="planned", filters={}, as_of=AS_OF, preview={}, created_at=now)
            session.add(campaign)
            session.flush()
            names = ("campaign_id", "kind", "account_no", "district", "channel", "address", "state", "total_due",
                     "attempts", "updated_at")
            bulk_insert(session.connection(), ReminderSend.__table__, names, [
                (campaign.id, "overdue", "2031000001", "南岗区", "wechat", "o1", "queued", "1587.41", 0, now),
                (campaign.id, "overdue", "2031000002", "道里区", "none", None, "no_channel", "12.00", 0, now),
            ])
            session.add(ReminderSend(campaign_id=campaign.id, kind="overdue", account_no="2031000003",
                                     district="道里区", channel="none", state="no_channel", total_due="1.00",
                                     attempts=0, updated_at=now))
            session.commit()
        with factory() as session:
            rows = session.scalars(select(ReminderSend).order_by(ReminderSend.account_no)).all()
            assert [(r.account_no, r.channel, r.address, r.state, r.total_due) for r in rows] == [
                ("2031000001", "wechat", "o1", "queued", "1587.41"), ("2031000002", "none", None, "no_channel", "12.00"),
                ("2031000003", "none", None, "no_channel", "1.00")]
            assert {r.updated_at for r in rows} == {now}  # aware UTC back, like the ORM's own row
            assert session.scalar(select(ReminderSend.id).where(ReminderSend.account_no == "2031000003")) == 3
        engine.dispose()

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'console.db'}")
    else:
        with temporary_pg_database() as url:
            check(url)
