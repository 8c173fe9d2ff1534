"""`NEXUDUS_MCP_AUTH=oauth-external`: JWT access tokens from the organisation's identity provider,
checked against its JWKS (a small signed-JWT issuer on loopback stands in for the IdP); the server
acts with its own Nexudus credentials and the audit line names the staff member."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from nexudus_identity_mcp.mcpserver.http_app import create_app
from nexudus_identity_mcp.record.fields import REQUIRED
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp, free_port
from nexudus_identity_mcp.tools.catalog import GET_TOOL

from .conftest import settings_for


class Issuer:
    """A minimal identity provider: discovery document, JWKS, and a signing key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
        self.url = ""

    def app(self) -> Starlette:
        async def discovery(request: Any) -> JSONResponse:
            return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})

        async def keys(request: Any) -> JSONResponse:
            return JSONResponse(self.jwks)

        return Starlette(routes=[Route("/.well-known/openid-configuration", discovery), Route("/jwks", keys)])

    def token(
        self, audience: str, *, expires_in: int = 300, issuer: str | None = None, key: Any = None, **claims: Any
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": issuer or self.url,
            "aud": audience,
            "sub": "staff-42",
            "iat": now,
            "exp": now + expires_in,
            "email": "olivia.ops@example.com",
            **claims,
        }
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def external(sandbox: Sandbox) -> Iterator[tuple[Issuer, str]]:
    issuer = Issuer()
    with ServedApp(issuer.app()) as idp:
        issuer.url = idp.url
        port = free_port()
        settings = settings_for(mcp_auth="oauth-external", mcp_oauth_issuer=issuer.url)
        app = create_app(settings, transport=sandbox.transport(), host=LOOPBACK, public_url=f"http://{LOOPBACK}:{port}")
        with ServedApp(app, port=port, lifespan="auto") as served:
            yield issuer, f"{served.url}/mcp"


def call(url: str, token: str) -> httpx2.Response:
    return httpx2.post(
        url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": GET_TOOL, "arguments": {"Id": 87654301}},
        },
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
        timeout=30,
    )


def test_valid_tokens_are_served_and_audited_by_staff_name(
    external: tuple[Issuer, str], caplog: pytest.LogCaptureFixture
) -> None:
    issuer, url = external
    answer = call(url, issuer.token(url))
    assert answer.status_code == 200 and "Record" in answer.text
    record = answer.json()["result"]["structuredContent"]["Record"]
    caplog.set_level(logging.INFO, logger="nexudus_identity_mcp.audit")
    update = {
        "name": "update_coworker_identity_check",
        "arguments": {**{k: record[k] for k in REQUIRED}, "Description": "By Olivia"},
    }
    done = httpx2.post(
        url,
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": update},
        headers={
            "Authorization": f"Bearer {issuer.token(url)}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
    )
    assert done.json()["result"]["isError"] is False
    assert any("client=olivia.ops@example.com" in r.getMessage() for r in caplog.records)


def test_invalid_tokens_are_refused(external: tuple[Issuer, str]) -> None:
    issuer, url = external
    assert call(url, issuer.token("https://another.example/mcp")).status_code == 401  # another resource
    assert call(url, issuer.token(url, expires_in=-60)).status_code == 401  # expired
    assert call(url, issuer.token(url, issuer="https://evil.example")).status_code == 401  # another issuer
    assert call(url, issuer.token(url, key=issuer.other_key)).status_code == 401  # forged signature
    good = issuer.token(url)
    header, payload, signature = good.split(".")
    assert call(url, f"{header}.{payload[:-4]}AAAA.{signature}").status_code == 401  # tampered
    assert call(url, "not-a-jwt").status_code == 401
