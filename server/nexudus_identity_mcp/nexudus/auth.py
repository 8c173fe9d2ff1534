"""Authentication for the API client: the Authorization header for each request.

Bearer (a configured token), HTTP Basic, or password: username + password exchanged at /api/token
(form-encoded), the token cached until shortly before `expires_in` and refreshed with the refresh
token; one token request serves any number of concurrent callers. The client invalidates the token
and calls once more after a 401 (`can_reauthenticate`), never in a loop.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar

import anyio
import httpx2

from ..settings import Settings
from .envelopes import MAX_MESSAGE, TRANSIENT_STATUSES, as_float, json_or_none, parse_retry_after
from .errors import ErrorKind, NexudusError
from .sanitise import sanitise_excerpt

log = logging.getLogger("nexudus_identity_mcp.nexudus")


# The signed-in staff member's own Nexudus access token for the current tool call (HTTP sign-in mode,
# set by app.py around each call); when set it replaces the server's configured credentials.
CALLER_BEARER: ContextVar[str | None] = ContextVar("nexudus_caller_bearer", default=None)


class Auth:
    """Produces the Authorization header for each request; owns the token cache."""

    def __init__(
        self, settings: Settings, http: Callable[[], httpx2.AsyncClient], scrub_fn: Callable[[str], str]
    ) -> None:
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
        return self.mode == "password" and CALLER_BEARER.get() is None

    def invalidate(self) -> None:
        self._access = None
        self._expires_at = 0.0

    async def headers(self) -> dict[str, str]:
        caller = CALLER_BEARER.get()
        if caller is not None:
            return {"Authorization": f"Bearer {caller}"}
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
                if error.kind != ErrorKind.UNAUTHORIZED:
                    raise
                log.info("nexudus token: refresh refused, signing in with the password again")
        assert self.settings.password is not None
        await self._token_request(
            {
                "grant_type": "password",
                "username": self.settings.username or "",
                "password": self.settings.password.get_secret_value(),
            },
            {},
        )

    async def _token_request(self, form: dict[str, str], headers: dict[str, str]) -> None:
        self.token_requests += 1
        try:
            with anyio.fail_after(self.settings.connect_timeout + self.settings.read_timeout):
                response = await self._http().post("/api/token", data=form, headers=headers)
        except (TimeoutError, httpx2.TimeoutException):
            raise NexudusError(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                "Nexudus did not answer the token request in time.",
                operation="token",
                transient=True,
            ) from None
        except httpx2.HTTPError:
            raise NexudusError(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                "Could not reach Nexudus for a token.",
                operation="token",
                transient=True,
            ) from None
        body = json_or_none(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            expires_in = as_float(body.get("expires_in"), 3600.0)
            margin = min(60.0, expires_in * 0.1)
            self._access = str(body["access_token"])
            self._refresh = str(body["refresh_token"]) if body.get("refresh_token") else None
            self._expires_at = time.monotonic() + max(expires_in - margin, 0.0)
            log.info("nexudus token: obtained by %s grant, valid for %.0fs", form["grant_type"], expires_in)
            return
        if response.status_code in (400, 401) and isinstance(body, dict) and "error" in body:
            description = self._scrub(str(body.get("error_description") or ""))[:MAX_MESSAGE]
            raise NexudusError(
                ErrorKind.UNAUTHORIZED,
                f"Nexudus refused to sign in ({body['error']}): {description or 'no reason given'}",
                status=response.status_code,
                operation="token",
            )
        if response.status_code in (409, 429):
            raise NexudusError(
                ErrorKind.RATE_LIMITED,
                "Nexudus is throttling token requests.",
                status=response.status_code,
                operation="token",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 500:
            raise NexudusError(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                f"Nexudus failed the token request with HTTP {response.status_code}.",
                status=response.status_code,
                operation="token",
                transient=response.status_code in TRANSIENT_STATUSES,
            )
        raise NexudusError(
            ErrorKind.UPSTREAM_ERROR,
            f"Nexudus answered the token request with HTTP {response.status_code} and no token.",
            status=response.status_code,
            operation="token",
            excerpt=sanitise_excerpt(response.text, self.settings.secrets()),
        )
