"""Async client for the Nexudus REST API's coworker identity-check resource.

One shared `httpx2.AsyncClient` per process. Every operation returns parsed JSON or raises
`NexudusError`, whose `kind` says what a caller can do about it (fix the input, fix the
credentials, wait, give up); no raw HTTP exception ever leaves this module.

What the documentation says and this module does (see shared/nexudus/API-FACTS.md):
- Auth: a bearer token, or username + password exchanged at /api/token (form-encoded) and cached
  until shortly before `expires_in`, refreshed with the refresh token, with one re-authentication
  after a 401 and never a loop; or HTTP Basic.
- Throttling answers 409 "You must wait…" (legacy) or 429, with Retry-After: honoured, capped.
- 502/503/504 and dropped connections are retried with exponential backoff and full jitter.
  GET and PUT (a full replace) are idempotent, so both may be retried. Attempts and the total time
  of a call are bounded.
- A 200 whose envelope says WasSuccessful: false or carries Errors is a failure.
Logs name the operation, status and timing; never a header, token, password, query or body.
"""

from __future__ import annotations

import base64
import email.utils
import html
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx2

from . import __version__
from .fields import RESOURCE_PATH, ROLE_FOR
from .settings import CREDENTIAL_VARIABLES, Settings

log = logging.getLogger(__name__)

ErrorKind = Literal[
    "validation", "unauthorized", "not_found", "rate_limited", "upstream_unavailable",
    "upstream_error", "not_configured",
]
Operation = Literal["get", "search", "update", "token"]

RETRYABLE_KINDS: frozenset[str] = frozenset({"rate_limited", "upstream_unavailable"})
TRANSIENT_STATUSES = frozenset({502, 503, 504})
MAX_EXCERPT = 300
MAX_MESSAGE = 500


@dataclass
class NexudusError(Exception):
    """A failed API call, classified so that the caller (and the model) can act on it."""

    kind: ErrorKind
    message: str
    status: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    retry_after: float | None = None
    operation: Operation | None = None
    # Set when the server answered with something other than the envelope (HTML, bad JSON).
    excerpt: str | None = None
    # Retried in here before giving up.
    transient: bool = False

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SearchPage:
    records: list[dict[str, Any]]
    current_page: int
    page_size: int
    total_items: int
    total_pages: int
    has_next_page: bool
    has_previous_page: bool


SleepFn = Callable[[float], Awaitable[None]]


class NexudusClient:
    """The API client. Use as an async context manager, or call `aclose()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        sleep: SleepFn = anyio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._secrets = settings.secrets()
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None
        self._auth = _Auth(settings, lambda: self._http, self._scrub)
        # An in-process transport (the sandbox's ASGI app) ignores httpx timeouts, so each exchange
        # through one gets its own bound; on the network httpx's connect/read timeouts apply.
        self._exchange_limit = settings.connect_timeout + settings.read_timeout if transport is not None else None

    async def __aenter__(self) -> NexudusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def _http(self) -> httpx2.AsyncClient:
        """The one connection pool, made on first use: building its TLS context costs tens of
        milliseconds that a server start should not wait for."""
        if self._client is None:
            self._client = httpx2.AsyncClient(
                base_url=self.settings.base_url,
                transport=self._transport,
                timeout=httpx2.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout),
                headers={"Accept": "application/json", "User-Agent": f"nexudus-identity-mcp/{__version__}"},
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def token_requests(self) -> int:
        """How many times this client asked /api/token for a token (password auth only)."""
        return self._auth.token_requests

    # ----------------------------------------------------------------- operations
    async def get_check(self, check_id: int) -> dict[str, Any]:
        body = await self._call("get", "GET", f"{RESOURCE_PATH}/{int(check_id)}")
        if not isinstance(body, dict) or not body:
            raise NexudusError("not_found", f"No coworker identity check with Id {check_id}.",
                               status=200, operation="get")
        errors = _errors_of(body)
        if errors or body.get("WasSuccessful") is False:
            kind: ErrorKind = "validation" if errors else "upstream_error"
            raise NexudusError(kind, self._message(body, "Nexudus answered the read with a failure envelope."),
                               status=200, errors=errors, operation="get")
        if body.get("Id") != check_id:
            raise NexudusError("upstream_error", f"Nexudus answered the read of check {check_id} with something "
                               "other than that record.", status=200, operation="get")
        return body

    async def search_checks(
        self,
        *,
        page: int = 1,
        size: int = 25,
        coworker_id: int | None = None,
        business_id: int | None = None,
        name: str | None = None,
        verification_status: int | None = None,
        verification_type: int | None = None,
        order_by: str | None = None,
        descending: bool | None = None,
    ) -> SearchPage:
        params: dict[str, Any] = {"page": page, "size": size}
        filters = {
            "CoworkerIdentityCheck_Coworker": coworker_id,
            "CoworkerIdentityCheck_Business": business_id,
            "CoworkerIdentityCheck_Name": name,
            "CoworkerIdentityCheck_VerificationStatus": verification_status,
            "CoworkerIdentityCheck_VerificationType": verification_type,
        }
        params.update({k: v for k, v in filters.items() if v is not None})
        if order_by:
            params["orderBy"] = order_by
            if descending is not None:
                # The docs disagree on `dir` (1/-1 or 0/1); -1 and 1 mean the same in both readings
                # only for descending=False, so descending is sent as the documented -1.
                params["dir"] = -1 if descending else 1
        body = await self._call("search", "GET", RESOURCE_PATH, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("Records"), list):
            raise NexudusError("upstream_error", "Nexudus answered the search with something other "
                               "than a page of records.", status=200, operation="search")
        records = [r for r in body["Records"] if isinstance(r, dict)]
        return SearchPage(
            records=records,
            current_page=_int(body.get("CurrentPage"), page),
            page_size=_int(body.get("CurrentPageSize"), size),
            total_items=_int(body.get("TotalItems"), len(records)),
            total_pages=_int(body.get("TotalPages"), 1),
            has_next_page=bool(body.get("HasNextPage")),
            has_previous_page=bool(body.get("HasPreviousPage")),
        )

    async def update_check(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT a full record. Returns the success envelope; raises on anything else."""
        return await self._call("update", "PUT", RESOURCE_PATH, json=dict(body))

    # ----------------------------------------------------------------- machinery
    async def _call(self, op: Operation, method: str, path: str, *, params: dict[str, Any] | None = None,
                    json: dict[str, Any] | None = None) -> Any:
        if not self.settings.configured:
            raise NexudusError("not_configured", "No Nexudus credentials are configured: set "
                               f"{CREDENTIAL_VARIABLES} (and NEXUDUS_BASE_URL if not the default).",
                               operation=op)
        started = time.monotonic()
        deadline = started + self.settings.max_call_seconds
        try:
            with anyio.fail_after(self.settings.max_call_seconds):
                return await self._call_with_retries(op, method, path, params, json, deadline)
        except TimeoutError:
            raise NexudusError("upstream_unavailable", f"Nexudus did not complete the {op} within "
                               f"{self.settings.max_call_seconds:g}s.", operation=op, transient=True) from None

    async def _call_with_retries(self, op: Operation, method: str, path: str,
                                 params: dict[str, Any] | None, json: dict[str, Any] | None,
                                 deadline: float) -> Any:
        reauthenticated = False
        attempt = 0
        while True:
            attempt += 1
            try:
                headers = await self._auth.headers()
                response = await self._exchange(method, path, params=params, json=json, headers=headers)
                if response.status_code == 401 and self._auth.can_reauthenticate and not reauthenticated:
                    reauthenticated = True
                    log.info("nexudus %s: 401, authenticating again once", op)
                    self._auth.invalidate()
                    attempt -= 1  # the re-authentication is not a retry of a failure
                    continue
                return self._interpret(op, response)
            except NexudusError as error:
                error.operation = error.operation or op
                wait = self._retry_wait(error, attempt)
                if wait is None or time.monotonic() + wait > deadline:
                    raise
                log.warning("nexudus %s: %s (%s); retry %d of %d in %.2fs", op, error.kind,
                            error.status or "no answer", attempt, self.settings.max_attempts - 1, wait)
                await self._sleep(wait)

    def _retry_wait(self, error: NexudusError, attempt: int) -> float | None:
        if attempt >= self.settings.max_attempts:
            return None
        if error.kind == "rate_limited":
            after = 1.0 if error.retry_after is None else error.retry_after
            return min(max(after, 0.0), self.settings.max_retry_after)
        if error.transient:
            ceiling = self.settings.backoff_base * (2 ** (attempt - 1))
            return self._rng.uniform(0, ceiling)
        return None

    async def _exchange(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        started = time.monotonic()
        try:
            with anyio.fail_after(self._exchange_limit):  # None: no extra scope deadline
                response = await self._http.request(method, path, **kwargs)
        except (TimeoutError, httpx2.ReadTimeout, httpx2.WriteTimeout, httpx2.PoolTimeout):
            raise NexudusError("upstream_unavailable", "Nexudus did not answer in time "
                               f"(read timeout {self.settings.read_timeout:g}s).") from None
        except httpx2.ConnectTimeout:
            raise NexudusError("upstream_unavailable", "Could not connect to Nexudus in time "
                               f"(connect timeout {self.settings.connect_timeout:g}s).",
                               transient=True) from None
        except httpx2.ConnectError:
            raise NexudusError("upstream_unavailable", "Could not connect to Nexudus.", transient=True) from None
        except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError):
            raise NexudusError("upstream_unavailable", "The connection to Nexudus was dropped "
                               "before a complete answer arrived.", transient=True) from None
        except httpx2.HTTPError as exc:
            raise NexudusError("upstream_unavailable", f"HTTP failure talking to Nexudus "
                               f"({type(exc).__name__}).") from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %d in %.0f ms", method, _loggable_path(path), response.status_code,
                      (time.monotonic() - started) * 1000)
        return response

    def _interpret(self, op: Operation, response: httpx2.Response) -> Any:
        status = response.status_code
        body = _json_or_none(response)
        if 200 <= status < 300:
            if op == "update":
                return self._update_envelope(response, body)
            if body is None and response.content.strip() not in (b"", b"null"):
                raise self._unexpected(op, response, "a body that is not JSON")
            return body
        raise self.classify(op, response, body)

    def _update_envelope(self, response: httpx2.Response, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or "WasSuccessful" not in body:
            raise self._unexpected("update", response, "an answer that is not the update envelope")
        errors = _errors_of(body)
        if errors or body.get("WasSuccessful") is not True:
            if errors:
                raise NexudusError("validation", self._message(body, "Nexudus rejected the update."),
                                   status=response.status_code, errors=errors, operation="update")
            raise NexudusError("upstream_error", self._message(body, "Nexudus did not confirm the update."),
                               status=response.status_code, operation="update")
        return body

    def classify(self, op: Operation, response: httpx2.Response, body: Any) -> NexudusError:
        status = response.status_code
        if status == 400 and isinstance(body, dict) and ("Errors" in body or "Message" in body):
            return NexudusError("validation", self._message(body, "Nexudus rejected the request."),
                                status=status, errors=_errors_of(body), operation=op)
        if status in (401, 403):
            role = ROLE_FOR.get(op)
            needs = f" The {op} needs a full unrestricted administrator or the {role} role." if role else ""
            return NexudusError("unauthorized", "Nexudus refused the credentials (HTTP "
                                f"{status}): they are wrong or expired, or the user lacks the role.{needs}",
                                status=status, operation=op)
        if status == 404:
            return NexudusError("not_found", "Nexudus found no such coworker identity check (HTTP 404).",
                                status=status, operation=op)
        if status in (409, 429):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return NexudusError("rate_limited", "Nexudus is throttling requests (HTTP "
                                f"{status}: you must wait before accessing this url again).",
                                status=status, retry_after=retry_after, operation=op)
        if status >= 500:
            return NexudusError("upstream_unavailable", f"Nexudus failed with HTTP {status}.",
                                status=status, operation=op, transient=status in TRANSIENT_STATUSES,
                                excerpt=self._excerpt(response))
        return self._unexpected(op, response, f"HTTP {status}")

    def _unexpected(self, op: Operation, response: httpx2.Response, what: str) -> NexudusError:
        return NexudusError("upstream_error", f"Nexudus answered the {op} with {what}.",
                            status=response.status_code, operation=op, excerpt=self._excerpt(response))

    def _message(self, body: dict[str, Any], default: str) -> str:
        message = body.get("Message")
        return self._scrub(str(message))[:MAX_MESSAGE] if message else default

    def _excerpt(self, response: httpx2.Response) -> str | None:
        return sanitise_excerpt(response.text, self._secrets)

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)


class _Auth:
    """Produces the Authorization header for each request; owns the token cache."""

    def __init__(self, settings: Settings, http: Callable[[], httpx2.AsyncClient],
                 scrub_fn: Callable[[str], str]) -> None:
        self.mode = settings.auth_mode
        self.settings = settings
        self._http = http
        self._scrub = scrub_fn
        self._lock = anyio.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self.token_requests = 0
        if self.mode == "basic":
            raw = f"{settings.username}:{settings.password.get_secret_value()}".encode()  # type: ignore[union-attr]
            self._basic = "Basic " + base64.b64encode(raw).decode()

    @property
    def can_reauthenticate(self) -> bool:
        return self.mode == "password"

    def invalidate(self) -> None:
        self._access = None
        self._expires_at = 0.0

    async def headers(self) -> dict[str, str]:
        if self.mode == "bearer":
            return {"Authorization": f"Bearer {self.settings.token.get_secret_value()}"}  # type: ignore[union-attr]
        if self.mode == "basic":
            return {"Authorization": self._basic}
        if self._access is None or time.monotonic() >= self._expires_at:
            async with self._lock:  # one token request for any number of concurrent calls
                if self._access is None or time.monotonic() >= self._expires_at:
                    await self._obtain()
        return {"Authorization": f"Bearer {self._access}"}

    async def _obtain(self) -> None:
        if self._refresh:
            form = {"grant_type": "refresh_token", "refresh_token": self._refresh}
            self._refresh = None  # a used refresh token stops working either way
            try:
                await self._token_request(form, {"client_id": self.settings.username or ""})
                return
            except NexudusError as error:
                if error.kind != "unauthorized":
                    raise
                log.info("nexudus token: refresh refused, signing in with the password again")
        assert self.settings.password is not None
        await self._token_request({"grant_type": "password", "username": self.settings.username or "",
                                   "password": self.settings.password.get_secret_value()}, {})

    async def _token_request(self, form: dict[str, str], headers: dict[str, str]) -> None:
        self.token_requests += 1
        try:
            with anyio.fail_after(self.settings.connect_timeout + self.settings.read_timeout):
                response = await self._http().post("/api/token", data=form, headers=headers)
        except (TimeoutError, httpx2.TimeoutException):
            raise NexudusError("upstream_unavailable", "Nexudus did not answer the token request in time.",
                               operation="token", transient=True) from None
        except httpx2.HTTPError:
            raise NexudusError("upstream_unavailable", "Could not reach Nexudus for a token.",
                               operation="token", transient=True) from None
        body = _json_or_none(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            expires_in = _float(body.get("expires_in"), 3600.0)
            margin = min(60.0, expires_in * 0.1)
            self._access = str(body["access_token"])
            self._refresh = str(body["refresh_token"]) if body.get("refresh_token") else None
            self._expires_at = time.monotonic() + max(expires_in - margin, 0.0)
            log.info("nexudus token: obtained by %s grant, valid for %.0fs", form["grant_type"], expires_in)
            return
        if response.status_code in (400, 401) and isinstance(body, dict) and "error" in body:
            description = self._scrub(str(body.get("error_description") or ""))[:MAX_MESSAGE]
            raise NexudusError("unauthorized", f"Nexudus refused to sign in ({body['error']}): "
                               f"{description or 'no reason given'}", status=response.status_code,
                               operation="token")
        if response.status_code in (409, 429):
            raise NexudusError("rate_limited", "Nexudus is throttling token requests.",
                               status=response.status_code, operation="token",
                               retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 500:
            raise NexudusError("upstream_unavailable", f"Nexudus failed the token request with HTTP "
                               f"{response.status_code}.", status=response.status_code, operation="token",
                               transient=response.status_code in TRANSIENT_STATUSES)
        raise NexudusError("upstream_error", f"Nexudus answered the token request with HTTP "
                           f"{response.status_code} and no token.", status=response.status_code,
                           operation="token", excerpt=sanitise_excerpt(response.text, self.settings.secrets()))


# --------------------------------------------------------------------- helpers
def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def sanitise_excerpt(text: str, secrets: list[str]) -> str | None:
    """A short, plain-text, secret-free excerpt of an unexpected answer (HTML pages included)."""
    plain = " ".join(html.unescape(_TAG.sub(" ", text or "")).split())
    if not plain:
        return None
    plain = scrub(plain, secrets)
    return plain if len(plain) <= MAX_EXCERPT else plain[: MAX_EXCERPT - 1] + "…"


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "«redacted»")
    return re.sub(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", r"\1 «redacted»", text)


def _errors_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors = body.get("Errors")
    if not isinstance(errors, list):
        return []
    out = []
    for item in errors:
        if isinstance(item, dict):
            out.append({
                "PropertyName": str(item.get("PropertyName") or "")[:200],
                "Message": str(item.get("Message") or "")[:MAX_MESSAGE],
                "AttemptedValue": item.get("AttemptedValue"),
            })
        elif item is not None:
            out.append({"PropertyName": "", "Message": str(item)[:MAX_MESSAGE], "AttemptedValue": None})
    return out


def _json_or_none(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def _loggable_path(path: str) -> str:
    return path.split("?", 1)[0]


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
