"""The embedded authorization server (`NEXUDUS_MCP_AUTH=oauth`), as an implementation of the SDK's
`OAuthAuthorizationServerProvider`: the SDK's routes do the protocol (metadata, registration,
/authorize, /token with PKCE S256, revocation) and call this for storage and decisions.

- Clients register dynamically (RFC 7591); redirect URIs are matched exactly, except that a
  loopback `http` URI may use any port (RFC 8252 §7.3, desktop clients).
- /authorize sends the browser to our sign-in page (`pages.py`) with a pending request; a
  successful Nexudus sign-in creates a *grant* (the staff member's Nexudus tokens, encrypted) and an
  authorization code (5 minutes, single use; a replayed code revokes what it issued).
- Access tokens live 1 hour; refresh tokens 30 days and rotate on every use. A refresh token used
  twice is a replay: the whole grant is revoked (every token issued from that sign-in).
- Every token is bound to the resource (RFC 8707) it was issued for; the bearer middleware refuses
  it elsewhere. Only SHA-256 digests of our tokens are stored.
All state goes through the state store (SQLite by default, Redis across hosts), so every worker
sees every grant and a restart keeps sessions.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    TokenError,
)
from mcp.shared.auth import InvalidRedirectUriError, OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from ..state import StateStore
from .nexudus_login import NexudusLogin, NexudusTokens, SignInFailed
from .vault import Vault, digest

log = logging.getLogger("nexudus_identity_mcp.signin")

ACCESS_SECONDS = 3600
REFRESH_SECONDS = 30 * 86400
CODE_SECONDS = 300
PENDING_SECONDS = 600
CLIENT_SECONDS = 180 * 86400
NEXUDUS_REFRESH_MARGIN = 300
SCOPE = "identity-checks"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")


class LoopbackAwareClient(OAuthClientInformationFull):
    """Exact redirect-URI matching, with RFC 8252's rule that a loopback http URI may change port."""

    def validate_redirect_uri(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        if redirect_uri is not None and redirect_uri.scheme == "http" and redirect_uri.host in LOOPBACK_NAMES:
            for registered in self.redirect_uris or []:
                if (
                    registered.scheme == "http"
                    and registered.host == redirect_uri.host
                    and (registered.path or "/") == (redirect_uri.path or "/")
                    and registered.query == redirect_uri.query
                ):
                    return redirect_uri
            raise InvalidRedirectUriError(f"Redirect URI '{redirect_uri}' not registered for client")
        return super().validate_redirect_uri(redirect_uri)


class Grant(AuthorizationCode):
    grant_id: str


class IssuedRefresh(RefreshToken):
    grant_id: str


class IssuedAccess(AccessToken):
    grant_id: str


class NexudusOAuthProvider:
    def __init__(self, store: StateStore, vault: Vault, login: NexudusLogin, resource_url: str) -> None:
        self.store = store
        self.vault = vault
        self.login = login
        self.resource_url = resource_url

    # -- storage helpers
    async def _put(self, key: str, value: dict[str, Any], ttl: float) -> None:
        await self.store.put(key, json.dumps(value).encode(), ttl)

    async def _get(self, key: str) -> dict[str, Any] | None:
        raw = await self.store.get(key)
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, dict) else None

    # -- clients (RFC 7591)
    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        raw = await self._get(f"client:{client_id}")
        return LoopbackAwareClient.model_validate(raw) if raw else None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        await self._put(f"client:{client_info.client_id}", client_info.model_dump(mode="json"), CLIENT_SECONDS)

    # -- /authorize: a pending request, continued by the sign-in page
    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        resource = params.resource or self.resource_url
        if resource.rstrip("/") != self.resource_url.rstrip("/"):
            raise AuthorizeError("invalid_target", f"This server only issues tokens for {self.resource_url}.")
        request_id = secrets.token_urlsafe(24)
        await self._put(
            f"pending:{request_id}",
            {
                "client_id": client.client_id,
                "client_name": client.client_name or client.client_id,
                "params": params.model_dump(mode="json"),
                "csrf": secrets.token_urlsafe(24),
            },
            PENDING_SECONDS,
        )
        return f"{self.resource_url.rstrip('/').rsplit('/mcp', 1)[0]}/signin?request={request_id}"

    async def pending(self, request_id: str) -> dict[str, Any] | None:
        return await self._get(f"pending:{request_id}") if request_id else None

    @staticmethod
    def new_grant_id() -> str:
        return secrets.token_urlsafe(16)

    @staticmethod
    def nexudus_client_id(grant_id: str) -> str:
        return f"nexudus-identity-mcp-{grant_id}"

    async def complete_sign_in(self, request_id: str, grant_id: str, email: str, tokens: NexudusTokens) -> str:
        """Store the grant and an authorization code; return the client's redirect URL with the code."""
        pending = await self.pending(request_id)
        if pending is None:
            raise SignInFailed("unavailable", "This sign-in request has expired; start again from your assistant.")
        await self.store.delete(f"pending:{request_id}")
        params = AuthorizationParams.model_validate(pending["params"])
        await self.store.put(f"grant:{grant_id}", self._seal_grant(email, tokens), REFRESH_SECONDS)
        code = secrets.token_urlsafe(32)
        grant = Grant(
            code=code,
            scopes=params.scopes or [SCOPE],
            expires_at=time.time() + CODE_SECONDS,
            client_id=pending["client_id"],
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource or self.resource_url,
            subject=email,
            grant_id=grant_id,
        )
        await self._put(f"code:{digest(code)}", grant.model_dump(mode="json"), CODE_SECONDS)
        log.info("signin: %s signed in for client %s", email, pending["client_id"])
        from mcp.server.auth.provider import construct_redirect_uri

        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    def _seal_grant(self, email: str, tokens: NexudusTokens) -> bytes:
        return self.vault.seal(
            {"email": email, "access": tokens.access, "refresh": tokens.refresh, "expires_at": tokens.expires_at}
        )

    # -- /token: codes
    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> Grant | None:
        key = f"code:{digest(authorization_code)}"
        raw = await self._get(key)
        if raw is None:
            used = await self._get(f"used-code:{digest(authorization_code)}")
            if used is not None:  # a replayed code: revoke what the first exchange issued (RFC 6749 §4.1.2)
                log.warning("signin: authorization code replayed; revoking its grant")
                await self.revoke_grant(str(used["grant_id"]))
            return None
        return Grant.model_validate(raw)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: Grant
    ) -> OAuthToken:
        code_key = digest(authorization_code.code)
        if await self.store.get(f"code:{code_key}") is None:
            raise TokenError("invalid_grant", "authorization code already used")
        await self.store.delete(f"code:{code_key}")
        await self._put(f"used-code:{code_key}", {"grant_id": authorization_code.grant_id}, CODE_SECONDS * 2)
        return await self._issue(
            client.client_id or "",
            authorization_code.scopes,
            authorization_code.resource,
            authorization_code.subject,
            authorization_code.grant_id,
        )

    async def _issue(
        self, client_id: str, scopes: list[str], resource: str | None, subject: str | None, grant_id: str
    ) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = int(time.time())
        common = {
            "client_id": client_id,
            "scopes": scopes,
            "resource": resource,
            "subject": subject,
            "grant_id": grant_id,
        }
        await self._put(
            f"access:{digest(access)}", {**common, "token": "", "expires_at": now + ACCESS_SECONDS}, ACCESS_SECONDS
        )
        await self._put(
            f"refresh:{digest(refresh)}", {**common, "token": "", "expires_at": now + REFRESH_SECONDS}, REFRESH_SECONDS
        )
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=ACCESS_SECONDS,
            refresh_token=refresh,
            scope=" ".join(scopes),
        )

    # -- /token: refresh, rotating; a replay revokes the grant
    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> IssuedRefresh | None:
        key = digest(refresh_token)
        raw = await self._get(f"refresh:{key}")
        if raw is None:
            used = await self._get(f"used-refresh:{key}")
            if used is not None:
                log.warning("signin: refresh token replayed; revoking the whole grant")
                await self.revoke_grant(str(used["grant_id"]))
            return None
        if await self.store.get(f"grant:{raw['grant_id']}") is None:
            return None
        return IssuedRefresh.model_validate({**raw, "token": refresh_token})

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: IssuedRefresh, scopes: list[str]
    ) -> OAuthToken:
        key = digest(refresh_token.token)
        if await self.store.get(f"refresh:{key}") is None:
            raise TokenError("invalid_grant", "refresh token already used")
        await self.store.delete(f"refresh:{key}")
        await self._put(f"used-refresh:{key}", {"grant_id": refresh_token.grant_id}, REFRESH_SECONDS)
        return await self._issue(
            client.client_id or "",
            scopes or refresh_token.scopes,
            refresh_token.resource,
            refresh_token.subject,
            refresh_token.grant_id,
        )

    # -- bearer tokens
    async def load_access_token(self, token: str) -> IssuedAccess | None:
        raw = await self._get(f"access:{digest(token)}")
        if raw is None or raw.get("expires_at", 0) < time.time():
            return None
        if await self.store.get(f"grant:{raw['grant_id']}") is None:  # signed out, revoked or refused by Nexudus
            return None
        return IssuedAccess.model_validate({**raw, "token": token})

    async def verify_token(self, token: str) -> IssuedAccess | None:
        """The bearer middleware's TokenVerifier: our own access tokens."""
        return await self.load_access_token(token)

    async def exchange_identity_assertion(self, client: OAuthClientInformationFull, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "identity assertions are not accepted by this server")

    async def revoke_token(self, token: IssuedAccess | IssuedRefresh) -> None:
        await self.revoke_grant(token.grant_id)

    async def revoke_grant(self, grant_id: str) -> None:
        await self.store.delete(f"grant:{grant_id}")

    # -- the staff member's own Nexudus token, for each tool call
    async def nexudus_credentials(self, grant_id: str) -> tuple[str, str] | None:
        """(email, Nexudus access token) for a grant, refreshed at Nexudus shortly before it expires;
        None when the grant is gone or Nexudus refused the refresh (the grant is then revoked, so the
        client's tokens stop working and it is sent through sign-in again)."""
        sealed = await self.store.get(f"grant:{grant_id}")
        grant = self.vault.open(sealed) if sealed is not None else None
        if grant is None:
            return None
        email = str(grant["email"])
        if float(grant["expires_at"]) - NEXUDUS_REFRESH_MARGIN > time.time():
            return email, str(grant["access"])
        if not grant.get("refresh"):
            await self.revoke_grant(grant_id)
            return None
        try:
            tokens = await self.login.refresh(str(grant["refresh"]), self.nexudus_client_id(grant_id))
        except SignInFailed as failed:
            if failed.reason in ("unavailable", "throttled"):
                return email, str(grant["access"])  # try the old token; Nexudus will say if it is dead
            log.info("signin: Nexudus refused to refresh %s's token; signing them out", email)
            await self.revoke_grant(grant_id)
            return None
        await self.store.put(f"grant:{grant_id}", self._seal_grant(email, tokens), REFRESH_SECONDS)
        return email, tokens.access
