"""Streamable HTTP: the MCP server for shared and remote use, as an ASGI app.

    nexudus-identity-mcp serve --http [--host 127.0.0.1] [--port 8000]
    uvicorn nexudus_identity_mcp.http_app:app --workers 4      # configured from the environment

`/mcp` is stateless with JSON responses (any worker can answer any request); `/healthz` needs no
token. Around the SDK's app:
- Inbound bearer tokens, one per named client (`NEXUDUS_MCP_CLIENT_TOKENS="desk=…,ops=…"`): the
  name goes into every audit line. They are required whenever the server is reachable beyond
  loopback: `serve --http` refuses to start without them, and the app refuses any request that
  arrived on a non-loopback address while none are configured. A caller's own Nexudus token is
  never accepted or forwarded; the server uses its own configured Nexudus credentials.
- DNS-rebinding protection on every bind: Host and Origin must be in `NEXUDUS_MCP_ALLOWED_HOSTS` /
  `NEXUDUS_MCP_ALLOWED_ORIGINS` (loopback names by default). A non-loopback bind without an
  allowed-hosts list is refused, never silently unprotected.
- Request bodies are bounded (`NEXUDUS_MCP_MAX_BODY_BYTES`).
Anything that must agree between workers comes from the environment: set `NEXUDUS_MCP_SECRET` so
that redaction tokens mean the same on every worker.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
from urllib.parse import urlsplit

import httpx2
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .app import CLIENT_SCOPE_KEY, build_server
from .settings import Settings, is_loopback_host

log = logging.getLogger(__name__)
LOOPBACK_HOSTS = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
MIN_TOKEN_LENGTH = 16


class ConfigError(ValueError):
    """A configuration that would make the HTTP server unsafe; the message is one readable line."""


def parse_client_tokens(raw: str | None) -> dict[str, str]:
    """`name=token,name=token` -> {token: name}. Names say who wrote what in the audit log."""
    clients: dict[str, str] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        name, sep, token = part.strip().partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name) or len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                "NEXUDUS_MCP_CLIENT_TOKENS must be name=token pairs separated by commas, each token "
                f"at least {MIN_TOKEN_LENGTH} characters (got an entry named {name[:64]!r})"
            )
        if token in clients:
            raise ConfigError(f"NEXUDUS_MCP_CLIENT_TOKENS: clients {clients[token]!r} and {name!r} share a token")
        clients[token] = name
    return clients


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def security_for(settings: Settings, host: str | None) -> TransportSecuritySettings:
    hosts, origins = _split(settings.mcp_allowed_hosts), _split(settings.mcp_allowed_origins)
    if not hosts:
        if host is not None and not is_loopback_host(host):
            raise ConfigError(
                f"binding {host} needs NEXUDUS_MCP_ALLOWED_HOSTS (the Host names clients use, e.g. "
                "mcp.example.com); DNS-rebinding protection is never turned off"
            )
        hosts = LOOPBACK_HOSTS
    if not origins:
        origins = LOOPBACK_ORIGINS + [f"https://{h}" for h in hosts if "*" not in h and not is_loopback_host(h)]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class ClientAuthMiddleware:
    """Bearer tokens for /mcp; records which named client is calling (for the audit log)."""

    def __init__(self, app: ASGIApp, clients: dict[str, str], open_paths: tuple[str, ...] = ("/healthz",)) -> None:
        self.app = app
        self.clients = clients
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.open_paths:
            await self.app(scope, receive, send)
            return
        if not self.clients:
            server = scope.get("server") or ("", 0)
            if not is_loopback_host(server[0]):
                await _deny(
                    send,
                    403,
                    "This server has no client tokens configured, so it answers on loopback only. "
                    "Set NEXUDUS_MCP_CLIENT_TOKENS.",
                )
                return
            scope[CLIENT_SCOPE_KEY] = "loopback"
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        name = None
        if scheme.lower() == "bearer" and token:
            for known, client in self.clients.items():  # constant-time compare against each
                if hmac.compare_digest(known.encode(), token.strip().encode()):
                    name = client
        if name is None:
            await _deny(send, 401, "A valid bearer token is required (Authorization: Bearer <token>).")
            return
        scope[CLIENT_SCOPE_KEY] = name
        await self.app(scope, receive, send)


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": "unauthorized" if status == 401 else "forbidden", "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="nexudus-identity-mcp"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "pid": os.getpid()})


def create_app(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    host: str | None = None,
    read_only: bool | None = None,
    public_url: str | None = None,
) -> ASGIApp:
    """The ASGI app. `host` is the address it will be bound to, when known (it decides the defaults);
    `public_url` the origin clients reach it at (sign-in modes; default NEXUDUS_MCP_PUBLIC_URL)."""
    if settings.mcp_auth != "tokens":
        return _create_signin_app(settings, transport=transport, host=host, read_only=read_only, public_url=public_url)
    clients = parse_client_tokens(settings.mcp_client_tokens.get_secret_value() if settings.mcp_client_tokens else None)
    if host is not None and not is_loopback_host(host) and not clients:
        raise ConfigError(
            f"binding {host} needs NEXUDUS_MCP_CLIENT_TOKENS (name=token pairs): a server reachable "
            "beyond this machine never runs without inbound authentication"
        )
    security = security_for(settings, host)
    server = build_server(settings, transport=transport, read_only=read_only)
    starlette_app = server.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=True,
        stateless_http=True,
        transport_security=security,
        max_request_body_size=settings.mcp_max_body_bytes,
        host=host or "127.0.0.1",
        custom_starlette_routes=[Route("/healthz", healthz, methods=["GET"])],
    )
    return ClientAuthMiddleware(starlette_app, clients)


def _create_signin_app(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None,
    host: str | None,
    read_only: bool | None,
    public_url: str | None,
) -> ASGIApp:
    """`NEXUDUS_MCP_AUTH=oauth` or `oauth-external`: the SDK's bearer middleware and protected-resource
    metadata in front of /mcp, and (oauth) the embedded authorization server and sign-in page."""
    from .signin.mode import SignInConfigError, build_signin, state_settings

    origin = (settings.mcp_public_url or public_url or "").rstrip("/")
    if not origin:
        raise ConfigError(
            f"NEXUDUS_MCP_AUTH={settings.mcp_auth} needs NEXUDUS_MCP_PUBLIC_URL (the https:// origin "
            "clients reach this server at, e.g. https://mcp.example.com)"
        )
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or (parts.scheme == "http" and not is_loopback_host(parts.hostname))
    ):
        raise ConfigError(f"NEXUDUS_MCP_PUBLIC_URL must be an https:// origin (http only on loopback), got {origin!r}")
    if settings.mcp_auth == "oauth":
        settings = state_settings(settings)
    try:
        signin = build_signin(settings, origin, transport)
    except SignInConfigError as exc:
        raise ConfigError(str(exc)) from None
    host_names = _split(settings.mcp_allowed_hosts)
    if not is_loopback_host(parts.hostname) and parts.netloc not in host_names and parts.hostname not in host_names:
        settings = settings.model_copy(update={"mcp_allowed_hosts": ",".join([*host_names, parts.netloc])})
    security = security_for(settings, host)
    server = build_server(settings, transport=transport, read_only=read_only, resolve_caller=signin.resolve_caller)
    return server.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=True,
        stateless_http=True,
        transport_security=security,
        max_request_body_size=settings.mcp_max_body_bytes,
        host=host or "127.0.0.1",
        auth=signin.auth,
        token_verifier=signin.verifier,
        auth_server_provider=signin.provider,
        custom_starlette_routes=[Route("/healthz", healthz, methods=["GET"]), *signin.routes],
    )


def create_app_from_env() -> ASGIApp:
    from .logs import configure_logging

    configure_logging()
    settings = Settings()
    if not settings.mcp_secret:
        log.warning("NEXUDUS_MCP_SECRET is not set: redaction tokens differ between workers and restarts")
    return create_app(settings)


class _AppFromEnvironment:
    """`uvicorn nexudus_identity_mcp.http_app:app`: the app, built from the environment on the first
    ASGI event (uvicorn's lifespan start), not on import of this module."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = create_app_from_env()
        await self._app(scope, receive, send)


app = _AppFromEnvironment()
