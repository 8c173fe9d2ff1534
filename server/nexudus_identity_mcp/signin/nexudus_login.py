"""Signing a staff member in at Nexudus: their email, password and (when their account has 2FA) the
current 6-digit code, exchanged at `/api/token` for their own access and refresh tokens. The
password is used for that one request and never stored or logged."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx2

from ..settings import Settings

log = logging.getLogger("nexudus_identity_mcp.signin")
MAX_TOKEN_ANSWER = 65_536
Failure = Literal["wrong_credentials", "needs_code", "wrong_code", "api_access", "unavailable", "throttled"]


@dataclass(frozen=True)
class NexudusTokens:
    access: str
    refresh: str | None
    expires_at: float  # wall clock


class SignInFailed(Exception):
    def __init__(self, reason: Failure, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


MESSAGES: dict[Failure, str] = {
    "wrong_credentials": "Nexudus did not accept that email and password.",
    "needs_code": "Your Nexudus account uses two-factor authentication: enter the 6-digit code from your "
    "authenticator app.",
    "wrong_code": "Nexudus did not accept that code. Enter the current 6-digit code from your authenticator app.",
    "api_access": "Nexudus accepted the sign-in but API access is not enabled for this user. Ask an "
    "administrator to enable it in Nexudus (Settings > Users).",
    "unavailable": "Nexudus could not be reached to check your sign-in. Nothing was saved; try again in a minute.",
    "throttled": "Nexudus is limiting sign-in attempts. Wait a minute and try again.",
}


class NexudusLogin:
    def __init__(self, settings: Settings, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            base_url=self.settings.base_url,
            transport=self.transport,
            timeout=httpx2.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout),
            follow_redirects=False,
        )

    async def _token(self, form: dict[str, str], client_id: str) -> tuple[int, Any]:
        # Nexudus keeps one refresh token per user and client_id: each sign-in (grant) has its own
        # client_id, so a staff member signed in from two assistants does not sign the other out.
        try:
            async with (
                self._http() as http,
                http.stream("POST", "/api/token", data=form, headers={"client_id": client_id}) as response,
            ):
                raw = b""
                async for chunk in response.aiter_bytes():  # a token answer is small: read at most 64 KiB
                    raw += chunk
                    if len(raw) > MAX_TOKEN_ANSWER:
                        raise SignInFailed("unavailable", MESSAGES["unavailable"])
                status = response.status_code
        except httpx2.HTTPError as exc:
            log.warning("sign-in: Nexudus unreachable (%s)", type(exc).__name__)
            raise SignInFailed("unavailable", MESSAGES["unavailable"]) from None
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        return status, body

    async def password(self, email: str, password: str, code: str | None, client_id: str) -> NexudusTokens:
        form = {"grant_type": "password", "username": email, "password": password}
        if code:
            form["totp"] = code
        status, body = await self._token(form, client_id)
        return self._interpret(status, body, bool(code))

    async def refresh(self, refresh_token: str, client_id: str) -> NexudusTokens:
        status, body = await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, client_id)
        return self._interpret(status, body, False)

    def _interpret(self, status: int, body: Any, sent_code: bool) -> NexudusTokens:
        if status == 200 and isinstance(body, dict) and body.get("access_token"):
            try:
                lifetime = float(body.get("expires_in") or 3600)
            except (TypeError, ValueError):
                lifetime = 3600.0
            refresh = body.get("refresh_token")
            return NexudusTokens(str(body["access_token"]), str(refresh) if refresh else None, time.time() + lifetime)
        if status in (409, 429):
            raise SignInFailed("throttled", MESSAGES["throttled"])
        if status >= 500:
            raise SignInFailed("unavailable", MESSAGES["unavailable"])
        text = (
            " ".join(str(body.get(k) or "") for k in ("error", "error_description", "Message")).lower()
            if isinstance(body, dict)
            else ""
        )
        if "api access" in text or "api is not enabled" in text:
            raise SignInFailed("api_access", MESSAGES["api_access"])
        if any(word in text for word in ("totp", "two-factor", "two factor", "2fa", "authenticator", "code")):
            reason: Failure = "wrong_code" if sent_code else "needs_code"
            raise SignInFailed(reason, MESSAGES[reason])
        raise SignInFailed("wrong_credentials", MESSAGES["wrong_credentials"])
