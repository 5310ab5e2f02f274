"""``python -m billing_client late-fee`` as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Sequence

import pytest

from billing_client.rule import LateFeePolicy, Payment, compute_late_fee

ROOT = Path(__file__).resolve().parents[2]


def run_cli(args: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "billing_client", "late-fee", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_single_bill_design_example() -> None:
    proc = run_cli(
        ["--principal", "2509.00", "--due-date", "2024-12-31", "--as-of", "2025-02-15", "--payment", "2025-01-10:1000.00"]
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["late_fee"] == "78.41"
    assert data["overdue_days"] == 46
    assert data["unpaid_principal"] == "1509.00"
    assert data["capped"] is False
    assert data["credit_warning"] is True
    assert len(data["segments"]) == 2
    assert proc.stderr == ""


def test_single_bill_with_policy_flags() -> None:
    proc = run_cli(
        ["--principal", "2400.00", "--due-date", "2024-12-31", "--as-of", "2025-02-15",
         "--rate", "0.005", "--start", "2025-02-01", "--cap-ratio", "0.02"]
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # 2025-02-01..02-15 = 15 days × 12.00 = 180.00 > 2 % of 2400.00 = 48.00
    assert (data["late_fee"], data["capped"], data["uncapped_fee"]) == ("48.00", True, "180.00")
    assert data["pre_rule_days"] == 31


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--principal", "abc", "--due-date", "2024-12-31", "--as-of", "2025-01-31"], "decimal number"),
        (["--principal", "-5", "--due-date", "2024-12-31", "--as-of", "2025-01-31"], "zero or more"),
        (["--principal", "12.345", "--due-date", "2024-12-31", "--as-of", "2025-01-31"], "two decimal places"),
        (["--principal", "NaN", "--due-date", "2024-12-31", "--as-of", "2025-01-31"], "decimal number"),
        (["--principal", "100", "--due-date", "2024-02-30", "--as-of", "2025-01-31"], "not a real calendar date"),
        (["--principal", "100", "--due-date", "31.12.2024", "--as-of", "2025-01-31"], "YYYY-MM-DD"),
        (["--principal", "100", "--due-date", "20241231", "--as-of", "2025-01-31"], "YYYY-MM-DD"),
        (["--principal", "100", "--due-date", "2024-12-31"], "missing --as-of"),
        (["--principal", "100", "--due-date", "2024-12-31", "--as-of", "2025-01-31", "--payment", "2025-01-10"], "DATE:AMOUNT"),
        (["--principal", "100", "--due-date", "2024-12-31", "--as-of", "2025-01-31", "--payment", "2025-01-10:-3"], "positive"),
        (["--principal", "100", "--due-date", "2024-12-31", "--as-of", "2025-01-31", "--payment", "2025-01-10:x"], "decimal number"),
        (["--principal", "100", "--due-date", "2024-12-31", "--as-of", "2025-01-31", "--payment", "2022-05-01:10"], "before the bill was issued"),
        (["--principal", "100", "--due-date", "2024-12-31", "--as-of", "2025-01-31", "--issued-on", "2024-11-01",
          "--payment", "2024-10-31:10"], "before the bill was issued"),
        (["--principal", "100", "--due-date", "2024-12-31", "--as-of", "2025-01-31", "--rate", "-0.001"], "negative"),
        (["--principal", "100", "--due-date", "2024-12-31", "--as-of", "2025-01-31", "--bogus"], "unrecognized"),
    ],
)
def test_bad_single_input_is_a_clear_error(args: list[str], message: str) -> None:
    proc = run_cli(args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "error" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_help_documents_the_input_choices() -> None:
    proc = run_cli(["--help"])
    assert proc.returncode == 0
    assert "before the due date are allowed" in proc.stdout
    assert "after --as-of are ignored" in proc.stdout
    assert "before the bill was issued is an error" in proc.stdout


def test_batch_mixed_lines() -> None:
    lines = [
        {"principal": "2509.00", "due_date": "2024-12-31", "as_of": "2025-02-15", "payments": [["2025-01-10", "1000.00"]], "id": "a"},
        {"principal": 2400, "due_date": "2024-12-31", "as_of": "2025-02-15"},
        {"principal": "100", "due_date": "2024-12-31", "as_of": "2025-02-15", "colour": "red"},
        {"principal": "100", "due_date": "2024-12-31"},
        {"principal": "-1", "due_date": "2024-12-31", "as_of": "2025-02-15"},
        {"principal": "100", "due_date": "2024-13-01", "as_of": "2025-02-15"},
        {"principal": "100", "due_date": "2024-12-31", "as_of": "2025-02-15", "payments": [["2025-01-10"]]},
        {"principal": "100", "due_date": "2024-12-31", "as_of": "2025-02-15", "payments": [["2021-01-10", "5"]]},
        {"principal": True, "due_date": "2024-12-31", "as_of": "2025-02-15"},
        {"principal": 100.5, "due_date": "2024-12-31", "as_of": "2025-01-10"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\nthis is not json\n\n[1, 2]\n"
    proc = run_cli(["--batch"], stdin=text)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 12  # one per non-blank input line
    assert out[0]["id"] == "a" and out[0]["late_fee"] == "78.41" and "segments" not in out[0]
    assert out[1]["late_fee"] == "110.40"
    assert "unknown field(s): colour" in out[2]["error"] and out[2]["line"] == 3
    assert "missing field(s): as_of" in out[3]["error"]
    assert "zero or more" in out[4]["error"]
    assert "not a real calendar date" in out[5]["error"]
    assert "[date, amount] pair" in out[6]["error"]
    assert "before the bill was issued" in out[7]["error"]
    assert "must be a number" in out[8]["error"]
    assert out[9]["late_fee"] == "1.01"  # 10 × 0.1005 = 1.005 → 1.01 (float text parsed exactly)
    assert "not valid JSON" in out[10]["error"] and out[10]["line"] == 11
    assert out[11]["line"] == 13 and "JSON object" in out[11]["error"]


def test_batch_all_good_exits_zero_and_explain_adds_segments() -> None:
    line = json.dumps({"principal": "2509.00", "due_date": "2024-12-31", "as_of": "2025-02-15", "payments": [["2025-01-10", "1000.00"]]})
    proc = run_cli(["--batch", "--explain"], stdin=line + "\n" + line + "\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(out) == 2 and all(len(o["segments"]) == 2 for o in out)


def test_batch_refuses_single_bill_flags() -> None:
    proc = run_cli(["--batch", "--principal", "100"], stdin="")
    assert proc.returncode == 2
    assert "--batch reads bills from stdin" in proc.stderr


def test_batch_agrees_with_library() -> None:
    rng = random.Random(7)
    bills = []
    for _ in range(300):
        principal = Decimal(rng.randint(0, 800_000)) / 100
        due = date(2023, 1, 1) + timedelta(days=rng.randint(0, 1400))
        as_of = due + timedelta(days=rng.randint(-60, 600))
        payments = [
            Payment(due + timedelta(days=rng.randint(-200, 500)), Decimal(rng.randint(1, 300_000)) / 100)
            for _ in range(rng.randint(0, 4))
        ]
        bills.append((principal, due, as_of, payments))
    text = "".join(
        json.dumps({"principal": str(p), "due_date": d.isoformat(), "as_of": a.isoformat(),
                    "payments": [[x.date.isoformat(), str(x.amount)] for x in pays]}) + "\n"
        for p, d, a, pays in bills
    )
    proc = run_cli(["--batch"], stdin=text)
    assert proc.returncode == 0, proc.stdout[:500]
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    for (principal, due, as_of, payments), got in zip(bills, out, strict=True):
        expected = compute_late_fee(principal, due, as_of, payments, LateFeePolicy())
        assert got["late_fee"] == f"{expected.late_fee:.2f}"
        assert got["unpaid_principal"] == f"{expected.unpaid_principal:.2f}"
        assert got["overdue_days"] == expected.overdue_days
