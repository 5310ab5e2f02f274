"""``python -m billing_client late-fee``: the late-fee rule from a shell.

One bill from flags (prints one JSON object), or ``--batch``: JSON lines on
stdin, one JSON line out per input line. Bad input never produces a
traceback: single mode prints an English error on stderr and exits 2; batch
mode writes an error line for the bad input line, goes on, and exits 1 at the
end if any line was bad.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence, TextIO

from billing_client.rule import LateFeeInputError, LateFeePolicy, Payment, compute_late_fee

EXIT_OK = 0
EXIT_BAD_LINES = 1
EXIT_USAGE = 2

_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_AMOUNT_RE = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_REQUIRED_FIELDS = ("principal", "due_date", "as_of")
_OPTIONAL_FIELDS = ("payments", "issued_on", "id")

RULES_HELP = """\
rule (DESIGN.md): late fee = sum over days d with due_date < d <= as_of and
d >= START of unpaid(d) x RATE, where unpaid(d) = principal - payments dated on
or before d (never below zero); capped at CAP_RATIO x principal; rounded half
up to 0.01 once, at the end.

input choices:
  * payments dated before the due date are allowed (early/partial payments);
  * payments dated after --as-of are ignored (they have not happened yet);
  * a payment dated before the bill was issued is an error; the issue date is
    --issued-on when given, otherwise the due date minus 366 days;
  * amounts: plain decimal numbers with at most two decimal places; the
    principal may be 0, payments must be positive; dates: YYYY-MM-DD.

batch mode (--batch): one JSON object per stdin line with "principal",
"due_date", "as_of", optional "payments": [["YYYY-MM-DD", "amount"], ...],
optional "issued_on" and an optional "id" echoed back; any other field is an
error. Each line gets one JSON line on stdout, either a result or
{"line": N, "error": "..."}; the exit code is 1 if any line was bad.
"""


class InputError(ValueError):
    """A malformed field, reported without a traceback."""


def parse_date(text: str, what: str = "date") -> date:
    """Strict YYYY-MM-DD (3.11's fromisoformat accepts more; both runtimes must agree)."""
    if not isinstance(text, str) or not _DATE_RE.fullmatch(text):
        raise InputError(f"{what} must be a date as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what} is not a real calendar date: {text!r}") from None


def parse_amount(value: object, what: str = "amount") -> Decimal:
    """A decimal amount from a string or a JSON number (floats are parsed as Decimal)."""
    if isinstance(value, bool):
        raise InputError(f"{what} must be a number, got {json.dumps(value)}")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str) and _AMOUNT_RE.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise InputError(f"{what} must be a decimal number such as 2400.00, got {value!r}")


def _payment_arg(text: str) -> Payment:
    date_text, sep, amount_text = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected DATE:AMOUNT such as 2025-01-10:1000.00, got {text!r}")
    try:
        return Payment(parse_date(date_text, "payment date"), parse_amount(amount_text, "payment amount"))
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _date_arg(text: str) -> date:
    try:
        return parse_date(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _amount_arg(text: str) -> Decimal:
    try:
        return parse_amount(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m billing_client", description="HeatDesk billing tools.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    late_fee = commands.add_parser(
        "late-fee",
        help="compute the late fee (滞纳金) of a bill",
        description="Compute the late fee of one bill, or of many with --batch.",
        epilog=RULES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    late_fee.add_argument("--principal", type=_amount_arg, help="the bill's principal, e.g. 2400.00")
    late_fee.add_argument("--due-date", type=_date_arg, help="last day to pay without a late fee")
    late_fee.add_argument("--as-of", type=_date_arg, help="compute as of this day (inclusive)")
    late_fee.add_argument(
        "--payment",
        type=_payment_arg,
        action="append",
        default=[],
        metavar="DATE:AMOUNT",
        help="a payment, e.g. 2025-01-10:1000.00 (repeatable)",
    )
    late_fee.add_argument("--issued-on", type=_date_arg, help="the day the bill was issued (default: due date - 366 days)")
    late_fee.add_argument("--batch", action="store_true", help="read JSON lines on stdin, write JSON lines")
    late_fee.add_argument("--explain", action="store_true", help="in batch mode, include the segments too")
    policy = LateFeePolicy()
    late_fee.add_argument("--rate", type=_amount_rate, default=policy.rate, help=f"daily rate (default {policy.rate})")
    late_fee.add_argument("--start", type=_date_arg, default=policy.start, help=f"rule start (default {policy.start})")
    late_fee.add_argument(
        "--cap-ratio", type=_amount_rate, default=policy.cap_ratio, help=f"cap as a ratio of the principal (default {policy.cap_ratio})"
    )
    late_fee.add_argument(
        "--credit-warning-days",
        type=int,
        default=policy.credit_warning_days,
        help=f"overdue days after which credit_warning is set (default {policy.credit_warning_days})",
    )
    return parser


def _amount_rate(text: str) -> Decimal:
    """Rates and ratios may have more than two decimals, unlike money."""
    try:
        value = parse_amount(text, "value")
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def _bill_from_json(obj: object) -> tuple[Decimal, date, date, list[Payment], date | None]:
    if not isinstance(obj, dict):
        raise InputError("each line must be a JSON object")
    unknown = sorted(set(obj) - set(_REQUIRED_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(unknown)}")
    missing = [name for name in _REQUIRED_FIELDS if name not in obj]
    if missing:
        raise InputError(f"missing field(s): {', '.join(missing)}")
    principal = parse_amount(obj["principal"], "principal")
    due_date = parse_date(obj["due_date"], "due_date")
    as_of = parse_date(obj["as_of"], "as_of")
    issued_on = parse_date(obj["issued_on"], "issued_on") if obj.get("issued_on") is not None else None
    raw_payments = obj.get("payments", [])
    if raw_payments is None:
        raw_payments = []
    if not isinstance(raw_payments, list):
        raise InputError("payments must be a list of [date, amount] pairs")
    payments = []
    for index, item in enumerate(raw_payments, start=1):
        if not isinstance(item, list) or len(item) != 2:
            raise InputError(f"payment {index} must be a [date, amount] pair, got {json.dumps(item, default=str)}")
        payments.append(Payment(parse_date(item[0], f"payment {index} date"), parse_amount(item[1], f"payment {index} amount")))
    return principal, due_date, as_of, payments, issued_on


def run_batch(stdin: TextIO, stdout: TextIO, policy: LateFeePolicy, explain: bool = False) -> int:
    """Process JSON lines; one output line per non-blank input line."""
    bad = 0
    out: list[str] = []
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        record_id: Any = None
        try:
            try:
                obj = json.loads(line, parse_float=Decimal)
            except ValueError as exc:
                raise InputError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
            if isinstance(obj, dict):
                record_id = obj.get("id")
            principal, due_date, as_of, payments, issued_on = _bill_from_json(obj)
            result = compute_late_fee(principal, due_date, as_of, payments, policy, issued_on=issued_on)
            data = result.to_dict()
            if not explain:
                del data["segments"]
            if record_id is not None:
                data = {"id": record_id, **data}
            out.append(json.dumps(data, ensure_ascii=False, default=str))
        except (InputError, LateFeeInputError) as exc:
            bad += 1
            error: dict[str, Any] = {"line": number, "error": str(exc)}
            if record_id is not None:
                error["id"] = record_id
            out.append(json.dumps(error, ensure_ascii=False, default=str))
        if len(out) >= 2048:
            stdout.write("\n".join(out) + "\n")
            out.clear()
    if out:
        stdout.write("\n".join(out) + "\n")
    stdout.flush()
    return EXIT_BAD_LINES if bad else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: argparse prints them and exits 2
    try:
        policy = LateFeePolicy(
            rate=args.rate, start=args.start, cap_ratio=args.cap_ratio, credit_warning_days=args.credit_warning_days
        )
    except LateFeeInputError as exc:
        return _fail(str(exc))
    if args.batch:
        given = [flag for flag, value in (("--principal", args.principal), ("--due-date", args.due_date),
                                           ("--as-of", args.as_of), ("--issued-on", args.issued_on)) if value]
        if given or args.payment:
            return _fail(f"--batch reads bills from stdin; do not also pass {', '.join(given or ['--payment'])}")
        try:
            return run_batch(sys.stdin, sys.stdout, policy, explain=args.explain)
        except BrokenPipeError:
            return EXIT_BAD_LINES
    missing = [flag for flag, value in (("--principal", args.principal), ("--due-date", args.due_date),
                                         ("--as-of", args.as_of)) if value is None]
    if missing:
        return _fail(f"missing {', '.join(missing)} (or use --batch)")
    try:
        result = compute_late_fee(
            args.principal, args.due_date, args.as_of, args.payment, policy, issued_on=args.issued_on
        )
    except LateFeeInputError as exc:
        return _fail(str(exc))
    print(json.dumps(result.to_dict(), ensure_ascii=False))
    return EXIT_OK


def _fail(message: str) -> int:
    print(f"python -m billing_client late-fee: error: {message}", file=sys.stderr)
    return EXIT_USAGE
