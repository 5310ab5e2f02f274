"""Pure parts of reminders: which households a campaign targets and with what amounts, the
rendered notice, quiet hours, the channel choice and the pay link."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_client.models import Account, Bill, Payment
from billing_client.paylink import pay_url
from billing_client.rule import LateFeePolicy, compute_late_fee
from console.reminders import planner
from console.reminders.channels import Reach
from console.reminders.planner import Rules, Spec, plan, target_of
from console.reminders.service import in_quiet_hours
from console.settings import Settings

AS_OF = dt.date(2025, 2, 15)
POLICY = LateFeePolicy()
RULES = Rules(credit_warning_day=25, deadline_days=7)


def bill(principal: str, due: dt.date, *payments: tuple[dt.date, str], season: str = "2024-2025") -> Bill:
    return Bill(season, Decimal(principal), due, tuple(Payment(d, Decimal(a), "wechat") for d, a in payments))


def account(no: str, *bills: Bill, district: str = "南岗区", holder: str = "张三") -> Account:
    return Account(no, holder, "138****5678", "地址", district, Decimal("90.00"), bills)


HOUSEHOLDS = [
    account("2031000001", bill("2509.00", dt.date(2024, 12, 31), (dt.date(2025, 1, 10), "1000.00"))),
    account("2031000002", bill("2080.00", dt.date(2024, 12, 31), (dt.date(2024, 10, 15), "2080.00"))),
    account("2031000007", bill("1800.00", dt.date(2025, 1, 20)), district="香坊区", holder="周芳"),
    account("2031000008", bill("1200.00", dt.date(2025, 2, 20)), district="香坊区"),
    account("2031000009", bill("900.00", dt.date(2025, 12, 31), season="2025-2026"), district="道里区"),
    account("2031000010", bill("500.00", dt.date(2024, 12, 31), (dt.date(2025, 2, 15), "500.00"))),
]


def targeted(spec: Spec) -> list[str]:
    return [t.account_no for t in plan(HOUSEHOLDS, spec, AS_OF, POLICY, RULES)]


def test_each_kind_targets_its_households() -> None:
    assert targeted(Spec("overdue")) == ["2031000001", "2031000007"]
    assert targeted(Spec("overdue", days=30)) == ["2031000001"]
    assert targeted(Spec("credit_warning")) == ["2031000007"]  # day 26, within 25–30
    assert targeted(Spec("deadline_approaching")) == ["2031000008"]  # due in 5 days
    assert targeted(Spec("bill_issued")) == ["2031000008", "2031000009"]
    assert targeted(Spec("payment_credited")) == ["2031000010"]  # paid today
    assert targeted(Spec("overdue", district="香坊区")) == ["2031000007"]
    assert targeted(Spec("overdue", min_arrears=Decimal("1600"))) == ["2031000007"]  # 1846.80 ≥ 1600 > 1587.41


def test_amounts_are_the_residents_own_as_of_the_send_day() -> None:
    [first] = plan(HOUSEHOLDS[:1], Spec("overdue"), AS_OF, POLICY, RULES)
    assert (first.unpaid, first.late_fee, first.total, first.overdue_days) == (
        Decimal("1509.00"), Decimal("78.41"), Decimal("1587.41"), 46)
    values = planner.fields(first, AS_OF, 30)
    text = planner.render_text("overdue", values, "https://pay.example/wx?account=2031000001")
    assert "张*" in text and "张三" not in text
    assert "合计1587.41元" in text and "https://pay.example/wx?account=2031000001" in text and "退订" in text
    data = planner.render_template_data("overdue", values)
    assert data["keyword1"]["value"] == "2031000001" and data["keyword2"]["value"] == "1587.41元"
    assert data["keyword3"]["value"] == "2024-12-31"


def test_a_credited_payment_is_confirmed_with_its_amount_and_what_is_left() -> None:
    [paid] = plan(HOUSEHOLDS, Spec("payment_credited"), AS_OF, POLICY, RULES)
    text = planner.render_text("payment_credited", planner.fields(paid, AS_OF, 30), None)
    assert "2025-02-15缴纳的500.00元已到账" in text and "尚欠22.50元" in text  # 45 days × 0.50: the payment day accrues no more
    assert "点击缴费" not in text  # no link configured, none shown


@given(
    principal=st.integers(min_value=0, max_value=500_000),
    due_offset=st.integers(min_value=-400, max_value=60),
    paid_offset=st.integers(min_value=-120, max_value=30),
    paid_share=st.sampled_from([0, 50, 100, 120]),
)
def test_the_settled_shortcut_never_hides_a_debt(principal: int, due_offset: int, paid_offset: int,
                                                 paid_share: int) -> None:
    due = AS_OF + dt.timedelta(days=due_offset)
    amount = (Decimal(principal * paid_share) / 10000).quantize(Decimal("0.01"))  # whole fen, as billing stores
    payments = ((due + dt.timedelta(days=paid_offset), f"{amount:.2f}"),) if amount > 0 else ()
    one = account("2031000099", bill(f"{Decimal(principal) / 100:.2f}", due, *payments))
    result = compute_late_fee(one.bills[0].principal, due, AS_OF, one.bills[0].payments, POLICY)
    target = target_of(one, Spec("overdue", days=0), AS_OF, POLICY, RULES)
    expected = result.unpaid_principal > 0 and result.overdue_days >= 0
    assert (target is not None) == expected
    if target is not None:
        assert target.total == result.total_due


@pytest.mark.parametrize(("clock", "quiet"), [
    ("20:59", False), ("21:00", True), ("23:30", True), ("00:00", True), ("07:59", True), ("08:00", False),
    ("12:00", False),
])
def test_quiet_hours_wrap_midnight(clock: str, quiet: bool) -> None:
    settings = Settings(HEATING_NOW=dt.datetime.fromisoformat(f"2025-02-15T{clock}:00"))
    assert in_quiet_hours(settings) is quiet


def test_quiet_hours_come_from_the_city_file(tmp_path: Path) -> None:
    city = tmp_path / "city.yml"
    city.write_text('reminders:\n  quiet_hours: "12:00-13:00"\n', encoding="utf-8")
    settings = Settings(HEATING_CITY_FILE=city, HEATING_NOW=dt.datetime(2025, 2, 15, 12, 30))
    assert in_quiet_hours(settings)
    assert not in_quiet_hours(settings, dt.datetime(2025, 2, 15, 22, 0))


def test_channel_choice_prefers_an_open_window_and_honours_opt_out() -> None:
    reach = Reach(bindings={"1": ["ob", "oa"], "2": ["oc"]}, optouts={"wechat:oc", "wechat:oa"}, in_window={"ob"})
    assert reach.choose("1") == ("wechat", "ob", "queued")  # oa opted out, ob writes lately
    assert reach.choose("2") == ("wechat", "oc", "opted_out")
    assert reach.choose("3") == ("none", None, "no_channel")
    reach.optouts.clear()
    reach.in_window.clear()
    assert reach.choose("1") == ("wechat", "oa", "queued")  # no window: the first OpenID, deterministically


def test_a_household_without_usable_wechat_gets_its_bound_widget_session() -> None:
    reach = Reach(bindings={"1": ["oa"], "2": ["ob"], "4": ["oc"]},
                  widget_sessions={"1": ["s1"], "2": ["s2"], "3": ["s3b", "s3a"], "4": ["s4"], "5": ["s5"]},
                  optouts={"wechat:ob", "wechat:oc", "widget:s4", "widget:s5"})
    assert reach.choose("1") == ("wechat", "oa", "queued")  # WeChat first: it reaches them now
    assert reach.choose("2") == ("widget", "s2", "queued")  # opted out of WeChat only
    assert reach.choose("3") == ("widget", "s3a", "queued")  # widget only: the first session, deterministically
    assert reach.choose("4") == ("wechat", "oc", "opted_out")  # opted out everywhere
    assert reach.choose("5") == ("widget", "s5", "opted_out")
    assert reach.choose("6") == ("none", None, "no_channel")


def test_pay_link_per_channel() -> None:
    urls = {"pay_url": {"wechat": "https://w/pay?a={account_no}", "default": "https://h5/pay?a={account_no}"}}
    assert pay_url(urls, "wechat", "2024000001") == "https://w/pay?a=2024000001"
    assert pay_url(urls, "widget", "2024000001") == "https://h5/pay?a=2024000001"
    assert pay_url({"pay_url": "https://one/{account_no}"}, "rest", "2024000001") == "https://one/2024000001"
    assert pay_url({}, "wechat", "2024000001") is None
    assert pay_url({"pay_url": {"wechat": "https://w/{account_no}"}}, "widget", "1") is None
