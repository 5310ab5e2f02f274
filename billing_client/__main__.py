"""Entry point of ``python -m billing_client``."""

from __future__ import annotations

import sys

from billing_client.cli import main


def _run() -> int:
    try:
        return main()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last resort: the CLI promises no tracebacks to its users
        print(f"python -m billing_client: internal error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(_run())
