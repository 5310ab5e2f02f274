"""Load BILLING_SEED_FILE: validate it whole, then replace all billing data in one transaction.

Loading twice gives the same data (idempotent); a bad file changes nothing.
``python -m billing_service.seed [--file PATH]`` does it from a shell.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from pydantic import ValidationError
from sqlalchemy import Engine

from billing_client.rule import LateFeeInputError, compute_late_fee
from billing_service import crud
from billing_service.db import upgrade_to_head, make_engine, make_session_factory
from billing_service.schemas import SeedFile
from billing_service.settings import Settings

logger = logging.getLogger("billing_service")


class SeedError(ValueError):
    """The seed file cannot be read or does not match the format of DESIGN.md."""


def read_seed(path: Path) -> SeedFile:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SeedError(f"seed file {path} is not valid JSON: {exc}") from None
    try:
        seed = SeedFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise SeedError(f"seed file {path} is invalid: {problems}") from None
    for account in seed.accounts:
        for bill in account.bills:
            try:  # the rule's own checks: e.g. a payment dated before the bill was issued
                compute_late_fee(bill.principal, bill.due_date, bill.due_date, bill.payments)
            except LateFeeInputError as exc:
                raise SeedError(f"seed file {path}: account {account.account_no} bill {bill.season}: {exc}") from None
    return seed


def load_seed(engine: Engine, path: Path) -> int:
    """Replace the billing data by the file's; returns the number of accounts."""
    seed = read_seed(path)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        count = crud.replace_all(session, seed)
    logger.info("billing seed loaded: %d accounts from %s", count, path)
    return count


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m billing_service.seed", description=__doc__)
    parser.add_argument("--file", type=Path, help="seed file (default: BILLING_SEED_FILE)")
    args = parser.parse_args(argv)
    settings = Settings()
    path = args.file or settings.seed_path
    if path is None:
        print("error: no seed file: set BILLING_SEED_FILE or pass --file", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        upgrade_to_head(engine)
        count = load_seed(engine, path)
    except SeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"loaded {count} accounts from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
