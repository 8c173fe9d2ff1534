"""Streamable HTTP: the MCP server for shared and remote use, as an ASGI app.

    nexudus-identity-mcp serve --http [--host 127.0.0.1] [--port 8000]
    uvicorn nexudus_identity_mcp.mcpserver.http_app:app --workers 4      # configured from the environment

`/mcp` is stateless with JSON responses (any worker can answer any request); `/healthz` needs no
token. Around the SDK's app:
- Inbound bearer tokens, one per named client (`NEXUDUS_MCP_CLIENT_TOKENS="desk=…,ops=…"`): the
  name goes into every audit line. They are required whenever the server is reachable beyond
  loopback, judged without trusting the socket peer (behind a reverse proxy it is always loopback):
  the app refuses to build without them for a non-loopback bind or a non-loopback allowed host, and
  refuses any request that arrived on a non-loopback address or carries a proxy's forwarded headers
  while none are configured. A caller's own Nexudus token is never accepted or forwarded; the
  server uses its own configured Nexudus credentials.
- DNS-rebinding protection on every bind: Host and Origin must be in `NEXUDUS_MCP_ALLOWED_HOSTS` /
  `NEXUDUS_MCP_ALLOWED_ORIGINS` (loopback names by default). A non-loopback bind without an
  allowed-hosts list is refused, never silently unprotected. A Host that is not `host[:port]` is a
  400 before the SDK's prefix matching sees it.
- `/mcp` takes POST only (405, `Allow: POST`): it is stateless, with no stream to open or session to end.
- Request bodies are bounded (`NEXUDUS_MCP_MAX_BODY_BYTES`); uvicorn's limits and the deadlines for
  reading a request are in serving.py.
Anything that must agree between workers comes from the environment: set `NEXUDUS_MCP_SECRET` so
that redaction tokens mean the same on every worker.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
from typing import Any
from urllib.parse import urlsplit

import httpx2
from mcp.server import Server
from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from mcp.server.transport_security import TransportSecuritySettings
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import (
    MIN_CLIENT_TOKEN_LENGTH,
    MetricsSetting,
    Settings,
    SettingsError,
    environment_secrets,
    is_loopback_host,
    read_settings,
    scrub_secrets,
)
from ..telemetry.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ..telemetry.metrics import METRICS, configure_metrics
from ..telemetry.traces import configure_tracing
from .app import CLIENT_SCOPE_KEY, build_server

log = logging.getLogger(__name__)
LOOPBACK_HOSTS = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
MIN_TOKEN_LENGTH = MIN_CLIENT_TOKEN_LENGTH


class ConfigError(ValueError):
    """A configuration that would make the HTTP server unsafe; the message is one readable line."""


def parse_client_tokens(raw: str | None) -> dict[str, str]:
    """`name=token,name=token` -> {token: name}. Names say who wrote what in the audit log.

    Errors name an entry by its position, never by its text: an entry without `name=` is the token
    itself, and an entry written the wrong way round has the token where the name should be."""
    clients: dict[str, str] = {}
    entries = [part.strip() for part in (raw or "").split(",") if part.strip()]
    for number, part in enumerate(entries, 1):
        name, sep, token = part.partition("=")
        where = f"entry {number} of {len(entries)}"
        if not sep or not name:
            problem = "has no name= before its token"
        elif not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
            problem = "has a name that is not 1-64 letters, digits or _.@-"
        elif len(token) < MIN_TOKEN_LENGTH:
            problem = f"has a token shorter than {MIN_TOKEN_LENGTH} characters"
        elif token in clients:
            problem = "has the same token as an earlier entry"
        else:
            clients[token] = name
            continue
        raise ConfigError(
            f"NEXUDUS_MCP_CLIENT_TOKENS: {where} {problem}; the value must be name=token pairs separated by "
            f"commas, each token at least {MIN_TOKEN_LENGTH} characters"
        )
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


# A Host header is a host name or address and an optional numeric port, nothing else: the SDK's check
# matches `localhost:*` as a prefix, which would let `localhost:evil` or `127.0.0.1:8000@evil.com` in.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_FORM = re.compile(rf"(?:(?:{_LABEL}\.)*{_LABEL}\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?")
# Headers a reverse proxy adds. With them present the socket peer is the proxy, not the caller.
FORWARDED_HEADERS = frozenset({b"forwarded", b"x-real-ip", b"via"})


def host_is_well_formed(value: str) -> bool:
    return len(value) <= 261 and HOST_FORM.fullmatch(value) is not None


def is_loopback_entry(entry: str) -> bool:
    """An allowed-hosts entry (`name`, `name:port`, `name:*`, `[v6]:port`) names this machine."""
    if entry.startswith("["):
        return is_loopback_host(entry[1 : entry.find("]")] if "]" in entry else entry)
    return is_loopback_host(entry.rpartition(":")[0] if entry.count(":") == 1 else entry)


def _forwarded(scope: Scope) -> bool:
    return any(name in FORWARDED_HEADERS or name.startswith(b"x-forwarded-") for name, _ in scope.get("headers") or [])


# The SDK's DNS-rebinding refusals, and what this server answers instead: the setting that decides.
REBINDING_ANSWERS: dict[tuple[int, bytes], tuple[str, str]] = {
    (421, b"Invalid Host header"): (
        "misdirected_request",
        "Invalid Host header: this server answers only the Host names in NEXUDUS_MCP_ALLOWED_HOSTS (unset: "
        "this machine's loopback names); its operator adds the name clients use there.",
    ),
    (403, b"Invalid Origin header"): (
        "forbidden",
        "Invalid Origin header: this server answers only the origins in NEXUDUS_MCP_ALLOWED_ORIGINS (unset: "
        "loopback, and https:// on each allowed host); its operator adds the origin there.",
    ),
}


class HostFormMiddleware:
    """400 for a Host header that is not `host[:port]` (or that is sent twice), before any other check;
    the SDK's 421 and 403 for a Host or Origin not allowed say which setting allows it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            hosts = [value for name, value in scope.get("headers") or [] if name == b"host"]
            if len(hosts) > 1 or (hosts and not host_is_well_formed(hosts[0].decode("latin-1"))):
                await _answer(
                    send, 400, "bad_request", "The Host header must be a host name or address and an optional port."
                )
                return
            await self.app(scope, receive, _naming_the_setting(send))
            return
        await self.app(scope, receive, send)


def _naming_the_setting(send: Send) -> Send:
    """`send`, with the SDK's one-message 421/403 DNS-rebinding answers replaced by REBINDING_ANSWERS."""
    held: list[Message] = []

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] in (403, 421):
            held.append(message)
            return
        if held and message["type"] == "http.response.body":
            start = held.pop()
            answer = REBINDING_ANSWERS.get((start["status"], bytes(message.get("body", b""))))
            if answer is not None and not message.get("more_body"):
                await _answer(send, start["status"], *answer)
                return
            await send(start)
        await send(message)

    return wrapped


class ClientAuthMiddleware:
    """Bearer tokens for /mcp; records which named client is calling (for the audit log). Without
    tokens, only a direct loopback caller is served: a request that arrived on another address, or
    through a reverse proxy (forwarded headers), is refused, because behind a proxy the socket peer
    is always loopback whoever the caller is."""

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
                await _answer(
                    send,
                    403,
                    "forbidden",
                    "This server has no client tokens configured, so it answers on loopback only. "
                    "Set NEXUDUS_MCP_CLIENT_TOKENS.",
                )
                return
            if _forwarded(scope):
                await _answer(
                    send,
                    403,
                    "forbidden",
                    "This request came through a reverse proxy (it carries forwarded headers) and this "
                    "server has no client tokens configured, so it answers direct loopback callers only. "
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
            await _answer(
                send, 401, "unauthorized", "A valid bearer token is required (Authorization: Bearer <token>)."
            )
            return
        scope[CLIENT_SCOPE_KEY] = name
        await self.app(scope, receive, send)


class PostOnlyMiddleware:
    """`/mcp` is stateless: POST only. The SDK would open a GET event stream that never sends anything
    (and answer DELETE 405 without an Allow header); answer 405 with `Allow: POST` instead."""

    def __init__(self, app: ASGIApp, path: str = "/mcp") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in (self.path, self.path + "/") and scope["method"] != "POST":
            await _answer(
                send,
                405,
                "method_not_allowed",
                "This server is stateless: send JSON-RPC requests with POST.",
                [(b"allow", b"POST")],
            )
            return
        await self.app(scope, receive, send)


async def _answer(
    send: Send, status: int, error: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    all_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    all_headers += headers or []
    if status == 401:
        all_headers.append((b"www-authenticate", b'Bearer realm="nexudus-identity-mcp"'))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "pid": os.getpid()})


async def metrics(request: Request) -> Response:
    """GET /metrics (NEXUDUS_MCP_METRICS=on): Prometheus' text format, behind /mcp's authentication."""
    return Response(METRICS.exposition(), media_type=METRICS_CONTENT_TYPE)


def _telemetry(settings: Settings) -> list[Route]:
    """Metrics and traces as the settings and OTEL_* variables ask; the /metrics route when it is on."""
    setting = MetricsSetting.parse(settings.mcp_metrics)
    configure_metrics(setting)
    configure_tracing()
    return [Route("/metrics", metrics, methods=["GET"])] if setting.mode == "on" else []


def check_exposure(settings: Settings, clients: dict[str, str], host: str | None) -> None:
    """Refuse a configuration that would serve anonymous callers beyond this machine."""
    if clients:
        return
    if host is not None and not is_loopback_host(host):
        raise ConfigError(
            f"binding {host} needs NEXUDUS_MCP_CLIENT_TOKENS (name=token pairs): a server reachable "
            "beyond this machine never runs without inbound authentication"
        )
    public = [h for h in _split(settings.mcp_allowed_hosts) if not is_loopback_entry(h)]
    if public:
        raise ConfigError(
            f"NEXUDUS_MCP_ALLOWED_HOSTS names {public[0][:80]!r}, which is not this machine, so requests reach "
            "this server through a proxy or another host, where every caller looks like loopback: set "
            "NEXUDUS_MCP_CLIENT_TOKENS (name=token pairs)"
        )


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
        if settings.mcp_client_tokens is not None and settings.mcp_client_tokens.get_secret_value().strip():
            raise ConfigError(
                f"NEXUDUS_MCP_CLIENT_TOKENS is not used with NEXUDUS_MCP_AUTH={settings.mcp_auth}: every client "
                "signs in instead. Unset it, or serve scripts from a second server with NEXUDUS_MCP_AUTH=tokens"
            )
        try:
            signin_app = _create_signin_app(
                settings, transport=transport, host=host, read_only=read_only, public_url=public_url
            )
        except ConfigError as exc:
            raise ConfigError(scrub_secrets(str(exc), settings.secrets() + environment_secrets())) from None
        return HostFormMiddleware(PostOnlyMiddleware(signin_app))
    try:
        clients = parse_client_tokens(
            settings.mcp_client_tokens.get_secret_value() if settings.mcp_client_tokens else None
        )
        check_exposure(settings, clients, host)
        security = security_for(settings, host)
    except ConfigError as exc:  # the messages never quote a token; scrub anyway, whatever changes later
        raise ConfigError(scrub_secrets(str(exc), settings.secrets() + environment_secrets())) from None
    server = build_server(settings, transport=transport, read_only=read_only)
    starlette_app = _mcp_app(server, settings, security, host, routes=_telemetry(settings))
    return HostFormMiddleware(ClientAuthMiddleware(PostOnlyMiddleware(starlette_app), clients))


def _mcp_app(
    server: Server[Any],
    settings: Settings,
    security: TransportSecuritySettings,
    host: str | None,
    *,
    routes: list[Route] | None = None,
    middleware: list[Middleware] | None = None,
    **auth: Any,
) -> ASGIApp:
    """The SDK's app for /mcp, as every mode serves it: stateless, JSON answers, bounded bodies, the
    given DNS-rebinding settings, /healthz, and the sign-in mode's routes and auth when given."""
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=True,
        stateless_http=True,
        transport_security=security,
        max_request_body_size=settings.mcp_max_body_bytes,
        host=host or "127.0.0.1",
        custom_starlette_routes=[Route("/healthz", healthz, methods=["GET"]), *(routes or [])],
        **auth,
    )
    for layer in reversed(middleware or []):  # outermost of the app's own, inside its error handler
        app.add_middleware(layer.cls, *layer.args, **layer.kwargs)
    return app


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
    from ..signin.mode import SignInConfigError, build_signin, state_settings

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
    # /metrics (when on) needs a signed-in caller's bearer token, as /mcp does.
    protected = [
        Route(
            route.path, RequireAuthMiddleware(request_response(route.endpoint), signin.auth.required_scopes or [], None)
        )
        for route in _telemetry(settings)
    ]
    return _mcp_app(
        server,
        settings,
        security,
        host,
        routes=[*signin.routes, *protected],
        middleware=signin.middleware,
        auth=signin.auth,
        token_verifier=signin.verifier,
        auth_server_provider=signin.provider,
    )


def create_app_from_env() -> ASGIApp:
    """The app from the environment; ConfigError (one line) when the settings are bad or unsafe."""
    import gc

    from ..logs import configure_logging

    configure_logging()
    try:
        settings = read_settings()
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None
    if not settings.mcp_secret:
        log.warning("NEXUDUS_MCP_SECRET is not set: redaction tokens differ between workers and restarts")
    app = create_app(settings)
    # What start-up built lives as long as the process: keep it out of every later full collection.
    gc.collect()
    gc.freeze()
    return app


class _AppFromEnvironment:
    """`uvicorn nexudus_identity_mcp.mcpserver.http_app:app`: the app, built from the environment on the first
    ASGI event (uvicorn's lifespan start), not on import of this module. A bad or unsafe configuration
    fails the lifespan start with its one-line message, so uvicorn exits saying why."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            try:
                self._app = create_app_from_env()
            except ConfigError as exc:
                if scope["type"] == "lifespan":
                    await receive()  # lifespan.startup
                    await send({"type": "lifespan.startup.failed", "message": f"nexudus-identity-mcp: {exc}"})
                    return
                log.error("cannot serve: %s", exc)
                if scope["type"] == "http":
                    await _answer(send, 503, "not_configured", "The server is misconfigured; its log says why.")
                return
        await self._app(scope, receive, send)


app = _AppFromEnvironment()
