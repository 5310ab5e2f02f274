"""Async client of the billing API (docs/billing_api.md), built to fail fast.

A resident is waiting on the other end of every call, so:

* every call has one overall deadline of at most 2 s (``timeout``), retry
  included; a slow server costs one short wait, never more;
* a connection error (nothing reached the server) is retried once while the
  deadline allows; timeouts are not retried (that would double the wait);
* a circuit breaker counts consecutive failures (connection errors,
  timeouts, 5xx, garbage); after ``failure_threshold`` of them it *opens* and
  calls fail at once with :class:`BillingUnavailable` for ``cooldown``
  seconds; then one trial call is let through (*half-open*): success closes
  the breaker, failure opens it again. Keep one client per process so that
  the breaker's memory is shared by all conversations.

Errors are typed: :class:`BillingUnavailable` (try later / offer a human),
:class:`AccountNotFound`, :class:`BillingRequestError` (the request itself is
malformed), all subclasses of :class:`BillingError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from datetime import date
from typing import Any, AsyncIterator, Callable, Iterator, List, Mapping, Optional

import httpx

from billing_client.bulk import LineSplitter, parse_trailer
from billing_client.models import Account, ArrearsReport

__all__ = [
    "AccountNotFound",
    "BillingClient",
    "BillingError",
    "BillingRequestError",
    "BillingUnavailable",
    "CircuitBreaker",
    "ExportUnsupported",
    "MAX_TIMEOUT",
]

logger = logging.getLogger("billing_client")

MAX_TIMEOUT = 2.0
_ACCOUNT_RE = re.compile(r"^[0-9]{8,10}$")
_LAST4_RE = re.compile(r"^[0-9]{4}$")


class BillingError(Exception):
    """Base of every error the billing client raises."""


class BillingUnavailable(BillingError):
    """The billing system cannot answer now (down, slow, 5xx, breaker open)."""


class AccountNotFound(BillingError):
    """The billing system has no account with that number."""

    def __init__(self, account_no: str) -> None:
        super().__init__(f"account {account_no} not found")
        self.account_no = account_no


class ExportUnsupported(BillingError):
    """The billing system has no bulk export (`GET /api/v1/accounts/export`): read the pages instead."""


class BillingRequestError(BillingError):
    """The request is malformed (e.g. not an 8–10 digit account number); retrying will not help."""


class CircuitBreaker:
    """Closed → open after N consecutive failures → half-open after the cool-down.

    ``clock`` is a seam (monotonic seconds) so tests can move time by hand.
    Not thread-safe; meant for one event loop.
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    def __init__(
        self,
        failure_threshold: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown < 0:
            raise ValueError("cooldown must not be negative")
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: Optional[float] = None
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return self.CLOSED
        if self._probe_in_flight or self._clock() - self._opened_at >= self.cooldown:
            return self.HALF_OPEN
        return self.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def before_call(self) -> None:
        """Raise :class:`BillingUnavailable` at once when calls must not go out."""
        if self._opened_at is None:
            return
        if self._probe_in_flight:
            raise BillingUnavailable("billing system unavailable (circuit half-open, trial call in progress)")
        remaining = self.cooldown - (self._clock() - self._opened_at)
        if remaining > 0:
            raise BillingUnavailable(f"billing system unavailable (circuit open, retry in {remaining:.0f} s)")
        self._probe_in_flight = True  # this caller is the trial call

    def record_success(self) -> None:
        if self._opened_at is not None:
            logger.info("billing circuit closed: the billing system answers again")
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self, reason: str) -> None:
        self._failures += 1
        was_probe = self._probe_in_flight
        self._probe_in_flight = False
        if was_probe or (self._opened_at is None and self._failures >= self.failure_threshold):
            if not was_probe:
                logger.warning(
                    "billing circuit opened after %d consecutive failures (last: %s); failing fast for %.0f s",
                    self._failures,
                    reason,
                    self.cooldown,
                )
            self._opened_at = self._clock()

    def release(self) -> None:
        """A trial call ended without a verdict (cancelled): let the next caller try."""
        self._probe_in_flight = False


class BillingClient:
    """The billing API, as the bot uses it. No I/O happens in the constructor.

    ``transport`` lets tests or deployments plug an httpx transport (e.g. a
    proxy); ``headers`` adds e.g. an API key a company's own system needs.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = MAX_TIMEOUT,
        *,
        retries: int = 1,
        failure_threshold: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        breaker: Optional[CircuitBreaker] = None,
        transport: Optional[httpx.AsyncBaseTransport] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if not 0 < timeout <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT}] seconds, got {timeout}")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.retries = retries
        self.breaker = breaker or CircuitBreaker(failure_threshold, cooldown, clock)
        self._transport = transport
        self._headers = dict(headers or {})
        self._http: Optional[httpx.AsyncClient] = None
        self._http_loop: Optional[asyncio.AbstractEventLoop] = None

    async def __aenter__(self) -> "BillingClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    # -- API -----------------------------------------------------------------

    async def get_account(self, account_no: str) -> Account:
        """The account with its bills and payments; raises :class:`AccountNotFound`."""
        _check_account_no(account_no)
        data = await self._request("GET", f"/api/v1/accounts/{account_no}", account_no=account_no)
        return self._parse(Account.from_json, data)

    async def verify_phone(self, account_no: str, phone_last4: str) -> bool:
        """Whether ``phone_last4`` matches the phone on file (compared by the server)."""
        _check_account_no(account_no)
        if not isinstance(phone_last4, str) or not _LAST4_RE.fullmatch(phone_last4):
            raise BillingRequestError("phone_last4 must be exactly four digits")
        data = await self._request(
            "POST", f"/api/v1/accounts/{account_no}/verify", json={"phone_last4": phone_last4}, account_no=account_no
        )
        verified = data.get("verified") if isinstance(data, dict) else None
        if not isinstance(verified, bool):
            self.breaker.record_failure("malformed verify response")
            raise BillingError("billing system returned a malformed verify response")
        return verified

    async def arrears_by_district(self, as_of: Optional[date] = None) -> ArrearsReport:
        """Households in arrears, unpaid principal and late fees per district."""
        params = {"as_of": as_of.isoformat()} if as_of is not None else None
        data = await self._request("GET", "/api/v1/reports/arrears", params=params)
        return self._parse(ArrearsReport.from_json, data)

    async def accounts_page(
        self, after: str = "", limit: int = 1000, district: Optional[str] = None
    ) -> tuple[list[Account], Optional[str]]:
        """One page of accounts with bills (bulk reads); the second value is the next page's ``after``."""
        params = {"after": after, "limit": str(limit)}
        if district is not None:
            params["district"] = district
        data = await self._request("GET", "/api/v1/accounts", params=params)
        return self._parse(_account_page, data)

    async def export_accounts(
        self,
        after: str = "",
        district: Optional[str] = None,
        *,
        owing_on: Optional[date] = None,
        paid_since: Optional[date] = None,
        read_timeout: float = 10.0,
        batch_lines: int = 1000,
    ) -> AsyncIterator[List[bytes]]:
        """Every account after ``after`` from the NDJSON export, as batches of raw lines in account
        order; parse them with :func:`billing_client.bulk.parse_households` (off the event loop for
        a whole city). ``owing_on`` / ``paid_since`` ask the server to leave out accounts without
        a bill unpaid by that day / without a payment since that day — a hint it may ignore. No overall deadline: a bulk read has no resident waiting, so each read may
        take ``read_timeout``. Raises :class:`BillingUnavailable` when the stream breaks or ends
        without its trailer (resume with ``after`` = the last account received) and
        :class:`ExportUnsupported` when the billing system has no export endpoint. Use it inside
        ``contextlib.aclosing`` so that a caller who stops early closes the connection."""
        self.breaker.before_call()
        wanted = {"after": after, "district": district, "owing_on": owing_on.isoformat() if owing_on else None,
                  "paid_since": paid_since.isoformat() if paid_since else None}
        params = {name: value for name, value in wanted.items() if value is not None}
        timeout = httpx.Timeout(read_timeout, connect=self.timeout)
        splitter, received = LineSplitter(), 0
        with self._verdict():
            try:
                async with self._client().stream("GET", "/api/v1/accounts/export", params=params,
                                                 timeout=timeout) as response:
                    status = response.status_code
                    if status in (404, 405, 501):
                        raise ExportUnsupported(f"billing system has no account export (HTTP {status})")
                    if status != 200:
                        raise BillingUnavailable(f"billing system answered HTTP {status} for the account export")
                    batch: List[bytes] = []
                    async for data in response.aiter_bytes():
                        batch += splitter.feed(data)
                        if len(batch) >= batch_lines:
                            received += len(batch)
                            yield batch
                            batch = []
                    rest, last = splitter.finish()
                    batch += rest
                    parse_trailer(last, received + len(batch))
                    if batch:
                        yield batch
            except (httpx.HTTPError, ValueError) as exc:  # transport failure, cut stream, bad trailer
                raise BillingUnavailable(f"billing account export broke off: {exc}") from None

    @contextlib.contextmanager
    def _verdict(self) -> Iterator[None]:
        """Tell the breaker how a streamed call ended: unavailable, answered (an error the server
        gave on purpose counts as an answer), or neither (the caller stopped or was cancelled)."""
        try:
            yield
        except BillingUnavailable as exc:
            self.breaker.record_failure(str(exc))
            raise
        except BillingError:
            self.breaker.record_success()
            raise
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_success()

    async def health(self) -> bool:
        """True when the billing API says it is healthy; never raises."""
        try:
            await self._request("GET", "/health")
        except BillingError:
            return False
        return True

    # -- plumbing ----------------------------------------------------------

    def _parse(self, parser: Callable[[Any], Any], data: Any) -> Any:
        try:
            return parser(data)
        except ValueError as exc:
            self.breaker.record_failure("malformed response")
            raise BillingError(f"billing system returned a malformed response: {exc}") from None

    def _client(self) -> httpx.AsyncClient:
        """One connection pool per event loop (a pool cannot move between loops)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop or self._http.is_closed:
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                transport=self._transport,
                headers=self._headers,
                timeout=self.timeout,
                follow_redirects=False,
            )
            self._http_loop = loop
        return self._http

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Optional[Mapping[str, Any]] = None,
        params: Optional[Mapping[str, str]] = None,
        account_no: Optional[str] = None,
    ) -> Any:
        self.breaker.before_call()
        settled = False
        try:
            response = await self._send(method, path, json=json, params=params)
            status = response.status_code
            if status >= 500:
                self.breaker.record_failure(f"HTTP {status}")
                settled = True
                raise BillingUnavailable(f"billing system answered HTTP {status} for {method} {path}")
            if status == 404 and account_no is not None:
                self.breaker.record_success()
                settled = True
                raise AccountNotFound(account_no)
            if status in (400, 422):
                self.breaker.record_success()
                settled = True
                raise BillingRequestError(f"billing system refused the request ({status}): {_detail(response)}")
            if status >= 300:
                self.breaker.record_failure(f"HTTP {status}")
                settled = True
                raise BillingError(f"billing system answered HTTP {status} for {method} {path}: {_detail(response)}")
            try:
                data = response.json()
            except ValueError:
                self.breaker.record_failure("invalid JSON")
                settled = True
                raise BillingError(f"billing system returned invalid JSON for {method} {path}") from None
            self.breaker.record_success()
            settled = True
            return data
        except BillingUnavailable as exc:
            if not settled:
                self.breaker.record_failure(str(exc))
                settled = True
            raise
        finally:
            if not settled:
                self.breaker.release()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Optional[Mapping[str, Any]],
        params: Optional[Mapping[str, str]],
    ) -> httpx.Response:
        """One request under one overall deadline; a connection error is retried while time is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        http = self._client()
        attempt = 0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise BillingUnavailable(f"billing system did not answer {method} {path} within {self.timeout:.1f} s")
            try:
                return await asyncio.wait_for(
                    http.request(method, path, json=json, params=params, timeout=httpx.Timeout(remaining)),
                    timeout=remaining,
                )
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                # Connection refused/reset, or a pooled connection the server had closed.
                # The call has no side effects, so one more try is safe.
                attempt += 1
                if attempt > self.retries or deadline - loop.time() <= 0:
                    raise BillingUnavailable(
                        f"cannot reach the billing system for {method} {path}: {exc.__class__.__name__}"
                    ) from None
                logger.debug("billing %s %s: %s, retrying once", method, path, exc.__class__.__name__)
            except (httpx.TimeoutException, asyncio.TimeoutError):
                raise BillingUnavailable(
                    f"billing system did not answer {method} {path} within {self.timeout:.1f} s"
                ) from None
            except httpx.HTTPError as exc:
                raise BillingUnavailable(
                    f"billing system request {method} {path} failed: {exc.__class__.__name__}"
                ) from None


def _account_page(data: Any) -> tuple[list[Account], Optional[str]]:
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        raise ValueError("account page: expected an object with a list `accounts`")
    next_after = data.get("next_after")
    if next_after is not None and not isinstance(next_after, str):
        raise ValueError("account page: next_after must be a string or null")
    return [Account.from_json(item) for item in data["accounts"]], next_after


def _check_account_no(account_no: str) -> None:
    if not isinstance(account_no, str) or not _ACCOUNT_RE.fullmatch(account_no):
        raise BillingRequestError("account number (户号) must be 8 to 10 digits")


def _detail(response: httpx.Response) -> str:
    """A short reason from an error body, for logs; never the request body."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or ""
    if isinstance(body, dict):
        detail = body.get("detail", body.get("message", ""))
        return str(detail)[:200]
    return ""
