"""``python -m billing_service``: serve the API on BILLING_PORT."""

from __future__ import annotations

import uvicorn

from billing_service.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run("billing_service.main:app", host="127.0.0.1", port=settings.BILLING_PORT)


if __name__ == "__main__":
    main()
