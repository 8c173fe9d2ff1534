"""`NEXUDUS_MCP_AUTH=oauth-external`: access tokens issued by the organisation's own identity provider
(JWTs), checked with PyJWT against the provider's JWKS: signature, issuer, audience (this server's
resource URL or NEXUDUS_MCP_OAUTH_AUDIENCE), expiry. The server then acts with its own Nexudus
credentials (service account); the audit line names the staff member from the token's claims."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx2
import jwt
from mcp.server.auth.provider import AccessToken

log = logging.getLogger("nexudus_identity_mcp.signin")
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


def discover_jwks_url(issuer: str, *, timeout: float = 5.0) -> str:
    """The JWKS URL from the issuer's metadata (OpenID Connect discovery, then RFC 8414)."""
    base = issuer.rstrip("/")
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        try:
            response = httpx2.get(base + path, timeout=timeout)
            if response.status_code == 200 and isinstance(response.json().get("jwks_uri"), str):
                return str(response.json()["jwks_uri"])
        except (httpx2.HTTPError, ValueError):
            continue
    raise ValueError(
        f"NEXUDUS_MCP_OAUTH_ISSUER {issuer!r}: no jwks_uri in its discovery documents; set NEXUDUS_MCP_OAUTH_JWKS_URL"
    )


class JwtVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        self._jwks_url = jwks_url
        self._jwks: jwt.PyJWKClient | None = None

    def _client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(
                self._jwks_url or discover_jwks_url(self.issuer), cache_keys=True, lifespan=300, timeout=5
            )
        return self._jwks

    def _verify(self, token: str) -> dict[str, Any] | None:
        try:
            key = self._client().get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            log.info("external token refused: %s", type(exc).__name__)
            return None
        return claims

    async def verify_token(self, token: str) -> AccessToken | None:
        claims = await anyio.to_thread.run_sync(self._verify, token)
        if claims is None:
            return None
        scope = claims.get("scope") or claims.get("scp") or []
        scopes = scope.split() if isinstance(scope, str) else [str(s) for s in scope]
        staff = str(claims.get("email") or claims.get("preferred_username") or claims.get("name") or claims["sub"])
        return AccessToken(
            token=token,
            client_id=str(claims.get("azp") or claims.get("client_id") or "external"),
            scopes=scopes,
            expires_at=int(claims["exp"]),
            resource=self.audience,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"], "staff": staff},
        )
