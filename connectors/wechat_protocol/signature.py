"""Request signatures of the WeChat server protocol.

WeChat signs every callback with sha1 over the *sorted* concatenation of our
token, the timestamp, the nonce (and, in safe mode, the `Encrypt` value). We
compare in constant time and refuse timestamps far from our clock, so a
captured request cannot be replayed later. Time is a parameter (`now`) so the
published 2014 test vectors still check.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable, Optional

from connectors.wechat_protocol.exceptions import InvalidSignatureError, StaleTimestampError

Clock = Callable[[], float]

#: How far (seconds) a signed timestamp may be from our clock, both ways.
DEFAULT_MAX_SKEW_SECONDS = 300


def compute_signature(*parts: str) -> str:
    """sha1 hex digest of the sorted, concatenated parts (token, timestamp, nonce[, encrypt])."""
    joined = "".join(sorted(str(part) for part in parts))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def signatures_match(expected: str, received: Optional[str]) -> bool:
    """Constant-time comparison that also accepts non-ASCII garbage without raising."""
    if not received:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), received.strip().lower().encode("utf-8"))


def check_timestamp(
    timestamp: str,
    *,
    now: Optional[float] = None,
    max_skew: Optional[int] = DEFAULT_MAX_SKEW_SECONDS,
) -> None:
    """Raise `StaleTimestampError` when `timestamp` is not an integer close to `now`.

    `max_skew=None` disables the freshness check (known-answer tests only).
    """
    try:
        value = int(timestamp)
    except (TypeError, ValueError) as error:
        raise StaleTimestampError("timestamp is not an integer") from error
    if max_skew is None:
        return
    current = time.time() if now is None else now
    if abs(current - value) > max_skew:
        raise StaleTimestampError("timestamp outside the accepted window")


def check_signature(
    token: str,
    signature: Optional[str],
    timestamp: Optional[str],
    nonce: Optional[str],
    *,
    now: Optional[float] = None,
    max_skew: Optional[int] = DEFAULT_MAX_SKEW_SECONDS,
) -> None:
    """Verify the plain `signature` of a GET verification or a POST (raises on failure)."""
    _verify("signature", signature, token, timestamp, nonce, now=now, max_skew=max_skew)


def check_msg_signature(
    token: str,
    msg_signature: Optional[str],
    timestamp: Optional[str],
    nonce: Optional[str],
    encrypted: str,
    *,
    now: Optional[float] = None,
    max_skew: Optional[int] = DEFAULT_MAX_SKEW_SECONDS,
) -> None:
    """Verify the safe-mode `msg_signature`, which also covers the `Encrypt` payload."""
    _verify("msg_signature", msg_signature, token, timestamp, nonce, encrypted, now=now, max_skew=max_skew)


def _verify(name: str, received: Optional[str], token: str, timestamp: Optional[str], nonce: Optional[str],
            *extra: str, now: Optional[float], max_skew: Optional[int]) -> None:
    """Both signatures are checked alike: the parts present, a constant-time match, then the clock."""
    _require(token, timestamp, nonce)
    expected = compute_signature(token, str(timestamp), str(nonce), *extra)
    if not signatures_match(expected, received):
        raise InvalidSignatureError(f"{name} mismatch")
    check_timestamp(str(timestamp), now=now, max_skew=max_skew)


def _require(token: str, timestamp: Optional[str], nonce: Optional[str]) -> None:
    # An empty token would make every signature computable by anyone.
    if not token:
        raise InvalidSignatureError("no token configured")
    if not timestamp or nonce is None or nonce == "":
        raise InvalidSignatureError("timestamp or nonce missing")
