"""Known-answer tests of signatures and safe-mode crypto (../shared/wechat_test_vectors.md)."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from connectors.wechat_protocol.crypto import (
    EncryptedMessage,
    WeChatCrypto,
    decode_aes_key,
    pkcs7_pad,
    pkcs7_unpad,
)
from connectors.wechat_protocol.exceptions import (
    CryptoError,
    InvalidAppIdError,
    InvalidPaddingError,
    InvalidSignatureError,
    StaleTimestampError,
)
from connectors.wechat_protocol.replies import render_encrypted_envelope
from connectors.wechat_protocol.messages import parse_xml_fields
from connectors.wechat_protocol.signature import (
    check_msg_signature,
    check_signature,
    check_timestamp,
    compute_signature,
    signatures_match,
)

TOKEN = "123456"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APPID = "wx49f0ab532d5d035a"

ECHO_SIGNATURE = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
ECHO_TIMESTAMP = "1411443780"
ECHO_NONCE = "437374425"
ECHOSTR = (
    "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
)

DECRYPT_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
DECRYPT_TIMESTAMP = "1411525903"
DECRYPT_NONCE = "461056294"
ENCRYPTED = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTye"
    "DXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyol"
    "Bug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnY"
    "ZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noT"
    "rb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
DECRYPTED = "\n".join(
    [
        "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>",
        "<FromUserName><![CDATA[messense]]></FromUserName>",
        "<CreateTime>1411525903</CreateTime>",
        "<MsgType><![CDATA[text]]></MsgType>",
        "<Content><![CDATA[test]]></Content>",
        "<MsgId>4363689963896700987</MsgId>",
        "<AgentID>1</AgentID>",
        "</xml>",
    ]
)

REPLY = "\n".join(
    [
        "<xml>",
        "<MsgType><![CDATA[text]]></MsgType>",
        "<Content><![CDATA[test]]></Content>",
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>",
        "<ToUserName><![CDATA[messense]]></ToUserName>",
        "<AgentID>1</AgentID>",
        "<CreateTime>1411525903</CreateTime>",
        "</xml>",
    ]
)
REPLY_ENCRYPTED = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8G"
    "qxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1"
    "qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0"
    "RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiK"
    "zHo3"
)
REPLY_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"

FIXED_RANDOM = b"1234567890123456"


def make_crypto(appid: str = APPID, **kwargs: object) -> WeChatCrypto:
    return WeChatCrypto(TOKEN, AES_KEY, appid, random_bytes=lambda n: FIXED_RANDOM, **kwargs)  # type: ignore[arg-type]


# -- signature -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "token, timestamp, nonce, expected",
    [
        ("test", "1410685589", "test", "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"),
        ("AAAAA", "1714037059", "486452656", "899cf89e464efb63f54ddac96b0a0a235f53aa78"),
    ],
)
def test_signature_known_answers(token: str, timestamp: str, nonce: str, expected: str) -> None:
    assert compute_signature(token, timestamp, nonce) == expected
    check_signature(token, expected, timestamp, nonce, max_skew=None)
    check_signature(token, expected.upper(), timestamp, nonce, max_skew=None)


def test_signature_wrong_nonce_fails() -> None:
    with pytest.raises(InvalidSignatureError):
        check_signature(
            "test", "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff", "1410685589", "tesu", max_skew=None
        )


@pytest.mark.parametrize("received", [None, "", "0" * 40, "签名不对", "f21891de"])
def test_signature_garbage_is_refused_without_crashing(received: object) -> None:
    assert not signatures_match("f21891de399b4e33a1a93c9a7b8a8fffb5a443ff", received)  # type: ignore[arg-type]
    with pytest.raises(InvalidSignatureError):
        check_signature("test", received, "1410685589", "test", max_skew=None)  # type: ignore[arg-type]


def test_empty_token_refuses_even_a_correct_looking_signature() -> None:
    signature = compute_signature("", "1410685589", "test")
    with pytest.raises(InvalidSignatureError):
        check_signature("", signature, "1410685589", "test", max_skew=None)


def test_stale_timestamp_is_refused_with_the_clock_seam() -> None:
    signature = compute_signature("test", "1410685589", "test")
    check_signature("test", signature, "1410685589", "test", now=1410685589 + 299)
    with pytest.raises(StaleTimestampError):
        check_signature("test", signature, "1410685589", "test", now=1410685589 + 301)
    with pytest.raises(StaleTimestampError):
        check_signature("test", signature, "1410685589", "test", now=1410685589 - 301)
    with pytest.raises(StaleTimestampError):
        check_timestamp("not-a-number", now=0)


def test_msg_signature_covers_the_payload() -> None:
    check_msg_signature(
        TOKEN, DECRYPT_SIGNATURE, DECRYPT_TIMESTAMP, DECRYPT_NONCE, ENCRYPTED, max_skew=None
    )
    with pytest.raises(InvalidSignatureError):
        check_msg_signature(
            TOKEN, DECRYPT_SIGNATURE, DECRYPT_TIMESTAMP, DECRYPT_NONCE, ENCRYPTED[:-4] + "AAA=",
            max_skew=None,
        )


# -- safe mode -----------------------------------------------------------------------


def test_echo_check_known_answer() -> None:
    echo = make_crypto().check_echo(ECHO_SIGNATURE, ECHO_TIMESTAMP, ECHO_NONCE, ECHOSTR, max_skew=None)
    assert echo == "5927782489442352469"


def test_echo_check_fails_with_a_wrong_nonce() -> None:
    with pytest.raises(InvalidSignatureError):
        make_crypto().check_echo(ECHO_SIGNATURE, ECHO_TIMESTAMP, "437374424", ECHOSTR, max_skew=None)


def test_decrypt_known_answer() -> None:
    plaintext = make_crypto().decrypt_message(
        DECRYPT_SIGNATURE, DECRYPT_TIMESTAMP, DECRYPT_NONCE, ENCRYPTED, max_skew=None
    )
    assert plaintext == DECRYPTED


def test_decrypt_is_refused_when_stale() -> None:
    with pytest.raises(StaleTimestampError):
        make_crypto().decrypt_message(
            DECRYPT_SIGNATURE, DECRYPT_TIMESTAMP, DECRYPT_NONCE, ENCRYPTED, now=1_700_000_000
        )


def test_encrypt_known_answer_with_fixed_random() -> None:
    result = make_crypto().encrypt_message(REPLY, DECRYPT_NONCE, DECRYPT_TIMESTAMP)
    assert result == EncryptedMessage(REPLY_ENCRYPTED, REPLY_SIGNATURE, DECRYPT_TIMESTAMP, DECRYPT_NONCE)
    envelope = parse_xml_fields(render_encrypted_envelope(result))
    assert envelope == {
        "Encrypt": REPLY_ENCRYPTED,
        "MsgSignature": REPLY_SIGNATURE,
        "TimeStamp": DECRYPT_TIMESTAMP,
        "Nonce": DECRYPT_NONCE,
    }


def test_round_trip_with_real_randomness() -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    text = "<xml><Content><![CDATA[供热 ]]]]><![CDATA[> 测试]]></Content></xml>"
    first, second = crypto.encrypt(text), crypto.encrypt(text)
    assert first != second  # random prefix
    assert crypto.decrypt(first) == text == crypto.decrypt(second)


def test_wrong_appid_fails() -> None:
    with pytest.raises(InvalidAppIdError):
        make_crypto(appid="wx0000000000000000").decrypt_message(
            DECRYPT_SIGNATURE, DECRYPT_TIMESTAMP, DECRYPT_NONCE, ENCRYPTED, max_skew=None
        )


def _raw_encrypt(plaintext_blocks: bytes) -> str:
    key = decode_aes_key(AES_KEY)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext_blocks) + encryptor.finalize()).decode()


@pytest.mark.parametrize(
    "tail",
    [
        b"\x00",  # pad length 0
        b"\x21",  # 33 > 32
        b"\x05\x05\x05\x04\x05",  # inconsistent pad bytes
        b"\xff",
    ],
)
def test_bad_pad_fails(tail: bytes) -> None:
    body = b"R" * 16 + (5).to_bytes(4, "big") + b"hello" + APPID.encode()
    filler = b"x" * ((-(len(body) + len(tail))) % 32)
    payload = _raw_encrypt(body + filler + tail)
    with pytest.raises(InvalidPaddingError):
        make_crypto().decrypt(payload)


def test_declared_length_beyond_the_plaintext_fails() -> None:
    body = b"R" * 16 + (10_000).to_bytes(4, "big") + b"hello" + APPID.encode()
    with pytest.raises(CryptoError):
        make_crypto().decrypt(_raw_encrypt(pkcs7_pad(body)))


@pytest.mark.parametrize("payload", ["", "not base64 !!", "QUJD", base64.b64encode(b"x" * 17).decode()])
def test_garbage_ciphertext_fails_cleanly(payload: str) -> None:
    with pytest.raises(CryptoError):
        make_crypto().decrypt(payload)


def test_previous_key_is_accepted_during_rotation() -> None:
    new_key = base64.b64encode(os.urandom(32)).decode()[:43]
    old = WeChatCrypto(TOKEN, AES_KEY, APPID)
    rotated = WeChatCrypto(TOKEN, new_key, APPID, previous_encoding_aes_key=AES_KEY)
    without_fallback = WeChatCrypto(TOKEN, new_key, APPID)
    old_payload = old.encrypt("<xml>old</xml>")
    assert rotated.decrypt(old_payload) == "<xml>old</xml>"
    with pytest.raises(CryptoError):
        without_fallback.decrypt(old_payload)
    # Replies always use the current key.
    assert without_fallback.decrypt(rotated.encrypt("<xml>new</xml>")) == "<xml>new</xml>"


@pytest.mark.parametrize("key", ["", "short", AES_KEY + "A", "!" * 43])
def test_malformed_aes_key_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ValueError):
        WeChatCrypto(TOKEN, key, APPID)


def test_pkcs7_pads_to_32_bytes() -> None:
    assert len(pkcs7_pad(b"")) == 32
    assert pkcs7_pad(b"a" * 32)[-1] == 32 and len(pkcs7_pad(b"a" * 32)) == 64
    assert pkcs7_unpad(pkcs7_pad(b"abc")) == b"abc"
