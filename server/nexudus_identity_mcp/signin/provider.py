"""The embedded authorization server (`NEXUDUS_MCP_AUTH=oauth`), as an implementation of the SDK's
`OAuthAuthorizationServerProvider`: the SDK's routes do the protocol (metadata, registration,
/authorize, /token with PKCE S256, revocation) and call this for storage and decisions.

- Clients register dynamically (RFC 7591) within bounds (`LIMITS`: every text field, at most 10
  redirect URIs). A redirect URI must be https, or http on a loopback address (RFC 8252 §7.3,
  OAuth 2.1), without userinfo or fragment; anything else is refused at registration and never
  redirected to. Redirect URIs match exactly, except that a loopback one may use any port.
- /authorize (bounded parameters) sends the browser to our sign-in page (`pages.py`) with a pending
  request; a successful Nexudus sign-in creates a *grant* (the staff member's Nexudus tokens,
  encrypted) and an authorization code (5 minutes, single use).
- Access tokens live 1 hour; refresh tokens 30 days and rotate on every use. Codes, refresh tokens
  and sign-in requests are taken with the store's atomic take-and-delete, so of any number of
  concurrent uses one wins; every other use is a replay and revokes the whole grant (RFC 6749
  §4.1.2, OAuth 2.1 §4.3.1): each code and refresh token is linked to its grant from the moment it is
  issued, so the replay is recognised however close the race.
- Every token is bound to the resource (RFC 8707) it was issued for; the bearer middleware refuses
  it elsewhere. Tokens and client secrets are stored only as keyed digests (`Vault.digest`).
- The staff member's Nexudus token is refreshed at most once at a time per grant (a store lock),
  and written back only if the grant still exists, so a revocation during a refresh stands.
All state goes through the state store (SQLite by default, Redis across hosts), so every worker
sees every grant and a restart keeps sessions.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import InvalidRedirectUriError, OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from ..state import LockNotGranted, StateStore
from .nexudus_login import NexudusLogin, NexudusTokens, SignInFailed
from .vault import Vault

log = logging.getLogger("nexudus_identity_mcp.signin")

ACCESS_SECONDS = 3600
REFRESH_SECONDS = 30 * 86400
CODE_SECONDS = 300
PENDING_SECONDS = 600
CLIENT_SECONDS = 180 * 86400
# A signed-in staff member's Nexudus token is refreshed this many seconds before it expires (fixed;
# docs/deployment.md says so). Not an environment variable.
REFRESH_BEFORE_EXPIRY = 300
SCOPE = "identity-checks"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
REFRESH_LOCK_SECONDS, REFRESH_WAIT_SECONDS = 30.0, 20.0
# Bounds on what a client may register and ask for (characters, or items for lists).
LIMITS = {
    "client_name": 100,
    "uri": 2000,  # each redirect URI, client_uri, logo_uri, tos_uri, policy_uri, jwks_uri
    "redirect_uris": 10,
    "scope": 200,
    "contacts": 5,
    "contact": 254,
    "software": 100,  # software_id, software_version
    "grant_types": 4,
    "response_types": 4,
    "state": 1024,
    "resource": 2000,
}


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI is not acceptable, or None: https, or http on a loopback host (RFC 8252
    §7.3 and §8.3, OAuth 2.1 §2.3.1), no userinfo, no fragment, a host, within the length bound."""
    if len(uri) > LIMITS["uri"]:
        return f"a redirect URI is longer than {LIMITS['uri']} characters"
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return "a redirect URI is not a URL"
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return f"redirect URIs must be https (or http on a loopback address), not {scheme[:20] or 'relative'}:"
    if not host:
        return "a redirect URI has no host"
    if "@" in parts.netloc:
        return "a redirect URI must not carry a user name or password"
    if "#" in uri:
        return "a redirect URI must not have a fragment"
    if scheme == "http" and host not in LOOPBACK_NAMES:
        return "an http redirect URI must be on a loopback address (127.0.0.1, [::1] or localhost); use https"
    return None


def registration_problem(info: OAuthClientInformationFull) -> tuple[str, str] | None:
    """(error code, description) when the registration is out of policy or bounds, else None."""
    uris = [str(u) for u in info.redirect_uris or []]
    if len(uris) > LIMITS["redirect_uris"]:
        return "invalid_redirect_uri", f"at most {LIMITS['redirect_uris']} redirect URIs"
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem:
            return "invalid_redirect_uri", problem
    texts = {
        "client_name": (info.client_name, LIMITS["client_name"]),
        "scope": (info.scope, LIMITS["scope"]),
        "software_id": (info.software_id, LIMITS["software"]),
        "software_version": (info.software_version, LIMITS["software"]),
        **{
            name: (None if getattr(info, name) is None else str(getattr(info, name)), LIMITS["uri"])
            for name in ("client_uri", "logo_uri", "tos_uri", "policy_uri", "jwks_uri")
        },
    }
    for name, (value, limit) in texts.items():
        if value is not None and len(value) > limit:
            return "invalid_client_metadata", f"{name} is longer than {limit} characters"
    contacts = info.contacts or []
    if len(contacts) > LIMITS["contacts"] or any(len(c) > LIMITS["contact"] for c in contacts):
        return "invalid_client_metadata", f"at most {LIMITS['contacts']} contacts of {LIMITS['contact']} characters"
    if len(info.grant_types) > LIMITS["grant_types"] or len(info.response_types) > LIMITS["response_types"]:
        return "invalid_client_metadata", "too many grant_types or response_types"
    if info.jwks is not None:
        return "invalid_client_metadata", "jwks is not accepted (this server does not use client keys)"
    return None


class LoopbackAwareClient(OAuthClientInformationFull):
    """Exact redirect-URI matching, with RFC 8252's rule that a loopback http URI may change port;
    a URI out of policy (even one stored before the policy) is never accepted, so no answer of
    /authorize, error or not, redirects to it."""

    def validate_redirect_uri(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        if redirect_uri is not None and redirect_uri_problem(str(redirect_uri)):
            raise InvalidRedirectUriError(f"Redirect URI refused: {redirect_uri_problem(str(redirect_uri))}")
        chosen = self._match(redirect_uri)
        problem = redirect_uri_problem(str(chosen))
        if problem:
            raise InvalidRedirectUriError(f"Redirect URI refused: {problem}")
        return chosen

    def _match(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        if redirect_uri is not None and redirect_uri.scheme == "http" and redirect_uri.host in LOOPBACK_NAMES:
            for registered in self.redirect_uris or []:
                if (
                    registered.scheme == "http"
                    and registered.host == redirect_uri.host
                    and (registered.path or "/") == (redirect_uri.path or "/")
                    and registered.query == redirect_uri.query
                    and not registered.username
                    and not redirect_uri.username
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
        return _as_dict(await self.store.get(key))

    # -- clients (RFC 7591)
    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if not client_id or len(client_id) > 64:
            return None
        raw = await self._get(f"client:{client_id}")
        if not raw:
            return None
        stored = raw.pop("client_secret_digest", None)
        raw["client_secret"] = None
        if stored:  # the guard swaps a presented secret that matches the digest for this stand-in
            raw["client_secret"] = self.verified_secret(client_id)
        return LoopbackAwareClient.model_validate(raw)

    def verified_secret(self, client_id: str) -> str:
        """What the guard puts in place of a client secret it checked against the stored digest: keyed,
        so nobody without the server's key can present it."""
        return self.vault.digest(f"verified-client:{client_id}")

    async def client_secret_matches(self, client_id: str, presented: str) -> bool:
        raw = await self._get(f"client:{client_id}") if client_id and len(client_id) <= 64 else None
        stored = (raw or {}).get("client_secret_digest")
        return bool(stored) and secrets.compare_digest(self.vault.digest(presented), str(stored))

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        problem = registration_problem(client_info)
        if problem is not None:
            log.info("signin: registration refused: %s", problem[1])
            raise RegistrationError(problem[0], problem[1])  # type: ignore[arg-type]
        stored = client_info.model_dump(mode="json")
        secret = stored.pop("client_secret", None)
        if secret:
            stored["client_secret_digest"] = self.vault.digest(str(secret))
        await self._put(f"client:{client_info.client_id}", stored, CLIENT_SECONDS)

    # -- /authorize: a pending request, continued by the sign-in page
    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if params.state is not None and len(params.state) > LIMITS["state"]:
            raise AuthorizeError("invalid_request", f"state is longer than {LIMITS['state']} characters")
        if params.resource is not None and len(params.resource) > LIMITS["resource"]:
            raise AuthorizeError("invalid_request", "resource is too long")
        if not 43 <= len(params.code_challenge) <= 128:  # RFC 7636 §4.2
            raise AuthorizeError("invalid_request", "code_challenge must be 43 to 128 characters")
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
        return await self._get(f"pending:{request_id}") if request_id and len(request_id) <= 64 else None

    @staticmethod
    def new_grant_id() -> str:
        return secrets.token_urlsafe(16)

    @staticmethod
    def nexudus_client_id(grant_id: str) -> str:
        return f"nexudus-identity-mcp-{grant_id}"

    async def complete_sign_in(self, request_id: str, grant_id: str, email: str, tokens: NexudusTokens) -> str:
        """Take the pending request (once: a second submit of it gets nothing), store the grant and an
        authorization code; return the client's redirect URL with the code."""
        pending = _as_dict(await self.store.pop(f"pending:{request_id}"))
        if pending is None:
            raise SignInFailed(
                "unavailable", "This sign-in request was used or has expired; start again from your assistant."
            )
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
        key = self.vault.digest(code)
        await self._put(f"issued-code:{key}", {"grant_id": grant_id}, CODE_SECONDS * 2)  # the replay link
        await self._put(f"code:{key}", grant.model_dump(mode="json"), CODE_SECONDS)
        log.info("signin: %s signed in for client %s", email, pending["client_id"])
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    def _seal_grant(self, email: str, tokens: NexudusTokens) -> bytes:
        return self.vault.seal(
            {"email": email, "access": tokens.access, "refresh": tokens.refresh, "expires_at": tokens.expires_at}
        )

    async def _replayed(self, link: str, what: str) -> None:
        """A code or refresh token that is gone but was issued: a replay, so its grant is revoked."""
        used = await self._get(link)
        if used is not None:
            log.warning("signin: %s replayed; revoking its grant", what)
            await self.revoke_grant(str(used["grant_id"]))

    # -- /token: codes
    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> Grant | None:
        key = self.vault.digest(authorization_code)
        raw = await self._get(f"code:{key}")
        if raw is None:
            await self._replayed(f"issued-code:{key}", "authorization code")
            return None
        return Grant.model_validate(raw)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: Grant
    ) -> OAuthToken:
        key = self.vault.digest(authorization_code.code)
        if await self.store.pop(f"code:{key}") is None:  # another exchange of this code won
            await self._replayed(f"issued-code:{key}", "authorization code")
            raise TokenError("invalid_grant", "authorization code already used")
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
        refresh_key = self.vault.digest(refresh)
        await self._put(
            f"access:{self.vault.digest(access)}",
            {**common, "token": "", "expires_at": now + ACCESS_SECONDS},
            ACCESS_SECONDS,
        )
        await self._put(f"issued-refresh:{refresh_key}", {"grant_id": grant_id}, REFRESH_SECONDS)  # the replay link
        await self._put(
            f"refresh:{refresh_key}", {**common, "token": "", "expires_at": now + REFRESH_SECONDS}, REFRESH_SECONDS
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
        key = self.vault.digest(refresh_token)
        raw = await self._get(f"refresh:{key}")
        if raw is None:
            await self._replayed(f"issued-refresh:{key}", "refresh token")
            return None
        if await self.store.get(f"grant:{raw['grant_id']}") is None:
            return None
        return IssuedRefresh.model_validate({**raw, "token": refresh_token})

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: IssuedRefresh, scopes: list[str]
    ) -> OAuthToken:
        key = self.vault.digest(refresh_token.token)
        if await self.store.pop(f"refresh:{key}") is None:  # another use of this refresh token won
            await self._replayed(f"issued-refresh:{key}", "refresh token")
            raise TokenError("invalid_grant", "refresh token already used")
        return await self._issue(
            client.client_id or "",
            scopes or refresh_token.scopes,
            refresh_token.resource,
            refresh_token.subject,
            refresh_token.grant_id,
        )

    # -- bearer tokens
    async def load_access_token(self, token: str) -> IssuedAccess | None:
        raw = await self._get(f"access:{self.vault.digest(token)}")
        now = time.time()
        if raw is None or not now < float(raw.get("expires_at", 0)) <= now + ACCESS_SECONDS:
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
        log.info("signin: a client revoked a token; its grant ends")
        await self.revoke_grant(token.grant_id)

    async def revoke_grant(self, grant_id: str) -> None:
        await self.store.delete(f"grant:{grant_id}")

    # -- the staff member's own Nexudus token, for each tool call
    async def _open_grant(self, grant_id: str) -> dict[str, Any] | None:
        sealed = await self.store.get(f"grant:{grant_id}")
        return self.vault.open(sealed) if sealed is not None else None

    async def nexudus_credentials(self, grant_id: str) -> tuple[str, str] | None:
        """(email, Nexudus access token) for a grant, refreshed at Nexudus shortly before it expires;
        None when the grant is gone or Nexudus refused the refresh (the grant is then revoked, so the
        client's tokens stop working and it is sent through sign-in again). One refresh at a time per
        grant, across workers: the others wait for it and use its token."""
        grant = await self._open_grant(grant_id)
        if grant is None:
            return None
        email = str(grant["email"])
        if float(grant["expires_at"]) - REFRESH_BEFORE_EXPIRY > time.time():
            return email, str(grant["access"])
        seen = str(grant["access"])
        try:
            async with self.store.lock(
                f"grant-refresh:{grant_id}", ttl=REFRESH_LOCK_SECONDS, wait=REFRESH_WAIT_SECONDS
            ):
                return await self._refresh_grant(grant_id, seen)
        except LockNotGranted:
            return email, seen  # another refresh is taking long: try the token we have

    async def _refresh_grant(self, grant_id: str, seen: str) -> tuple[str, str] | None:
        grant = await self._open_grant(grant_id)  # again, under the lock: another refresh may have run
        if grant is None:
            return None
        email = str(grant["email"])
        if str(grant["access"]) != seen or float(grant["expires_at"]) - REFRESH_BEFORE_EXPIRY > time.time():
            return email, str(grant["access"])
        if not grant.get("refresh"):
            await self.revoke_grant(grant_id)
            return None
        try:
            tokens = await self.login.refresh(str(grant["refresh"]), self.nexudus_client_id(grant_id))
        except SignInFailed as failed:
            if failed.reason in ("unavailable", "throttled"):
                return email, str(grant["access"])  # try the old token; Nexudus will say if it is dead
            log.info("signin: Nexudus refused to refresh %s's token (%s); signing them out", email, failed.said)
            await self.revoke_grant(grant_id)
            return None
        if not await self.store.replace(f"grant:{grant_id}", self._seal_grant(email, tokens), REFRESH_SECONDS):
            log.info("signin: %s's grant was revoked during a token refresh; it stays revoked", email)
            return None
        return email, tokens.access


def _as_dict(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None
