"""`python -m billing_client` under random argv and stdin: a clear error or a result, never a
traceback (DESIGN.md: "Bad input gets a clear error on stderr and a non-zero exit"), never a hang.

Most examples call `billing_client.cli.main` in-process (fast); a few run the real module in a
subprocess, where the last-resort handler would print "internal error" for any bug.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from typing import Iterator, List, Optional

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing_client.cli import main
from tests.stack import ROOT

FUZZ = settings(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
SECONDS_PER_RUN = 10

DATES = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.dates(min_value=__import__("datetime").date(2020, 1, 1), max_value=__import__("datetime").date(2026, 12, 31))
    .map(lambda d: d.isoformat()),
    st.sampled_from(["2024-02-30", "2025-13-01", "0000-01-01", "9999-12-31", "2025-1-1", "２０２５-０１-０１", ""]),
    st.text(max_size=12),
)
AMOUNTS = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["2400.00", "0", "-1", "1e9999", "1E-9999", ".5", "5.", "+3", "NaN", "Infinity", "1_000", "١٢٣", ""]),
    st.text(max_size=12),
)
FLAGS = st.sampled_from(["--principal", "--due-date", "--as-of", "--payment", "--issued-on", "--rate", "--start",
                         "--cap-ratio", "--credit-warning-days", "--batch", "--explain", "--help", "-h", "--", "-x"])


@st.composite
def argvs(draw: st.DrawFn) -> List[str]:
    argv: List[str] = [draw(st.sampled_from(["late-fee", "late-fee", "late-fee", "other", ""]))]
    for _ in range(draw(st.integers(0, 8))):
        flag = draw(FLAGS)
        argv.append(flag)
        if flag in ("--principal", "--rate", "--cap-ratio"):
            argv.append(draw(AMOUNTS))
        elif flag in ("--due-date", "--as-of", "--issued-on", "--start"):
            argv.append(draw(DATES))
        elif flag == "--payment":
            argv.append(draw(st.one_of(st.builds(lambda d, a: f"{d}:{a}", DATES, AMOUNTS), st.text(max_size=20))))
        elif flag == "--credit-warning-days":
            argv.append(draw(st.one_of(st.integers(-(10**20), 10**20).map(str), st.text(max_size=6))))
    return argv


JSON_AMOUNT = st.one_of(AMOUNTS, st.integers(-(10**20), 10**20), st.floats(allow_nan=False, allow_infinity=False),
                        st.booleans(), st.none())
BATCH_LINE = st.one_of(
    st.fixed_dictionaries(
        {"principal": JSON_AMOUNT, "due_date": DATES, "as_of": DATES},
        optional={"payments": st.one_of(st.lists(st.lists(st.one_of(DATES, JSON_AMOUNT), max_size=3), max_size=3),
                                        st.text(max_size=5), st.none()),
                  "issued_on": st.one_of(DATES, st.none()), "id": st.one_of(st.integers(), st.text(max_size=8)),
                  "extra": st.integers()},
    ).map(lambda obj: json.dumps(obj, ensure_ascii=False)),
    st.text(max_size=80),
    st.sampled_from(["{", "[]", "null", '"x"', "1e999999", '{"principal": 1e999999}', "\ufeff{}", "\x00"]),
)


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def _hang(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"billing CLI took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_in_process(argv: List[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), time_limit(SECONDS_PER_RUN):
            try:
                code: Optional[int] = main(argv)
            except SystemExit as exit_:  # argparse: usage errors and --help
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        sys.stdin = saved
    return int(code or 0), out.getvalue(), err.getvalue()


@settings(FUZZ, max_examples=600)
@given(argv=argvs())
def test_any_command_line_gives_a_result_or_a_clear_error(argv: List[str]) -> None:
    code, out, err = run_in_process(argv)
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err
    if code == 0 and "--help" not in argv and "-h" not in argv and "--batch" not in argv:
        result = json.loads(out)
        assert {"late_fee", "overdue_days", "unpaid_principal", "capped"} <= set(result)
    if code != 0:
        assert err.strip(), argv  # an error is always explained


@settings(FUZZ, max_examples=300)
@given(lines=st.lists(BATCH_LINE, max_size=6))
# Found by this test: a due date in year 1 or 9999 overflowed Python's calendar and aborted the batch.
@example(lines=['{"principal": "1", "due_date": "0001-01-01", "as_of": "2025-01-01"}', '{"principal": "1", '
                '"due_date": "9999-12-31", "as_of": "9999-12-31"}'])
def test_any_batch_input_gives_one_line_per_line(lines: List[str]) -> None:
    stdin = "\n".join(line.replace("\n", " ") for line in lines) + "\n"
    code, out, err = run_in_process(["late-fee", "--batch"], stdin)
    assert code in (0, 1), (lines, code, err)
    assert "Traceback" not in err
    expected = [line for line in stdin.split("\n") if line.strip()]
    produced = out.splitlines()
    assert len(produced) == len(expected), (lines, out)
    for line in produced:
        item = json.loads(line)
        assert "error" in item or "late_fee" in item


@settings(FUZZ, max_examples=8)
@given(argv=argvs(), stdin=st.lists(BATCH_LINE, max_size=3).map("\n".join))
def test_the_real_module_never_prints_a_traceback(argv: List[str], stdin: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "billing_client", *argv], input=stdin, capture_output=True, text=True,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=30,
    )
    assert run.returncode in (0, 1, 2), (argv, run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
