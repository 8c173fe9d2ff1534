"""What `serve --http` needs for each sign-in mode: the SDK's AuthSettings, a token verifier, the
embedded authorization server and its sign-in page (oauth), and how to tell who is calling."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from starlette.middleware import Middleware
from starlette.routing import Route

from ..settings import Settings, parse_trusted_proxies
from ..state import open_store
from ..state.keys import KeyFileError, key_file_secret
from ..tools.context import Caller, CallerResolver


class SignInConfigError(ValueError):
    """A sign-in configuration that cannot work; the message is one line naming the variable."""


@dataclass
class SignIn:
    auth: AuthSettings
    verifier: TokenVerifier
    provider: Any | None
    resolve_caller: CallerResolver
    routes: list[Route] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)  # innermost last, inside the SDK's error handler


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "nexudus-identity-mcp"


def state_settings(settings: Settings) -> Settings:
    """Sign-in state must outlive a worker: SQLite in a default folder unless a store is configured."""
    if settings.mcp_redis_url is None and not settings.mcp_state_dir:
        return settings.model_copy(update={"mcp_state_dir": str(default_state_dir())})
    return settings


def vault_secret(settings: Settings) -> str:
    """NEXUDUS_MCP_SECRET, or a key kept beside the SQLite state (created once, readable by its owner only)."""
    if settings.mcp_secret is not None and settings.mcp_secret.get_secret_value():
        return settings.mcp_secret.get_secret_value()
    if settings.mcp_redis_url is not None:
        raise SignInConfigError(
            "NEXUDUS_MCP_AUTH=oauth with NEXUDUS_MCP_REDIS_URL needs NEXUDUS_MCP_SECRET (the same "
            "on every host): it encrypts the staff members' Nexudus tokens"
        )
    try:
        return key_file_secret(settings.mcp_state_dir or default_state_dir())
    except KeyFileError as exc:
        raise SignInConfigError(str(exc)) from None


def build_signin(settings: Settings, public_url: str, transport: httpx2.AsyncBaseTransport | None) -> SignIn:
    origin = public_url.rstrip("/")
    resource = f"{origin}/mcp"
    if settings.mcp_auth == "oauth":
        from .guard import SignInGuard
        from .nexudus_login import NexudusLogin
        from .pages import SignInPages
        from .provider import SCOPE, IssuedAccess, NexudusOAuthProvider
        from .vault import Vault

        provider = NexudusOAuthProvider(
            open_store(settings), Vault(vault_secret(settings)), NexudusLogin(settings, transport), resource
        )

        async def resolve(scope: Mapping[str, Any]) -> Caller | None:
            user = scope.get("user")
            token = getattr(user, "access_token", None)
            if not isinstance(token, IssuedAccess):
                return None
            credentials = await provider.nexudus_credentials(token.grant_id)
            return Caller(credentials[0], credentials[1]) if credentials else None

        auth = AuthSettings(
            issuer_url=origin,  # type: ignore[arg-type]  # pydantic parses the str into AnyHttpUrl
            resource_server_url=resource,  # type: ignore[arg-type]
            validate_token_resource=True,
            required_scopes=[SCOPE],
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=[SCOPE], default_scopes=[SCOPE]
            ),
            revocation_options=RevocationOptions(enabled=True),
        )
        guard = Middleware(
            SignInGuard, provider=provider, trusted_proxies=parse_trusted_proxies(settings.mcp_trusted_proxies)
        )
        return SignIn(auth, provider, provider, resolve, SignInPages(provider, origin).routes(), [guard])

    from .external import JwtVerifier

    if not settings.mcp_oauth_issuer:
        raise SignInConfigError(
            "NEXUDUS_MCP_AUTH=oauth-external needs NEXUDUS_MCP_OAUTH_ISSUER (your identity provider's issuer URL)"
        )
    verifier = JwtVerifier(
        settings.mcp_oauth_issuer, settings.mcp_oauth_audience or resource, settings.mcp_oauth_jwks_url
    )

    async def resolve_external(scope: Mapping[str, Any]) -> Caller | None:
        token = getattr(scope.get("user"), "access_token", None)
        claims = getattr(token, "claims", None) or {}
        return Caller(str(claims.get("staff") or getattr(token, "subject", None) or "external"))

    auth = AuthSettings(
        issuer_url=settings.mcp_oauth_issuer,  # type: ignore[arg-type]
        resource_server_url=resource,  # type: ignore[arg-type]
        validate_token_resource=False,  # the verifier checks the audience itself
    )
    return SignIn(auth, verifier, None, resolve_external)
