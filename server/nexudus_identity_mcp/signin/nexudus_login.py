"""Signing a staff member in at Nexudus: their email, password and (when their account has 2FA) the
current 6-digit code, exchanged at `/api/token` for their own access and refresh tokens. The
password is used for that one request and never stored or logged."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Literal

import httpx2

from ..nexudus.auth import exchange_token
from ..nexudus.envelopes import bounded_client
from ..nexudus.errors import ErrorKind, NexudusError
from ..settings import Settings, scrub_secrets

log = logging.getLogger("nexudus_identity_mcp.signin")
MAX_TOKEN_ANSWER = 65_536  # a token answer is small: read at most 64 KiB (counted while decompressed)
Failure = Literal[
    "wrong_credentials", "needs_code", "wrong_code", "unrecognised", "api_access", "unavailable", "throttled"
]


@dataclass(frozen=True)
class NexudusTokens:
    access: str
    refresh: str | None
    expires_at: float  # wall clock


class SignInFailed(Exception):
    def __init__(self, reason: Failure, message: str, said: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.said = said  # the token endpoint's error code (scrubbed, capped), for the log


MESSAGES: dict[Failure, str] = {
    "wrong_credentials": "Nexudus did not accept that email and password.",
    "needs_code": "Your Nexudus account uses two-factor authentication: enter the 6-digit code from your "
    "authenticator app.",
    "wrong_code": "Nexudus did not accept that code. Enter the current 6-digit code from your authenticator app.",
    "unrecognised": "Nexudus did not accept that sign-in. If your account uses two-step sign-in, enter the "
    "6-digit code from your authenticator app as well.",
    "api_access": "Nexudus accepted the sign-in but API access is not enabled for this user. Ask an "
    "administrator to enable it in Nexudus (Settings > Users).",
    "unavailable": "Nexudus could not be reached to check your sign-in. Nothing was saved; try again in a minute.",
    "throttled": "Nexudus is limiting sign-in attempts. Wait a minute and try again.",
}
# A token answer that is neither tokens nor a refusal, as the API client classifies it
# (`TokenAnswer.error`), and what the sign-in page says of it; any other kind is "unrecognised".
FAILURE_FOR_KIND: dict[ErrorKind, Failure] = {
    ErrorKind.RATE_LIMITED: "throttled",
    ErrorKind.UPSTREAM_UNAVAILABLE: "unavailable",
}


class NexudusLogin:
    """The sign-in pages' side of the one token exchange (`nexudus.auth.exchange_token`), over one
    connection pool kept for the process."""

    def __init__(self, settings: Settings, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport
        self._client: httpx2.AsyncClient | None = None

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = bounded_client(
                self.settings, self.transport, min(MAX_TOKEN_ANSWER, self.settings.max_response_bytes)
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _token(self, form: dict[str, str], client_id: str, sent_code: bool, secrets: list[str]) -> NexudusTokens:
        scrub = functools.partial(scrub_secrets, secrets=secrets)
        # Nexudus keeps one refresh token per user and client_id: each sign-in (grant) has its own
        # client_id, so a staff member signed in from two assistants does not sign the other out.
        try:
            answer = await exchange_token(self._http(), form, client_id, self.settings, scrub=scrub)
        except NexudusError as error:
            log.warning("sign-in: no answer from Nexudus's token endpoint (%s)", error.kind)
            raise SignInFailed("unavailable", MESSAGES["unavailable"]) from None
        if answer.tokens is not None:
            return NexudusTokens(answer.tokens.access, answer.tokens.refresh, time.time() + answer.tokens.expires_in)
        refusal = answer.refusal
        if refusal is None:  # throttled, failed or unexpected: read as the API client reads it
            failed = FAILURE_FOR_KIND.get(answer.error(scrub, secrets).kind)
            if failed is not None:
                raise SignInFailed(failed, MESSAGES[failed])
        said = f"HTTP {answer.status} {refusal.error if refusal else 'no error code'}"
        reason: Failure
        if refusal is None or refusal.kind == "unrecognised":
            reason = "unrecognised"
        elif refusal.kind == "api_access":
            reason = "api_access"
        elif refusal.kind == "two_factor":
            reason = "wrong_code" if sent_code else "needs_code"
        else:
            reason = "wrong_credentials"
        raise SignInFailed(reason, MESSAGES[reason], said)

    async def password(self, email: str, password: str, code: str | None, client_id: str) -> NexudusTokens:
        form = {"grant_type": "password", "username": email, "password": password}
        if code:
            form["totp"] = code
        return await self._token(form, client_id, bool(code), [password])

    async def refresh(self, refresh_token: str, client_id: str) -> NexudusTokens:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._token(form, client_id, False, [refresh_token])
