"""HeatDesk's client of the billing system and the late-fee rule.

Standard library and httpx only, importable from both runtimes (Python 3.10
for Rasa, 3.11 for the services). Nothing here reads the environment: callers
pass base URLs, timeouts and the :class:`LateFeePolicy` from their settings.

The HTTP client is imported lazily, so the CLI and the rule do not pay for
importing httpx.
"""

from __future__ import annotations

from typing import Any

from billing_client.rule import (
    LateFeeInputError,
    LateFeePolicy,
    LateFeeResult,
    LateFeeSegment,
    Payment,
    compute_late_fee,
)

_LAZY = {
    "AccountNotFound": "billing_client.client",
    "BillingClient": "billing_client.client",
    "BillingError": "billing_client.client",
    "BillingRequestError": "billing_client.client",
    "BillingUnavailable": "billing_client.client",
    "CircuitBreaker": "billing_client.client",
    "Account": "billing_client.models",
    "Bill": "billing_client.models",
    "ArrearsReport": "billing_client.models",
    "DistrictArrears": "billing_client.models",
}

__all__ = [
    "LateFeeInputError",
    "LateFeePolicy",
    "LateFeeResult",
    "LateFeeSegment",
    "Payment",
    "compute_late_fee",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'billing_client' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
