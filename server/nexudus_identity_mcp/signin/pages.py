"""The sign-in page: server-rendered HTML that works without JavaScript. It names the client asking
for access and what it will be able to do, asks for the staff member's Nexudus email and password,
and for the 6-digit code only when Nexudus says the account needs one.

- CSRF: the form carries a token bound to the pending authorization request (server side), and a
  POST whose Origin is not this server is refused.
- Attempts are reserved before Nexudus is asked, with the store's atomic increment: at most 5 per
  account in 15 minutes reach Nexudus however many arrive at once (a success clears the count; an
  answer that says nothing about the password, such as Nexudus unreachable, gives it back). Per
  address (as `guard.client_address` resolves it) a token bucket slows a spray down (a burst of 10,
  then one every 18 s) instead of locking out everyone behind one NAT.
- The page names where the browser goes after sign-in (the redirect URI's host) and says that the
  client's name is its own claim, not verified.
- The password goes to Nexudus once and is never stored or logged; between the password and the
  2FA step it travels back to the browser only sealed (encrypted, 5-minute lifetime).
- Framing is refused (X-Frame-Options, CSP frame-ancestors), and nothing is cached.
"""

from __future__ import annotations

import html
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..state import BudgetExhausted, Rate
from ..telemetry.metrics import METRICS
from .guard import ADDRESS_SCOPE_KEY
from .nexudus_login import MESSAGES, SignInFailed
from .provider import NexudusOAuthProvider

log = logging.getLogger("nexudus_identity_mcp.signin")
ACCOUNT_LIMIT, WINDOW_SECONDS = 5, 900
ADDRESS_RATE = Rate(60, 900)  # a burst of 10 attempts per address, then one every 18 s
SEALED_PASSWORD_SECONDS = 300
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    # No form-action: browsers apply it to the redirect after the POST, which goes to the client's
    # callback (another origin) by design.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the form POST.
    "Referrer-Policy": "same-origin",
}

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
    "label{display:block;margin-top:1rem;font-weight:600}input{width:100%;padding:.5rem;font-size:1rem;"
    "box-sizing:border-box}button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}"
    ".error{border-left:4px solid #b00020;padding:.5rem 1rem;background:#fdecee}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title><style>{STYLE}</style>'
        f"</head><body><main>{body}</main></body></html>",
        status_code=status,
        headers=HEADERS,
    )


def _form(
    pending: dict[str, Any],
    request_id: str,
    *,
    error: str | None = None,
    email: str = "",
    sealed_password: str | None = None,
    offer_code: bool = False,
) -> str:
    client = html.escape(str(pending.get("client_name") or pending["client_id"])[:100])
    destination = html.escape(destination_host(pending))
    parts = [
        "<h1>Sign in with Nexudus</h1>",
        f"<p>An application calling itself <strong>{client}</strong> is asking to work with Nexudus coworker "
        "identity checks <em>as you</em>: find and read them, update them, and run verification commands, "
        "with your own Nexudus roles. Changes are recorded in Nexudus under your name.</p>",
        f'<p id="destination">After you sign in, your browser is sent to <strong>{destination}</strong>. '
        "The name above is the application's own claim and has not been verified: continue only if you "
        "started this from your assistant and you expect to be sent to that address.</p>",
    ]
    if error:
        parts.append(f'<p class="error" role="alert" id="error">{html.escape(error)}</p>')
    described = ' aria-describedby="error"' if error else ""
    parts += [
        '<form method="post" action="signin">',
        f'<input type="hidden" name="request" value="{html.escape(request_id)}">',
        f'<input type="hidden" name="csrf" value="{html.escape(str(pending["csrf"]))}">',
    ]
    if sealed_password is None:
        parts += [
            '<label for="email">Nexudus email</label>',
            f'<input id="email" name="email" type="email" autocomplete="username" required value="{html.escape(email)}"'
            f"{described}>",
            '<label for="password">Password</label>',
            '<input id="password" name="password" type="password" autocomplete="current-password" required'
            f"{described}>",
        ]
        if offer_code:  # Nexudus refused for a reason this server does not know: it may be two-step sign-in
            parts += [
                '<label for="code">6-digit code, if your account uses two-step sign-in</label>',
                '<input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" '
                'autocomplete="one-time-code">',
            ]
    else:
        parts += [
            f"<p>Signing in as <strong>{html.escape(email)}</strong>.</p>",
            f'<input type="hidden" name="email" value="{html.escape(email)}">',
            f'<input type="hidden" name="sealed" value="{html.escape(sealed_password)}">',
            '<label for="code">6-digit code from your authenticator app</label>',
            '<input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" '
            f'autocomplete="one-time-code" required autofocus{described}>',
        ]
    parts += [
        '<button type="submit">Sign in and allow</button>',
        "</form>",
        "<p><small>Your password is sent to Nexudus only; this server never stores it.</small></p>",
    ]
    return "".join(parts)


def destination_host(pending: dict[str, Any]) -> str:
    """The host (and port) the browser is sent to with the code: the redirect URI's."""
    uri = str((pending.get("params") or {}).get("redirect_uri") or "")
    try:
        parts = urlsplit(uri)
        return (
            f"{parts.hostname}{':' + str(parts.port) if parts.port else ''}" if parts.hostname else "an unknown address"
        )
    except ValueError:
        return "an unknown address"


def _too_many(message: str, retry_after: float | None = None) -> HTMLResponse:
    response = _page("Too many attempts", f"<h1>Too many attempts</h1><p>{html.escape(message)}</p>", 429)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(retry_after + 0.5)))
    return response


class SignInPages:
    def __init__(self, provider: NexudusOAuthProvider, public_origin: str) -> None:
        self.provider = provider
        self.public_origin = public_origin.rstrip("/")

    def routes(self) -> list[Route]:
        return [Route("/signin", self.show, methods=["GET"]), Route("/signin", self.submit, methods=["POST"])]

    async def show(self, request: Request) -> Response:
        request_id = request.query_params.get("request", "")
        pending = await self.provider.pending(request_id)
        if pending is None:
            return _page(
                "Sign-in expired",
                "<h1>This sign-in link has expired</h1><p>Start again from your "
                "assistant: it will open a new sign-in page.</p>",
                400,
            )
        return _page("Sign in with Nexudus", _form(pending, request_id))

    async def submit(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin and origin.rstrip("/") != self.public_origin:
            METRICS.signin_refused("forged_form")
            return _page("Refused", "<h1>Refused</h1><p>This form can only be sent from its own page.</p>", 403)
        form = await request.form()
        request_id = str(form.get("request") or "")
        pending = await self.provider.pending(request_id)
        if pending is None:
            METRICS.signin_refused("expired")
            return _page(
                "Sign-in expired", "<h1>This sign-in link has expired</h1><p>Start again from your assistant.</p>", 400
            )
        if not secrets.compare_digest(str(form.get("csrf") or ""), str(pending["csrf"])):
            METRICS.signin_refused("forged_form")
            return _page("Refused", "<h1>Refused</h1><p>The form was not sent from this sign-in page.</p>", 403)
        email = str(form.get("email") or "").strip()[:254]
        address = str(request.scope.get(ADDRESS_SCOPE_KEY) or "unknown")
        sealed = str(form.get("sealed") or "")
        if sealed:
            opened = self.provider.vault.open(sealed.encode(), ttl=SEALED_PASSWORD_SECONDS)
            if opened is None:
                return _page(
                    "Sign in with Nexudus",
                    _form(pending, request_id, email=email, error="That took too long; enter your password again."),
                    400,
                )
            password = str(opened.get("password") or "")
        else:
            password = str(form.get("password") or "")
        code = "".join(ch for ch in str(form.get("code") or "") if ch.isdigit())[:6] or None
        if not email or not password:
            return _page(
                "Sign in with Nexudus",
                _form(pending, request_id, email=email, error="Enter your Nexudus email and password."),
                400,
            )
        store = self.provider.store
        try:  # per address: slow a spray down, never lock a whole network out
            await store.take(f"signin-address:{address}", ADDRESS_RATE)
        except BudgetExhausted as exhausted:
            METRICS.signin_refused("address_slowed")
            log.warning("signin: attempts from %s slowed down (next in %.0fs)", address, exhausted.retry_after)
            return _too_many(
                f"Too many sign-in attempts from your network. Wait {max(1, round(exhausted.retry_after))} "
                "seconds, then try again.",
                exhausted.retry_after,
            )
        account_key = f"signin-attempts:{self.provider.vault.digest(email.lower())}"
        attempt = await store.incr(account_key, 1, WINDOW_SECONDS)  # reserved before Nexudus is asked
        if attempt > ACCOUNT_LIMIT:
            METRICS.signin_refused("account_locked")
            if attempt == ACCOUNT_LIMIT + 1:
                log.warning("signin: %s locked for 15 minutes after %d failed attempts", _shown(email), ACCOUNT_LIMIT)
            return _too_many("Too many failed attempts for this account. Wait 15 minutes, then start again.")
        grant_id = self.provider.new_grant_id()
        try:
            tokens = await self.provider.login.password(
                email, password, code, self.provider.nexudus_client_id(grant_id)
            )
        except SignInFailed as failed:
            METRICS.signin_refused(failed.reason)
            if failed.reason in ("wrong_credentials", "wrong_code", "unrecognised"):
                log.warning(
                    "signin: failed attempt %d of %d for %s from %s: %s (%s)",
                    attempt,
                    ACCOUNT_LIMIT,
                    _shown(email),
                    address,
                    failed.reason,
                    failed.said,
                )
            else:  # the answer said nothing against this password: the attempt is given back
                await store.incr(account_key, -1, WINDOW_SECONDS)
            if failed.reason in ("needs_code", "wrong_code"):
                reseal = self.provider.vault.seal({"password": password}).decode()
                return _page(
                    "Sign in with Nexudus",
                    _form(
                        pending,
                        request_id,
                        email=email,
                        sealed_password=reseal,
                        error=None if failed.reason == "needs_code" else failed.message,
                    ),
                    401 if code else 200,
                )
            status = {"unavailable": 503, "throttled": 429}.get(failed.reason, 401)
            return _page(
                "Sign in with Nexudus",
                _form(
                    pending,
                    request_id,
                    email=email,
                    error=MESSAGES[failed.reason],
                    offer_code=failed.reason == "unrecognised",
                ),
                status,
            )
        # A success gives its own reservation back and clears nothing: the failures stay counted for
        # their window, so attempts in flight beside a success (a spray while the owner signs in)
        # still meet the limit. Deleting the count here let a burst past it (up to 5 more).
        await store.incr(account_key, -1, WINDOW_SECONDS)
        try:
            target = await self.provider.complete_sign_in(request_id, grant_id, email, tokens)
        except SignInFailed as failed:  # this sign-in request was used by another submit meanwhile
            METRICS.signin_refused("expired")
            return _page("Sign-in expired", f"<h1>Sign-in expired</h1><p>{html.escape(failed.message)}</p>", 400)
        METRICS.signin()
        return RedirectResponse(target, status_code=303, headers=HEADERS)


def _shown(email: str) -> str:
    """An email as it may appear in a log line: printable, capped (never the password)."""
    return "".join(ch for ch in email if ch.isprintable())[:80] or "(no email)"
