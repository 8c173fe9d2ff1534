"""Authentication for the API client, as an `httpx2.Auth` flow (the shape of encode/httpx's
`_auth.py`): the flow sets the Authorization header of each request, owns the token requests, and
after a 401 signs in again once and sends the request once more, never in a loop.

Modes: bearer (a configured token), HTTP Basic, or password: username + password (+ the current
2FA code from NEXUDUS_TOTP_SECRET) exchanged at /api/token (form-encoded) with this installation's
`client_id` header, the token cached until shortly before `expires_in` and refreshed with the
refresh token; a lock makes one token request serve any number of concurrent first calls.
Every token the process obtains is remembered (a few) so that text shown anywhere is scrubbed of
it; the token endpoint's own `error`/`error_description` are scrubbed and capped before use.
"""

from __future__ import annotations

import base64
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Literal

import anyio
import httpx2

from ..settings import Settings
from .envelopes import TRANSIENT_STATUSES, TRANSPORT_ERRORS, Answer, as_float, json_or_none, transport_error
from .errors import ErrorKind, NexudusError
from .sanitise import cap, sanitise_excerpt
from .throttle import THROTTLE_STATUSES, throttle_error

log = logging.getLogger("nexudus_identity_mcp.nexudus")

# This process's client_id when NEXUDUS_CLIENT_ID is unset: Nexudus keeps one refresh token per user
# and client_id, so two workers (or the admin's other tools) signing in as the same user with the same
# client_id would revoke each other's refresh tokens.
PROCESS_CLIENT_ID = f"nexudus-identity-mcp-{uuid.uuid4().hex[:12]}"
MAX_TOKEN_ERROR = 300  # characters of the token endpoint's error text that are shown
DEFAULT_TOKEN_SECONDS = 3600.0  # a token's lifetime when its answer gives none (or none above 0)
_REMEMBERED_TOKENS = 16


def current_totp(secret: str) -> str:
    """The current 6-digit code of a base32 authenticator secret (RFC 6238, pyotp). 80-bit secrets,
    the common authenticator length, are accepted: the account's secret is Nexudus's choice, not ours."""
    import pyotp  # light, and only needed for 2FA accounts

    class TOTP(pyotp.TOTP):
        min_secret_length_bits = 80

    return TOTP(secret).now()


class CallerBearer(httpx2.Auth):
    """The signed-in staff member's own Nexudus token (HTTP sign-in mode), given per request by the
    caller in place of the configured credentials: sent as it is, never refreshed here."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class Auth(httpx2.Auth):
    """The Authorization header of each request, the token cache and the one re-authentication."""

    def __init__(
        self,
        settings: Settings,
        http: Callable[[], httpx2.AsyncClient],
        scrub_fn: Callable[[str], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mode = settings.auth_mode
        self._clock = clock  # when a token is due: seconds, monotonic (tests move it forward)
        self.settings = settings
        self.client_id = settings.client_id or PROCESS_CLIENT_ID
        self._http = http
        self._scrub = scrub_fn
        self._lock = anyio.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self._issued: deque[str] = deque(maxlen=_REMEMBERED_TOKENS)
        self.token_requests = 0
        self.last_refusal: Refusal | None = (
            None  # the token endpoint's latest refusal (scrubbed, capped): probe shows it
        )
        self._basic = ""
        if self.mode == "basic":
            raw = f"{settings.username}:{settings.password.get_secret_value()}".encode()  # type: ignore[union-attr]
            self._basic = "Basic " + base64.b64encode(raw).decode()

    # ------------------------------------------------------------------ the flow
    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        if self.mode == "bearer":
            request.headers["Authorization"] = f"Bearer {self.settings.token.get_secret_value()}"  # type: ignore[union-attr]
            yield request
            return
        if self.mode == "basic":
            request.headers["Authorization"] = self._basic
            yield request
            return
        token = await self._current_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        # Once: the token may have been revoked or expired early. A second 401 goes back to the caller.
        log.info("nexudus: HTTP 401, signing in again once")
        token = await self._current_token(stale=token)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("the Nexudus client is async only")

    # ------------------------------------------------------------------ tokens
    def invalidate(self) -> None:
        self._access = None
        self._expires_at = 0.0

    def runtime_secrets(self) -> list[str]:
        """The tokens this process obtained (the latest few): scrubbed from any text shown."""
        return list(self._issued)

    async def _current_token(self, stale: str | None = None) -> str:
        """A valid access token; `stale` is one the API just refused, so it is replaced (once for any
        number of concurrent callers that saw it refused)."""
        if self._usable(stale):
            assert self._access is not None
            return self._access
        async with self._lock:  # one token request for any number of concurrent calls
            if not self._usable(stale):
                try:
                    await self._obtain()
                except NexudusError as error:
                    error.unsent = True  # the request itself was not sent (or was refused with a 401)
                    raise
            assert self._access is not None
            return self._access

    def _usable(self, stale: str | None) -> bool:
        return self._access is not None and self._access != stale and self._clock() < self._expires_at

    async def _obtain(self) -> None:
        self.invalidate()
        if self._refresh:
            form = {"grant_type": "refresh_token", "refresh_token": self._refresh}
            self._refresh = None  # a used refresh token stops working either way
            try:
                await self._token_request(form)
                return
            except NexudusError as error:
                if error.kind != ErrorKind.UNAUTHORIZED:
                    raise
                log.info("nexudus token: refresh refused, signing in with the password again")
        assert self.settings.password is not None
        form = {
            "grant_type": "password",
            "username": self.settings.username or "",
            "password": self.settings.password.get_secret_value(),
        }
        if self.settings.totp_secret is not None:
            form["totp"] = current_totp(self.settings.totp_secret.get_secret_value())
        await self._token_request(form)

    async def _token_request(self, form: dict[str, str]) -> None:
        self.token_requests += 1
        answer = await exchange_token(
            self._http(),
            form,
            self.client_id,
            self.settings,
            scrub=self._scrub,
        )
        if answer.tokens is not None:
            expires_in = min(answer.tokens.expires_in, 400 * 86400.0)
            margin = min(60.0, expires_in * 0.1)
            self._access, self._refresh = answer.tokens.access, answer.tokens.refresh
            self._issued.extend(t for t in (self._access, self._refresh) if t)
            self._expires_at = self._clock() + max(expires_in - margin, 0.0)
            log.info("nexudus token: obtained by %s grant, valid for %.0fs", form["grant_type"], expires_in)
            return
        if answer.refusal is not None:
            self.last_refusal = answer.refusal
            raise self._refused(form, answer.status, answer.refusal)
        raise answer.error(self._scrub, [*self.settings.secrets(), *self._issued])

    def _refused(self, form: dict[str, str], status: int, refusal: Refusal) -> NexudusError:
        """The token endpoint said no: its own words (scrubbed, capped) and the most likely cause."""
        if refusal.kind == "api_access":
            likely = (
                "API access is not enabled for this Nexudus user: an administrator enables it on the user in "
                "Nexudus (Settings > Users)."
            )
        elif refusal.kind == "two_factor":
            likely = (
                "the two-factor code was refused: check that NEXUDUS_TOTP_SECRET is this user's authenticator "
                "secret and that this machine's clock is right."
                if "totp" in form
                else "this user signs in with two-factor authentication: set NEXUDUS_TOTP_SECRET to the base32 "
                "secret of its authenticator."
            )
        elif form["grant_type"] == "refresh_token":
            likely = "the refresh token was refused (expired, or revoked by a sign-in with the same client id)."
        else:
            likely = (
                "wrong credentials: check NEXUDUS_USERNAME and NEXUDUS_PASSWORD (or, for a two-factor account, "
                "NEXUDUS_TOTP_SECRET)."
            )
        said_why = refusal.description.rstrip(". ") or "no reason given"  # its own full stop, not a second one
        return NexudusError(
            ErrorKind.UNAUTHORIZED,
            f"Nexudus refused to sign in ({refusal.error}): {said_why}. Most likely {likely}",
            status=status,
            operation="token",
        )


# ---------------------------------------------------------------------- the one token exchange
RefusalKind = Literal["two_factor", "api_access", "credentials", "unrecognised"]
# What marks a refusal as a two-factor one, after normalising case and separators (so that
# `two_factor_auth_check`, `Two-Factor`, `TwoFactor` and `TOTP` all match): squashed forms ...
_TWO_FACTOR_SQUASHED = (
    "totp",
    "twofactor",
    "2fa",
    "mfa",
    "multifactor",
    "secondfactor",
    "twostep",
    "2step",
    "authenticator",
    "onetimepass",
    "onetimecode",
    "verificationcode",
)
_TWO_FACTOR_WORDS = frozenset({"otp", "code", "2sv"})  # ... and whole words
_API_ACCESS_SQUASHED = ("apiaccess", "apiisnotenabled", "apinotenabled")
_CREDENTIAL_WORDS = frozenset({"password", "passwords", "credential", "credentials", "username"})


def _normalised(text: str) -> tuple[str, set[str]]:
    """(the text lower-cased with every separator removed, its set of words): camelCase, snake_case,
    kebab-case and spaces all split the same way."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    words = re.sub(r"[^a-z0-9]+", " ", spaced.lower()).split()
    return "".join(words), set(words)


def classify_refusal(error: str, description: str) -> RefusalKind:
    """What a token endpoint's refusal most likely means, whatever its wording's case and separators."""
    squashed, words = _normalised(f"{error} {description}")
    if any(mark in squashed for mark in _API_ACCESS_SQUASHED):
        return "api_access"
    if any(mark in squashed for mark in _TWO_FACTOR_SQUASHED) or words & _TWO_FACTOR_WORDS:
        return "two_factor"
    described_squashed, described = _normalised(description)
    if described & _CREDENTIAL_WORDS or "username" in described_squashed:
        return "credentials"
    return "unrecognised"


@dataclass(frozen=True)
class Refusal:
    """The token endpoint's no: its error code and description (scrubbed, capped) and what it means."""

    kind: RefusalKind
    error: str
    description: str


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str | None
    expires_in: float  # seconds, above 0: DEFAULT_TOKEN_SECONDS when the answer gives none or none above 0


@dataclass(frozen=True)
class TokenAnswer:
    """One answer of `/api/token`: tokens, or a refusal, or neither (throttled, failed, unexpected)."""

    status: int
    answer: Answer
    tokens: Tokens | None = None
    refusal: Refusal | None = None

    def error(self, scrub_fn: Callable[[str], str], secrets: list[str]) -> NexudusError:
        """The NexudusError for an answer that is neither tokens nor a refusal."""
        status = self.status
        if status in THROTTLE_STATUSES:
            return throttle_error("token", self.answer, scrub_fn)
        if status >= 500:
            return NexudusError(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                f"Nexudus failed the token request with HTTP {status}.",
                status=status,
                operation="token",
                transient=status in TRANSIENT_STATUSES,
            )
        return NexudusError(
            ErrorKind.UPSTREAM_ERROR,
            f"Nexudus answered the token request with HTTP {status} and no token.",
            status=status,
            operation="token",
            excerpt=sanitise_excerpt(self.answer.text, secrets),
        )


async def exchange_token(
    http: httpx2.AsyncClient,
    form: dict[str, str],
    client_id: str,
    settings: Settings,
    *,
    scrub: Callable[[str], str],
) -> TokenAnswer:
    """POST `form` to /api/token (form-encoded, with the `client_id` header Nexudus keys refresh
    tokens by) over `http` (a `bounded_client`: its transport reads the answer within its size
    bound, counted while it is decompressed), and say what it is. The one place a token is asked
    for: the API client's password flow and the sign-in pages both call it. Raises NexudusError
    when no answer could be read."""
    try:
        with anyio.fail_after(settings.connect_timeout + settings.read_timeout):
            response = await http.post("/api/token", data=form, headers={"client_id": client_id})
            answer = Answer(response.status_code, response.headers, response.content)
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, settings, operation="token", resend=True) from None
    body = json_or_none(answer)
    status = answer.status_code
    if status == 200 and isinstance(body, dict) and body.get("access_token"):
        refresh = body.get("refresh_token")
        lifetime = as_float(body.get("expires_in"), DEFAULT_TOKEN_SECONDS)
        return TokenAnswer(
            status,
            answer,
            tokens=Tokens(
                str(body["access_token"]),
                str(refresh) if refresh else None,
                lifetime if lifetime > 0 else DEFAULT_TOKEN_SECONDS,
            ),
        )
    if status in (400, 401) and isinstance(body, dict) and "error" in body:
        error = cap(scrub(str(body.get("error") or "")), 60) or "refused"
        description = cap(scrub(str(body.get("error_description") or body.get("Message") or "")), MAX_TOKEN_ERROR)
        return TokenAnswer(status, answer, refusal=Refusal(classify_refusal(error, description), error, description))
    return TokenAnswer(status, answer)
