"""What stands in front of the sign-in mode's routes (an ASGI middleware inside the SDK's app):

- The caller's address, resolved once (`client_address`): the socket peer, or, when the peer is a
  proxy the operator named in NEXUDUS_MCP_TRUSTED_PROXIES, the nearest untrusted address of
  X-Forwarded-For. With no trusted proxy named, a request that carries forwarded headers counts as
  one address ("forwarded"): uvicorn, by default, rewrites the peer from X-Forwarded-For when the
  socket is loopback, so the header would otherwise pick any address the sender likes.
- Bounded bodies on the OAuth and sign-in routes (`MAX_SIGNIN_BODY`), before anything parses them.
- Registration rate-limited per address (`REGISTER_RATE`).
- Client secrets: the one presented with /token or /revoke is read here (form or Basic) for the
  provider, which stores only its keyed digest. A public client's revocation (RFC 7009 §2.1, no
  client_secret) is completed with an empty one, which the SDK's handler insists on.
- The state store unreachable (Redis down): 503 with a plain message and one log line, not a 500
  with a traceback.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import parse_trusted_proxies as parse_trusted_proxies
from ..state import BudgetExhausted, Rate, StateStore, StateUnavailable
from .provider import NexudusOAuthProvider

log = logging.getLogger("nexudus_identity_mcp.signin")
ADDRESS_SCOPE_KEY = "nexudus_identity_mcp.client_address"
MAX_SIGNIN_BODY = 65_536
REGISTER_RATE = Rate(120, 3600)  # per address: a burst of 20 registrations, then 100 an hour
BOUNDED_PATHS = frozenset({"/register", "/token", "/revoke", "/signin", "/authorize"})
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    peer = str((scope.get("client") or ("unknown", 0))[0])
    headers = scope.get("headers") or []
    hops: list[str] = [
        hop.strip()
        for name, value in headers
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
        if hop.strip()
    ]
    forwarded = bool(hops) or any(name in (b"forwarded", b"x-real-ip") for name, _ in headers)
    if not trusted:
        return "forwarded" if forwarded else peer
    if not _is_trusted(peer, trusted):
        return peer  # a direct caller, or uvicorn already resolved the trusted proxy's header
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def presented_secret(body: bytes, headers: dict[bytes, bytes]) -> tuple[dict[str, str], str | None]:
    form = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    secret = form.get("client_secret") or None
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization.startswith("Basic "):
        try:
            _, _, basic = base64.b64decode(authorization[6:]).decode("utf-8").partition(":")
            secret = unquote(basic) or secret
        except (binascii.Error, UnicodeDecodeError):
            pass
    return form, secret


class SignInGuard:
    def __init__(self, app: ASGIApp, provider: NexudusOAuthProvider, trusted_proxies: Sequence[Network] = ()) -> None:
        self.app = app
        self.provider = provider
        self.store: StateStore = provider.store
        self.trusted = list(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.trusted)
        scope[ADDRESS_SCOPE_KEY] = address
        path, method = scope.get("path", ""), scope.get("method", "GET")
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            if path in BOUNDED_PATHS and method == "POST":
                body = await _read_body(receive, MAX_SIGNIN_BODY)
                if body is None:
                    await _json(
                        send, 413, "invalid_request", f"The request body is larger than {MAX_SIGNIN_BODY} bytes."
                    )
                    return
                if path == "/register":
                    try:
                        await self.store.take(f"register:{address}", REGISTER_RATE)
                    except BudgetExhausted as exhausted:
                        log.warning("signin: registrations from %s slowed down", address)
                        await _json(
                            send,
                            429,
                            "slow_down",
                            "Too many client registrations from this address; try again later.",
                            [(b"retry-after", str(max(1, round(exhausted.retry_after + 0.5))).encode())],
                        )
                        return
                if path in ("/token", "/revoke"):
                    body = await self._checked_secret(scope, body)
                await self.app(scope, _replay(body, receive), watched_send)
                return
            if path == "/authorize":
                await self.store.get("health")  # the SDK's handler would log a traceback for a store that is down
            await self.app(scope, receive, watched_send)
        except StateUnavailable as exc:
            log.error("signin: %s %s answered 503: the state store is unreachable (%s)", method, path, exc)
            if not started:
                await _json(
                    send,
                    503,
                    "temporarily_unavailable",
                    "The sign-in state store cannot be reached just now; nothing was changed. Try again in a minute.",
                    [(b"retry-after", b"30")],
                )

    async def _checked_secret(self, scope: Scope, body: bytes) -> bytes:
        """The body (and Authorization header) with a presented client secret checked against the
        stored digest and swapped for the provider's stand-in when it matches, for garbage when not;
        a public client's revocation gets the empty client_secret the SDK's handler insists on."""
        headers = dict(scope.get("headers") or [])
        form, secret = presented_secret(body, headers)
        client_id = form.get("client_id", "")
        if secret is not None:
            ok = await self.provider.client_secret_matches(client_id, secret)
            swapped = self.provider.verified_secret(client_id) if ok else secrets.token_urlsafe(32)
            if "client_secret" in form:
                form["client_secret"] = swapped
            if headers.get(b"authorization", b"").startswith(b"Basic "):
                basic = base64.b64encode(f"{quote(client_id)}:{quote(swapped)}".encode())
                scope["headers"] = [
                    (k, b"Basic " + basic if k == b"authorization" else v) for k, v in scope.get("headers") or []
                ]
        if scope.get("path") == "/revoke" and "client_secret" not in form:  # RFC 7009: a public client sends none
            form["client_secret"] = ""
        return urlencode(form).encode()


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read already, then whatever the connection says next (its disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _json(
    send: Send, status: int, error: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": error, "error_description": message}).encode()
    all_headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})
