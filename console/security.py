"""Passwords, session tokens and redaction: the console's security primitives in one place."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from heatdesk_contract.masking import mask_text

SESSION_COOKIE = "heatdesk_session"
_SESSION_SALT = "heatdesk.console.session"

_hasher = PasswordHasher()
# A hash of a random password: verifying against it for unknown usernames keeps
# the response time of "no such user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    """argon2id hash (argon2-cffi defaults, RFC 9106 low-memory profile)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check; also burns the same time when the user does not exist."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database stores instead of the token, so a DB leak is no login."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign_session(secret: str, token: str) -> str:
    return URLSafeTimedSerializer(secret, salt=_SESSION_SALT).dumps(token)


def unsign_session(secret: str, cookie: str, max_age_seconds: int) -> str | None:
    """The token inside a cookie, or None when forged, malformed or too old."""
    try:
        value = URLSafeTimedSerializer(secret, salt=_SESSION_SALT).loads(
            cookie, max_age=max_age_seconds
        )
    except (BadSignature, SignatureExpired):
        return None
    return value if isinstance(value, str) else None


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def rate_limit_id(username: str, client_ip: str) -> str:
    """Key material for the login limiter; hashed so raw input never becomes a Redis key."""
    return hashlib.sha256(f"{username.strip().lower()}|{client_ip}".encode("utf-8")).hexdigest()[:32]


_SECRET_PARAM = re.compile(r"(?i)\b(token|password|secret|access_token)=([^&\s\"']+)")


def redact(text: str) -> str:
    """Mask mobile and ID-card numbers (heatdesk_contract.masking) and secret query parameters in
    free text bound for logs."""
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", mask_text(text))


class RedactingFilter(logging.Filter):
    """Defence in depth on every log handler: no phone number or token leaves in clear."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
