"""HeatDesk's client of the billing system and the late-fee rule.

Standard library and httpx only, importable from both runtimes (Python 3.10
for Rasa, 3.11 for the services). Nothing here reads the environment: callers
pass base URLs, timeouts and the :class:`LateFeePolicy` from their settings.
"""

from billing_client.rule import (
    LateFeeInputError,
    LateFeePolicy,
    LateFeeResult,
    LateFeeSegment,
    Payment,
    compute_late_fee,
)

__all__ = [
    "LateFeeInputError",
    "LateFeePolicy",
    "LateFeeResult",
    "LateFeeSegment",
    "Payment",
    "compute_late_fee",
]
