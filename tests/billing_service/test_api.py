"""The billing API on SQLite and PostgreSQL: contract, errors, seed loading."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing_client.rule import LateFeePolicy, Payment, compute_late_fee
from billing_service import deps
from billing_service.db import upgrade_to_head, make_engine, make_session_factory
from billing_service.main import create_app
from billing_service.models import Account, Bill
from billing_service.models import Payment as PaymentRow
from billing_service.seed import SeedError, load_seed
from billing_service.settings import ROOT, Settings

DEMO_SEED = ROOT / "billing_service" / "demo_seed.json"
HEATING_TODAY = dt.date(2025, 2, 15)  # the same day the conftest's settings use

SEED_DATA: dict[str, Any] = json.loads(DEMO_SEED.read_text(encoding="utf-8"))
SEED_BY_NO = {a["account_no"]: a for a in SEED_DATA["accounts"]}


# -- health ------------------------------------------------------------------------------


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_health_is_503_when_the_database_is_down(client: TestClient) -> None:
    dead = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2")

    def broken_session() -> Iterator[Session]:
        with make_session_factory(dead)() as session:
            yield session

    client.app.dependency_overrides[deps.get_session] = broken_session  # type: ignore[attr-defined]
    try:
        response = client.get("/health")
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
        dead.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


# -- accounts ---------------------------------------------------------------------------


def test_design_example_account(client: TestClient) -> None:
    response = client.get("/api/v1/accounts/2024000001")
    assert response.status_code == 200
    assert response.json() == {
        "account_no": "2024000001",
        "holder": "张三",
        "phone_masked": "138****5678",
        "address": "阳光小区3号楼2单元501",
        "district": "南岗区",
        "area_m2": "96.50",
        "bills": [
            {
                "season": "2024-2025",
                "principal": "2509.00",
                "due_date": "2024-12-31",
                "payments": [{"date": "2025-01-10", "amount": "1000.00", "channel": "wechat"}],
            }
        ],
    }


def test_every_account_matches_seed_and_never_shows_the_phone(client: TestClient) -> None:
    for number, seeded in SEED_BY_NO.items():
        response = client.get(f"/api/v1/accounts/{number}")
        assert response.status_code == 200
        assert seeded["phone"] not in response.text
        body = response.json()
        assert body["phone_masked"] == seeded["phone"][:3] + "****" + seeded["phone"][-4:]
        assert body["bills"] == [
            {
                "season": b["season"],
                "principal": b["principal"],
                "due_date": b["due_date"],
                "payments": sorted(b["payments"], key=lambda p: p["date"]),
            }
            for b in sorted(seeded["bills"], key=lambda b: b["due_date"])
        ]


def test_unknown_account_is_404_json(client: TestClient) -> None:
    response = client.get("/api/v1/accounts/2024009999")
    assert response.status_code == 404
    assert response.json() == {"code": "account_not_found", "message": "no account 2024009999"}


@pytest.mark.parametrize(
    "account_no",
    ["1234567", "12345678901", "abcdefgh", "2024-00001", "２０２４０００００１", "20240000%0A", "%20%2020240000", "-12345678"],
)
def test_malformed_account_number_is_422(client: TestClient, account_no: str) -> None:
    response = client.get(f"/api/v1/accounts/{account_no}")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["loc"] == ["path", "account_no"]


def test_verify_phone(client: TestClient) -> None:
    url = "/api/v1/accounts/2024000001/verify"
    assert client.post(url, json={"phone_last4": "5678"}).json() == {"verified": True}
    assert client.post(url, json={"phone_last4": "8765"}).json() == {"verified": False}
    unknown = client.post("/api/v1/accounts/2024009999/verify", json={"phone_last4": "5678"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "account_not_found"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"phone_last4": "567"},
        {"phone_last4": "56789"},
        {"phone_last4": "abcd"},
        {"phone_last4": "５６７８"},
        {"phone_last4": 5678},
        {"phone_last4": None},
        {"phone_last4": "5678", "phone": "13800005678"},
        [],
        "5678",
    ],
)
def test_malformed_verify_body_is_422_and_echoes_nothing(client: TestClient, body: Any) -> None:
    response = client.post("/api/v1/accounts/2024000001/verify", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "13800005678" not in response.text


@pytest.mark.parametrize(
    "raw",
    [b'{"phone_last4": ', b'{"phone_last4": NaN}', b'{"phone_last4": Infinity}', b"\xff\xfe\x00", b"", b"null",
     b'{"phone_last4": "5678", "phone_last4": 1}', b"[" * 5000],
)
def test_verify_with_broken_json_is_422(client: TestClient, raw: bytes) -> None:
    response = client.post("/api/v1/accounts/2024000001/verify", content=raw, headers={"Content-Type": "application/json"})
    # 422 for JSON that parses but does not fit; FastAPI's 400 for bytes that are not JSON at all.
    assert (response.status_code, response.json()["code"]) in ((422, "validation_error"), (400, "bad_request"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=30))
def test_no_500_for_any_account_path(client: TestClient, text: str) -> None:
    response = client.get("/api/v1/accounts/" + quote(text, safe=""))
    assert response.status_code in (200, 404, 422), (text, response.status_code, response.text)
    # ".", ".." or "/" (an encoded slash the client decodes) collapse to the collection
    # (`GET /api/v1/accounts`, a page of accounts); a real 户号 (Hypothesis also tries the constants it
    # finds in the code, such as the seed's 2024000001) is that account; every other answer is an error
    # object with its code.
    body = response.json()
    assert ("code" in body or ("accounts" in body and text.strip("./") == "")
            or (response.status_code == 200 and body.get("account_no") == text)), (text, body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(json_values, st.fixed_dictionaries({"phone_last4": json_values})))
def test_no_500_for_any_verify_body(client: TestClient, body: Any) -> None:
    response = client.post("/api/v1/accounts/2024000001/verify", json=body)
    assert response.status_code in (200, 422), (body, response.status_code, response.text)


# -- reports ----------------------------------------------------------------------------


def _expected_report(as_of: dt.date) -> dict[str, dict[str, Any]]:
    """The arrears report recomputed straight from the seed file with the rule."""
    out: dict[str, dict[str, Any]] = {}
    for account in SEED_DATA["accounts"]:
        row = out.setdefault(
            account["district"],
            {"households": 0, "households_in_arrears": 0, "bills_in_arrears": 0,
             "unpaid_principal": Decimal("0.00"), "late_fees": Decimal("0.00"), "credit_warnings": 0},
        )
        row["households"] += 1
        owes = warn = False
        for bill in account["bills"]:
            due = dt.date.fromisoformat(bill["due_date"])
            if due >= as_of:
                continue
            payments = [Payment(dt.date.fromisoformat(p["date"]), Decimal(p["amount"])) for p in bill["payments"]]
            result = compute_late_fee(Decimal(bill["principal"]), due, as_of, payments, LateFeePolicy())
            if result.total_due > 0:
                owes = True
                row["bills_in_arrears"] += 1
                row["unpaid_principal"] += result.unpaid_principal
                row["late_fees"] += result.late_fee
            warn = warn or result.credit_warning
        row["households_in_arrears"] += owes
        row["credit_warnings"] += warn
    return out


@pytest.mark.parametrize("as_of", ["2025-02-15", "2024-06-30", "2025-12-01", "2026-12-31"])
def test_arrears_report_matches_the_rule(client: TestClient, as_of: str) -> None:
    response = client.get("/api/v1/reports/arrears", params={"as_of": as_of})
    assert response.status_code == 200
    body = response.json()
    expected = _expected_report(dt.date.fromisoformat(as_of))
    assert body["as_of"] == as_of
    assert (body["rate"], body["rule_start"], body["cap_ratio"]) == ("0.001", "2024-01-01", "1.0")
    assert [d["district"] for d in body["districts"]] == sorted(expected)
    for row in body["districts"]:
        want = expected[row["district"]]
        assert row["households"] == want["households"]
        assert row["households_in_arrears"] == want["households_in_arrears"]
        assert row["bills_in_arrears"] == want["bills_in_arrears"]
        assert row["unpaid_principal"] == f"{want['unpaid_principal']:.2f}"
        assert row["late_fees"] == f"{want['late_fees']:.2f}"
        assert row["total_owed"] == f"{want['unpaid_principal'] + want['late_fees']:.2f}"
        assert row["credit_warnings"] == want["credit_warnings"]
    total = body["total"]
    assert total["district"] == "合计"
    assert total["households"] == len(SEED_DATA["accounts"])
    assert Decimal(total["late_fees"]) == sum(Decimal(d["late_fees"]) for d in body["districts"])


def test_demo_seed_has_a_realistic_mix(client: TestClient) -> None:
    body = client.get("/api/v1/reports/arrears", params={"as_of": "2025-02-15"}).json()
    total = body["total"]
    assert total["households"] >= 30
    assert len(body["districts"]) >= 5
    assert 0 < total["households_in_arrears"] < total["households"]  # some paid, some not
    assert total["credit_warnings"] > 0  # some overdue more than 30 days


def test_arrears_default_as_of_is_heating_today(client: TestClient) -> None:
    body = client.get("/api/v1/reports/arrears").json()
    assert body["as_of"] == HEATING_TODAY.isoformat()


@pytest.mark.parametrize("as_of", ["2025-2-15", "2025-02-30", "tomorrow", "1700000000", "2025-02-15T00:00:00", ""])
def test_arrears_bad_as_of_is_422(client: TestClient, as_of: str) -> None:
    response = client.get("/api/v1/reports/arrears", params={"as_of": as_of})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


# -- OpenAPI is the contract ---------------------------------------------------------


def test_openapi_documents_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {t["name"] for t in spec["tags"]} >= {"accounts", "reports", "health"}
    paths = spec["paths"]
    assert set(paths) >= {
        "/health",
        "/api/v1/accounts/{account_no}",
        "/api/v1/accounts/{account_no}/verify",
        "/api/v1/reports/arrears",
    }
    get_account = paths["/api/v1/accounts/{account_no}"]["get"]
    assert get_account["tags"] == ["accounts"] and get_account["description"]
    assert {"200", "404", "422"} <= set(get_account["responses"])
    bill = spec["components"]["schemas"]["BillOut"]["properties"]
    assert bill["principal"]["type"] == "string"
    assert "pattern" in bill["principal"]
    assert "phone" not in spec["components"]["schemas"]["AccountOut"]["properties"]


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    assert client.get("/api/v1/nothing").json()["code"] == "not_found"
    response = client.delete("/api/v1/accounts/2024000001")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


# -- seed loading -----------------------------------------------------------------------


def _counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return (
                session.scalar(select(func.count()).select_from(Account)) or 0,
                session.scalar(select(func.count()).select_from(Bill)) or 0,
                session.scalar(select(func.count()).select_from(PaymentRow)) or 0,
            )
    finally:
        engine.dispose()


def _seed_totals() -> tuple[int, int, int]:
    accounts = SEED_DATA["accounts"]
    bills = [b for a in accounts for b in a["bills"]]
    return len(accounts), len(bills), sum(len(b["payments"]) for b in bills)


@pytest.fixture
def fresh_url(backend: str, make_database: Callable[[str], str]) -> str:
    return make_database(backend)


def test_seed_is_idempotent_and_replaces(fresh_url: str, tmp_path: Path) -> None:
    engine = make_engine(fresh_url)
    try:
        upgrade_to_head(engine)
        assert load_seed(engine, DEMO_SEED) == 40
        assert _counts(fresh_url) == _seed_totals()
        load_seed(engine, DEMO_SEED)
        assert _counts(fresh_url) == _seed_totals()

        small = tmp_path / "small.json"
        small.write_text(json.dumps({"accounts": [{
            "account_no": "88880001", "holder": "测试", "phone": "13912340000", "address": "测试小区1-1-101",
            "district": "松北区", "area_m2": "10.00",
            "bills": [{"season": "2025-2026", "principal": "12345678.91", "due_date": "2025-10-20", "payments": []}],
        }]}, ensure_ascii=False), encoding="utf-8")
        load_seed(engine, small)
        assert _counts(fresh_url) == (1, 1, 0)
        with Session(engine) as session:
            (bill,) = session.scalars(select(Bill)).all()
            assert bill.principal == Decimal("12345678.91")  # exact on every backend (integer fen)
    finally:
        engine.dispose()


BAD_SEEDS: list[tuple[str, Any, str]] = [
    ("not json", "{oops", "not valid JSON"),
    ("unknown field", {"accounts": [], "extra": 1}, "extra"),
    ("duplicate account", {"accounts": [SEED_BY_NO["2024000001"], SEED_BY_NO["2024000001"]]}, "duplicate account_no"),
    ("bad phone", {"accounts": [{**SEED_BY_NO["2024000001"], "phone": "5678"}]}, "phone"),
    ("bad account number", {"accounts": [{**SEED_BY_NO["2024000001"], "account_no": "12"}]}, "account_no"),
    ("three decimals", {"accounts": [{**SEED_BY_NO["2024000001"], "area_m2": "96.505"}]}, "area_m2"),
    ("bad season", {"accounts": [{**SEED_BY_NO["2024000001"], "bills": [
        {**SEED_BY_NO["2024000001"]["bills"][0], "season": "2024-2026"}]}]}, "consecutive"),
    ("payment before the bill", {"accounts": [{**SEED_BY_NO["2024000001"], "bills": [
        {**SEED_BY_NO["2024000001"]["bills"][0], "payments": [{"date": "2022-01-01", "amount": "5.00", "channel": "bank"}]}]}]},
     "before the bill was issued"),
]


@pytest.mark.parametrize(("label", "content", "message"), BAD_SEEDS, ids=[b[0] for b in BAD_SEEDS])
def test_bad_seed_is_refused_and_changes_nothing(fresh_url: str, tmp_path: Path, label: str, content: Any, message: str) -> None:
    engine = make_engine(fresh_url)
    try:
        upgrade_to_head(engine)
        load_seed(engine, DEMO_SEED)
        path = tmp_path / "bad.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False), encoding="utf-8")
        with pytest.raises(SeedError, match=message):
            load_seed(engine, path)
        assert _counts(fresh_url) == _seed_totals()
        with pytest.raises(SeedError, match="cannot read"):
            load_seed(engine, tmp_path / "missing.json")
    finally:
        engine.dispose()


def test_app_start_replaces_existing_data(fresh_url: str, settings_for: Callable[..., Settings]) -> None:
    for _ in range(2):  # a restart loads the seed again over the old data
        with TestClient(create_app(settings_for(fresh_url))) as test_client:
            assert test_client.get("/api/v1/accounts/2024000040").status_code == 200
    assert _counts(fresh_url) == _seed_totals()


def test_app_without_seed_keeps_its_data(fresh_url: str, settings_for: Callable[..., Settings]) -> None:
    with TestClient(create_app(settings_for(fresh_url, seed=None))) as test_client:
        assert test_client.get("/api/v1/accounts/2024000001").status_code == 404
        assert test_client.get("/health").status_code == 200


def test_seed_command(fresh_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BILLING_DATABASE_URL": fresh_url, "BILLING_SEED_FILE": str(DEMO_SEED)}
    proc = subprocess.run([sys.executable, "-m", "billing_service.seed"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "loaded 40 accounts" in proc.stdout
    assert _counts(fresh_url) == _seed_totals()
    bad = subprocess.run(
        [sys.executable, "-m", "billing_service.seed", "--file", "/nonexistent/seed.json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2
    assert "cannot read seed file" in bad.stderr and "Traceback" not in bad.stderr


# -- settings ---------------------------------------------------------------------------


def test_settings_defaults_and_relative_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BILLING_DATABASE_URL", "BILLING_SEED_FILE", "HEATING_TODAY", "BILLING_PORT", "HEATING_CITY_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings_ = Settings()
    assert settings_.BILLING_PORT == 8100
    assert settings_.database_url == f"sqlite:///{ROOT / 'var' / 'billing.db'}"
    assert settings_.seed_path == ROOT / "billing_service" / "demo_seed.json"
    assert settings_.HEATING_TODAY is None
    # Empty is unset (env_ignore_empty): the defaults, as on the Rasa side and in the console.
    for name in ("BILLING_DATABASE_URL", "BILLING_SEED_FILE", "HEATING_TODAY", "BILLING_PORT", "HEATING_CITY_FILE"):
        monkeypatch.setenv(name, "")
    assert Settings() == settings_
    monkeypatch.setenv("BILLING_SEED_FILE", "none")
    monkeypatch.setenv("BILLING_PORT", "9100")
    settings_ = Settings()
    assert (settings_.HEATING_TODAY, settings_.seed_path, settings_.BILLING_PORT) == (None, None, 9100)
    monkeypatch.setenv("HEATING_TODAY", "2025-02-15")
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql+psycopg://postgres@localhost/x")
    settings_ = Settings()
    assert settings_.today() == dt.date(2025, 2, 15)
    assert settings_.database_url == "postgresql+psycopg://postgres@localhost/x"


def test_late_fee_policy_comes_from_the_city_file(tmp_path: Path, settings_for: Callable[..., Settings]) -> None:
    city = tmp_path / "city.yml"
    city.write_text('late_fee:\n  rate_per_day: "0.002"\n  start: "2025-01-01"\n  cap_ratio: "0.1"\n  credit_warning_days: 60\n')
    policy = settings_for("sqlite://").model_copy(update={"HEATING_CITY_FILE": str(city)}).late_fee_policy()
    assert policy == LateFeePolicy(rate=Decimal("0.002"), start=dt.date(2025, 1, 1), cap_ratio=Decimal("0.1"), credit_warning_days=60)
    missing = settings_for("sqlite://").model_copy(update={"HEATING_CITY_FILE": str(tmp_path / "none.yml")})
    assert missing.late_fee_policy() == LateFeePolicy()
