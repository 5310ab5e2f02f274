"""The bulk export reader (billing_client.bulk) against the strict parser of models.py.

`parse_households` checks in bulk what `Account.from_json` checks field by field. Whatever the
line — a good account, a malformed one, garbage — both must come to the same verdict: the same
households, or a ValueError naming the line and the field.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_client import bulk
from billing_client.bulk import LineSplitter, household_of, parse_households, parse_trailer
from billing_client.models import Account

GOOD: dict[str, Any] = {
    "account_no": "2024000001", "holder": "张三", "phone_masked": "138****5678",
    "address": "阳光小区3号楼2单元501", "district": "南岗区", "area_m2": "96.50",
    "bills": [
        {"season": "2023-2024", "principal": "2400.00", "due_date": "2023-12-31", "payments": []},
        {"season": "2024-2025", "principal": "2509.00", "due_date": "2024-12-31",
         "payments": [{"date": "2025-01-10", "amount": "1000.00", "channel": "wechat"},
                      {"date": "2025-02-01", "amount": "9.5", "channel": "bank"}]},
    ],
}


def encode(item: Any) -> bytes:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()


def strict(lines: list[bytes]) -> Any:
    """The verdict of models.py, line by line: households, or "refused"."""
    try:
        return [household_of(Account.from_json(json.loads(line))) for line in lines]
    except ValueError:
        return "refused"


def fast(lines: list[bytes]) -> Any:
    try:
        return parse_households(lines)
    except ValueError:
        return "refused"


def test_a_good_account_becomes_its_household() -> None:
    [household] = parse_households([encode(GOOD)])
    account = Account.from_json(GOOD)
    assert household == household_of(account)
    assert bulk._fast([encode(GOOD)]) == [household]  # the fast path took it, not the strict fallback
    assert household[3][1][3][1][1] == account.bills[1].payments[1].amount  # "9.5" is 9.5 yuan, as models.py reads it


def edit(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], Any]:
    """A copy of GOOD with one field replaced (``...`` removes it)."""
    def apply(item: dict[str, Any]) -> Any:
        copy = json.loads(json.dumps(item))
        target = copy
        for key in path[:-1]:
            target = target[key]
        if value is ...:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return copy
    return apply


MUTATIONS = [
    edit(("holder",), ...), edit(("holder",), 5), edit(("account_no",), None), edit(("district",), ["南岗区"]),
    edit(("phone_masked",), ...), edit(("address",), 1.5), edit(("area_m2",), 96.5), edit(("area_m2",), "96.505"),
    edit(("area_m2",), " 96.50"), edit(("area_m2",), "96.50\n"), edit(("area_m2",), "1e3"),
    edit(("area_m2",), "١٢.٥٠"), edit(("area_m2",), "9\n6"), edit(("bills",), ...), edit(("bills",), None),
    edit(("bills",), {}), edit(("bills", 0), "bill"), edit(("bills", 0, "season"), 2024),
    edit(("bills", 0, "principal"), "NaN"), edit(("bills", 0, "principal"), "-12.00"),
    edit(("bills", 0, "principal"), "12"), edit(("bills", 0, "principal"), "1_000.00"),
    edit(("bills", 0, "due_date"), "2023-13-31"), edit(("bills", 0, "due_date"), "20231231"),
    edit(("bills", 0, "due_date"), "2023-W52-7"), edit(("bills", 0, "due_date"), "2023-12-31T00"),
    edit(("bills", 0, "due_date"), None), edit(("bills", 0, "due_date"), ["2023-12-31"]),
    edit(("bills", 0, "payments"), ...), edit(("bills", 0, "payments"), None),
    edit(("bills", 1, "payments", 0, "channel"), ...), edit(("bills", 1, "payments", 0, "channel"), 1),
    edit(("bills", 1, "payments", 0, "amount"), "1000.001"), edit(("bills", 1, "payments", 0, "amount"), 1000),
    edit(("bills", 1, "payments", 0, "date"), "2025-1-10"), edit(("bills", 1, "payments", 0, "date"), "２025-01-10"),
    edit(("bills", 1, "payments", 0), []), edit(("extra",), "ignored"),
]


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_mutated_field_gets_the_strict_verdict(mutation: Callable[[dict[str, Any]], Any]) -> None:
    lines = [encode(GOOD), encode(mutation(GOOD)), encode({**GOOD, "account_no": "2024000003"})]
    assert fast(lines) == strict(lines)


@pytest.mark.parametrize("line", [
    b"", b"not json", b"[]", b"null", b"7", b'"text"', encode(GOOD) + b"," + encode(GOOD), b"[" + encode(GOOD),
    encode(GOOD)[:-1], encode([GOOD]),
])
def test_a_line_that_is_not_one_account_is_refused(line: bytes) -> None:
    lines = [encode(GOOD), line]
    assert fast(lines) == "refused"
    with pytest.raises(ValueError, match="export line 2"):
        parse_households(lines)


def test_the_error_names_the_field_as_models_py_does() -> None:
    bad = edit(("bills", 1, "payments", 0, "amount"), "1000.001")(GOOD)
    with pytest.raises(ValueError) as caught:
        Account.from_json(bad)
    with pytest.raises(ValueError, match=r"export line 1 \(account 2024000001\): ") as ours:
        parse_households([encode(bad)])
    assert str(caught.value) in str(ours.value)


MONEY = st.integers(min_value=0, max_value=10**9).map(lambda n: f"{n // 100}.{n % 100:02d}")
DATE = st.dates().map(lambda d: d.isoformat())
TEXT = st.text(max_size=12)
ACCOUNTS = st.fixed_dictionaries({
    "account_no": st.from_regex(r"\A[0-9]{10}\Z"), "holder": TEXT, "phone_masked": TEXT, "address": TEXT,
    "district": TEXT, "area_m2": MONEY,
    "bills": st.lists(st.fixed_dictionaries({
        "season": TEXT, "principal": MONEY, "due_date": DATE,
        "payments": st.lists(st.fixed_dictionaries({"date": DATE, "amount": MONEY, "channel": TEXT}), max_size=3),
    }), max_size=3),
})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ACCOUNTS, min_size=1, max_size=8), st.data())
def test_random_accounts_and_mutations_get_the_strict_verdict(accounts: list[dict[str, Any]], data: Any) -> None:
    lines = [encode(account) for account in accounts]
    assert fast(lines) == strict(lines) != "refused"
    assert bulk._fast(lines) == strict(lines)  # well-formed accounts never take the slow path
    index = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    mutation = data.draw(st.sampled_from(MUTATIONS))
    try:
        lines[index] = encode(mutation(accounts[index]))
    except (KeyError, IndexError):
        return  # this account has no such bill or payment
    assert fast(lines) == strict(lines)


# -- the stream: lines, the held-back last line, the trailer ------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b and b.strip()), max_size=12),
       st.lists(st.integers(min_value=1, max_value=40), max_size=30), st.booleans())
def test_splitting_does_not_depend_on_where_the_network_cut(lines: list[bytes], cuts: list[int],
                                                           final_newline: bool) -> None:
    stream = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    splitter, received, position = LineSplitter(), [], 0
    for size in cuts:
        received += splitter.feed(stream[position:position + size])
        position += size
    received += splitter.feed(stream[position:])
    rest, last = splitter.finish()
    assert received + rest + ([last] if last is not None else []) == lines
    assert last == (lines[-1] if lines else None)


def test_a_blank_line_is_no_account() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\n\n \r\nb\n") == [b"a"]
    assert splitter.finish() == ([], b"b")


def test_trailer() -> None:
    parse_trailer(b'{"complete":true,"accounts":3}', 3)
    parse_trailer(b' {"accounts": 0, "complete": true} ', 0)
    for line, received in ((None, 0), (b'{"complete":true,"accounts":3}', 2), (encode(GOOD), 1),
                           (b'{"complete":"yes","accounts":1}', 1), (b"garbage", 0), (b"[]", 0)):
        with pytest.raises(ValueError):
            parse_trailer(line, received)
