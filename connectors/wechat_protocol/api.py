"""Client of the WeChat Official Account HTTP API (access_token, customer-service messages).

* One access_token for every Rasa process: cached in Redis, fetched by whoever
  holds a short Redis lock, from `/cgi-bin/stable_token` by default (which,
  unlike `/cgi-bin/token`, does not invalidate a token other systems of the
  company may be using).
* 40001/42001/40014 (token invalid or expired) refresh the token once and repeat
  the call: WeChat refused it, so nothing was delivered.
* A send that timed out after the request went out is *ambiguous* (WeChat may
  have delivered it) and is never retried: the caller gets
  `AmbiguousSendError`, the user never gets two copies.
* 45015 (outside the 48-hour window) and 45047 (quota) are typed errors so the
  handoff console can tell the agent.
* Tokens and the AppSecret are never logged (httpx's request log is redacted).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any, Optional, Union

import httpx
from redis.asyncio import Redis

from heatdesk_contract.keys import DEFAULT_PREFIX, KeySpace

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"

TOKEN_INVALID_CODES = frozenset({40001, 40014, 42001})
OUTSIDE_WINDOW_CODE = 45015
QUOTA_CODE = 45047

# Compare-and-delete, so a process never releases a lock that expired and was re-taken.
_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class WeChatAPIError(Exception):
    """WeChat answered with a non-zero errcode (or not at all, for subclasses)."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class OutsideServiceWindowError(WeChatAPIError):
    """45015: the user has not written in the last 48 hours; WeChat refuses to deliver."""


class QuotaExceededError(WeChatAPIError):
    """45047: too many customer-service messages to this user without a reply."""


class WeChatTransportError(WeChatAPIError):
    """The request never reached WeChat (connection refused, DNS, connect timeout)."""


class AmbiguousSendError(WeChatAPIError):
    """The request went out but no answer came back: it may have been delivered.

    Never retried automatically, so a user never receives a message twice.
    """


class TokenUnavailableError(WeChatAPIError):
    """No access_token could be obtained (another process held the lock too long)."""


class _RedactSecretsFilter(logging.Filter):
    """Masks `access_token=` and `secret=` in httpx's request log lines."""

    _SENSITIVE = ("access_token", "secret")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact(arg) for arg in record.args)
        return True

    def _redact(self, value: Any) -> Any:
        if isinstance(value, httpx.URL) and any(
            name in value.params for name in self._SENSITIVE
        ):
            params = value.params
            for name in self._SENSITIVE:
                if name in params:
                    params = params.set(name, "***")
            return value.copy_with(params=params)
        return value


def _install_log_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(existing, _RedactSecretsFilter) for existing in httpx_logger.filters):
        httpx_logger.addFilter(_RedactSecretsFilter())


def _text(value: Union[bytes, str, None]) -> Optional[str]:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


class WeChatAPI:
    """The few WeChat API calls HeatDesk needs, safe to use from many processes at once."""

    def __init__(
        self,
        appid: str,
        appsecret: str,
        redis: Redis,
        *,
        base_url: str = DEFAULT_API_BASE,
        key_prefix: str = DEFAULT_PREFIX,
        use_stable_token: bool = True,
        timeout: float = 5.0,
        lock_ttl: float = 10.0,
        lock_wait: float = 12.0,
        expiry_margin: int = 300,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self.appid = appid
        self._appsecret = appsecret
        self._redis = redis
        self._base_url = (base_url or DEFAULT_API_BASE).rstrip("/")
        self._use_stable_token = use_stable_token
        self._timeout = timeout
        self._lock_ttl_ms = int(lock_ttl * 1000)
        self._lock_wait = lock_wait
        self._expiry_margin = expiry_margin
        self._http = http_client
        self._owns_http = http_client is None
        keys = KeySpace(key_prefix)
        self.token_key = keys.wechat_access_token(appid)
        self.lock_key = keys.wechat_access_token_lock(appid)
        _install_log_redaction()

    def __repr__(self) -> str:  # never show the secret
        return f"WeChatAPI(appid={self.appid!r}, base_url={self._base_url!r})"

    # -- HTTP plumbing ----------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        # Created on first use, inside the running event loop (no I/O in __init__).
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
        return self._http

    async def aclose(self) -> None:
        """Close the HTTP client if we created it."""
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    @staticmethod
    def _decode(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise WeChatAPIError(-1, f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as error:
            raise WeChatAPIError(-1, "answer is not JSON") from error
        if not isinstance(body, dict):
            raise WeChatAPIError(-1, "answer is not a JSON object")
        return body

    # -- access_token ------------------------------------------------------------------

    async def get_access_token(self, *, stale: Optional[str] = None) -> str:
        """The shared access_token; `stale` is one WeChat just refused (fetch a newer one)."""
        cached = _text(await self._redis.get(self.token_key))
        if cached and cached != stale:
            return cached
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait
        lock_value = secrets.token_hex(16)
        while True:
            if await self._redis.set(self.lock_key, lock_value, nx=True, px=self._lock_ttl_ms):
                try:
                    # Someone may have refreshed it while we waited for the lock.
                    cached = _text(await self._redis.get(self.token_key))
                    if cached and cached != stale:
                        return cached
                    token, expires_in = await self._fetch_token()
                    ttl = max(60, expires_in - self._expiry_margin)
                    await self._redis.set(self.token_key, token, ex=ttl)
                    logger.info("wechat.access_token.refreshed appid=%s ttl=%s", self.appid, ttl)
                    return token
                finally:
                    await self._redis.eval(_RELEASE_LOCK, 1, self.lock_key, lock_value)
            await asyncio.sleep(0.05)
            cached = _text(await self._redis.get(self.token_key))
            if cached and cached != stale:
                return cached
            if loop.time() > deadline:
                raise TokenUnavailableError(-1, "timed out waiting for the token lock")

    async def _fetch_token(self) -> tuple[str, int]:
        try:
            if self._use_stable_token:
                response = await self._client().post(
                    f"{self._base_url}/cgi-bin/stable_token",
                    json={
                        "grant_type": "client_credential",
                        "appid": self.appid,
                        "secret": self._appsecret,
                        "force_refresh": False,
                    },
                )
            else:
                response = await self._client().get(
                    f"{self._base_url}/cgi-bin/token",
                    params={
                        "grant_type": "client_credential",
                        "appid": self.appid,
                        "secret": self._appsecret,
                    },
                )
        except httpx.HTTPError as error:
            # Fetching a token changes nothing a user sees, but still: fail, do not loop.
            raise WeChatTransportError(-1, f"token request failed: {type(error).__name__}") from error
        body = self._decode(response)
        errcode = int(body.get("errcode") or 0)
        if errcode:
            raise WeChatAPIError(errcode, str(body.get("errmsg", "")))
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatAPIError(-1, "no access_token in the answer")
        try:
            expires_in = int(body.get("expires_in") or 7200)
        except (TypeError, ValueError):
            expires_in = 7200
        return token, expires_in

    async def invalidate_token(self, token: str) -> None:
        """Drop the cached token if it is still `token` (used after WeChat refused it)."""
        if _text(await self._redis.get(self.token_key)) == token:
            await self._redis.delete(self.token_key)

    # -- customer-service messages -----------------------------------------------------

    async def send_text(self, openid: str, content: str) -> None:
        """Send one customer-service text message (the caller splits long text)."""
        await self._call_with_token(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": content}},
        )

    async def send_template(
        self, openid: str, template_id: str, data: dict[str, Any], url: Optional[str] = None
    ) -> None:
        """Send one template message (reminders outside the 48-hour window; the template id is
        the company's, from the Official Account's back office)."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            payload["url"] = url
        await self._call_with_token("/cgi-bin/message/template/send", payload)

    async def _call_with_token(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        token = await self.get_access_token()
        body = await self._post(path, token, payload)
        errcode = int(body.get("errcode") or 0)
        if errcode in TOKEN_INVALID_CODES:
            # WeChat refused the call outright, so repeating it cannot duplicate anything.
            logger.info("wechat.access_token.rejected errcode=%s; refreshing once", errcode)
            await self.invalidate_token(token)
            token = await self.get_access_token(stale=token)
            body = await self._post(path, token, payload)
            errcode = int(body.get("errcode") or 0)
        if errcode == OUTSIDE_WINDOW_CODE:
            raise OutsideServiceWindowError(errcode, str(body.get("errmsg", "")))
        if errcode == QUOTA_CODE:
            raise QuotaExceededError(errcode, str(body.get("errmsg", "")))
        if errcode:
            raise WeChatAPIError(errcode, str(body.get("errmsg", "")))
        return body

    async def _post(self, path: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        # ensure_ascii=False: WeChat shows \uXXXX escapes literally in some clients.
        content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            response = await self._client().post(
                f"{self._base_url}{path}",
                params={"access_token": token},
                content=content,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise WeChatTransportError(-1, f"not sent: {type(error).__name__}") from error
        except httpx.HTTPError as error:
            raise AmbiguousSendError(-1, f"no answer after sending: {type(error).__name__}") from error
        return self._decode(response)
