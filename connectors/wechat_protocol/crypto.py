"""Safe-mode (AES) message encryption of the WeChat server protocol.

Layout of a plaintext before encryption::

    16 random bytes | 4-byte big-endian length | message (UTF-8) | AppID

padded with PKCS#7 to a multiple of 32 bytes (not AES's 16) and encrypted with
AES-256-CBC, key = base64decode(EncodingAESKey + "="), IV = key[:16]. The pad and
the layout are *validated* on the way in, never trusted, and the AppID must be
ours. During a key rotation the previous EncodingAESKey is still accepted for
incoming messages; replies always use the current key. Randomness is a
parameter (`random_bytes`) so the published known-answer vectors can be checked.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import struct
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from connectors.wechat_protocol.exceptions import (
    CryptoError,
    InvalidAppIdError,
    InvalidPaddingError,
)
from connectors.wechat_protocol.signature import (
    DEFAULT_MAX_SKEW_SECONDS,
    check_msg_signature,
    compute_signature,
)

RandomBytes = Callable[[int], bytes]

BLOCK_SIZE = 32
_RANDOM_PREFIX = 16
_AES_BLOCK = 16


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key behind a 43-character EncodingAESKey (ValueError when malformed)."""
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters long")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("EncodingAESKey is not valid base64") from error
    if len(key) != 32:
        raise ValueError("EncodingAESKey does not decode to 32 bytes")
    return key


def pkcs7_pad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    """Pad to a multiple of `block_size` (a full block of padding when already aligned)."""
    amount = block_size - len(data) % block_size
    return data + bytes([amount]) * amount


def pkcs7_unpad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    """Strip PKCS#7 padding, refusing anything that is not exactly well-formed."""
    if not data:
        raise InvalidPaddingError("empty plaintext")
    amount = data[-1]
    if amount < 1 or amount > block_size or amount > len(data):
        raise InvalidPaddingError("pad length out of range")
    if not hmac.compare_digest(data[-amount:], bytes([amount]) * amount):
        raise InvalidPaddingError("pad bytes differ")
    return data[:-amount]


@dataclass(frozen=True)
class EncryptedMessage:
    """The four fields of a safe-mode envelope (see `replies.render_encrypted_envelope`)."""

    encrypt: str
    msg_signature: str
    timestamp: str
    nonce: str


class WeChatCrypto:
    """Encrypts replies and decrypts callbacks for one Official Account (AppID)."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        appid: str,
        *,
        previous_encoding_aes_key: Optional[str] = None,
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        if not appid:
            raise ValueError("safe mode needs the AppID")
        self._token = token
        self._appid = appid.encode("utf-8")
        self._keys: Sequence[bytes] = [decode_aes_key(encoding_aes_key)] + (
            [decode_aes_key(previous_encoding_aes_key)] if previous_encoding_aes_key else []
        )
        self._random_bytes = random_bytes

    # -- raw payloads ---------------------------------------------------------------

    def encrypt(self, plaintext: str) -> str:
        """Base64 ciphertext of `plaintext` with the current key."""
        message = plaintext.encode("utf-8")
        random_prefix = self._random_bytes(_RANDOM_PREFIX)
        if len(random_prefix) != _RANDOM_PREFIX:
            raise CryptoError("random source returned the wrong number of bytes")
        body = random_prefix + struct.pack(">I", len(message)) + message + self._appid
        key = self._keys[0]
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:_AES_BLOCK])).encryptor()
        ciphertext = encryptor.update(pkcs7_pad(body)) + encryptor.finalize()
        return base64.b64encode(ciphertext).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """Plaintext of a base64 payload; tries the previous key when the current one fails."""
        try:
            ciphertext = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as error:
            raise CryptoError("payload is not valid base64") from error
        if not ciphertext or len(ciphertext) % _AES_BLOCK:
            raise CryptoError("ciphertext length is not a multiple of the AES block")
        first_error: Optional[CryptoError] = None
        for key in self._keys:
            try:
                return self._decrypt_with(key, ciphertext)
            except CryptoError as error:
                first_error = first_error or error
        if first_error is None:  # pragma: no cover - there is always at least one key
            raise CryptoError("no key configured")
        raise first_error

    def _decrypt_with(self, key: bytes, ciphertext: bytes) -> str:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:_AES_BLOCK])).decryptor()
        body = pkcs7_unpad(decryptor.update(ciphertext) + decryptor.finalize())
        content = body[_RANDOM_PREFIX:]
        if len(content) < 4:
            raise CryptoError("plaintext too short")
        (length,) = struct.unpack(">I", content[:4])
        if 4 + length > len(content):
            raise CryptoError("declared message length exceeds the plaintext")
        message, appid = content[4 : 4 + length], content[4 + length :]
        if not hmac.compare_digest(appid, self._appid):
            raise InvalidAppIdError("AppID in the payload is not ours")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CryptoError("message is not UTF-8") from error

    # -- signed envelopes -----------------------------------------------------------

    def decrypt_message(
        self,
        msg_signature: Optional[str],
        timestamp: Optional[str],
        nonce: Optional[str],
        encrypted: str,
        *,
        now: Optional[float] = None,
        max_skew: Optional[int] = DEFAULT_MAX_SKEW_SECONDS,
    ) -> str:
        """Check `msg_signature` over the payload, then decrypt it (the inner XML)."""
        check_msg_signature(
            self._token, msg_signature, timestamp, nonce, encrypted, now=now, max_skew=max_skew
        )
        return self.decrypt(encrypted)

    def check_echo(
        self,
        msg_signature: Optional[str],
        timestamp: Optional[str],
        nonce: Optional[str],
        echostr: str,
        *,
        now: Optional[float] = None,
        max_skew: Optional[int] = DEFAULT_MAX_SKEW_SECONDS,
    ) -> str:
        """URL verification with an encrypted `echostr` (the WeCom style); returns its plaintext."""
        return self.decrypt_message(msg_signature, timestamp, nonce, echostr, now=now, max_skew=max_skew)

    def encrypt_message(self, reply_xml: str, nonce: str, timestamp: str) -> EncryptedMessage:
        """Encrypt a passive reply and sign it for the safe-mode envelope."""
        encrypted = self.encrypt(reply_xml)
        signature = compute_signature(self._token, str(timestamp), str(nonce), encrypted)
        return EncryptedMessage(encrypted, signature, str(timestamp), str(nonce))
