"""Sign-in mode (NEXUDUS_MCP_AUTH=oauth): the embedded authorization server built on the SDK's auth
support, driven by the Python SDK's OAuth client, and every refusal the specifications require.
The sandbox plays Nexudus, with named staff (one with 2FA)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx2
import pyotp
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from nexudus_identity_mcp.mcpserver.http_app import ConfigError, create_app
from nexudus_identity_mcp.sandbox import Fault, Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp, free_port
from nexudus_identity_mcp.sandbox.state import STAFF_PASSWORD, STAFF_TOTP_SECRET
from nexudus_identity_mcp.tools.catalog import GET_TOOL, LIST_CHANGES_TOOL, UPDATE_TOOL

from .conftest import settings_for
from .helpers import required_from
from .signin_browser import sign_in

pytestmark = pytest.mark.anyio
REDIRECT = "http://127.0.0.1:43111/callback"
ANA, BEN, CARLA = "ana.staff@sandbox.example", "ben.staff@sandbox.example", "carla.2fa@sandbox.example"


@dataclass
class SignInServer:
    url: str
    sandbox: Sandbox
    state_dir: Path

    @property
    def mcp(self) -> str:
        return f"{self.url}/mcp"


def oauth_app(sandbox: Sandbox, state_dir: Path, port: int) -> Any:
    settings = settings_for(mcp_auth="oauth", mcp_state_dir=str(state_dir), mcp_secret="signin-test-secret")
    return create_app(settings, transport=sandbox.transport(), host=LOOPBACK, public_url=f"http://{LOOPBACK}:{port}")


@pytest.fixture
def server(sandbox: Sandbox, tmp_path: Path) -> Iterator[SignInServer]:
    port = free_port()
    with ServedApp(oauth_app(sandbox, tmp_path, port), port=port, lifespan="auto") as served:
        yield SignInServer(served.url, sandbox, tmp_path)


class MemoryTokens:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def sdk_oauth(server: SignInServer, email: str, *, code: str | None = None) -> tuple[OAuthClientProvider, MemoryTokens]:
    storage = MemoryTokens()
    outcome: dict[str, AuthorizationCodeResult] = {}

    async def redirect_handler(url: str) -> None:  # "the browser": the staff member signs in
        result = await anyio.to_thread.run_sync(lambda: sign_in(url, email, STAFF_PASSWORD, code=code))
        assert result.code, result.page[-500:]
        outcome["result"] = AuthorizationCodeResult(code=result.code, state=result.state)

    async def callback_handler() -> AuthorizationCodeResult:
        return outcome["result"]

    metadata = OAuthClientMetadata(
        client_name="Test assistant",
        redirect_uris=[REDIRECT],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    provider = OAuthClientProvider(server.mcp, metadata, storage, redirect_handler, callback_handler)
    return provider, storage


async def update_as(server: SignInServer, email: str, description: str, *, code: str | None = None) -> dict[str, Any]:
    provider, _ = sdk_oauth(server, email, code=code)
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(server.mcp, http_client=http)) as client,
    ):
        record = (await client.call_tool(GET_TOOL, {"Id": 87654303})).structured_content["Record"]  # type: ignore[index]
        result = await client.call_tool(UPDATE_TOOL, {**required_from(record), "Description": description})
        assert not result.is_error, result.content
        return result.structured_content or {}


async def list_changes_as(server: SignInServer, email: str) -> dict[str, Any]:
    provider, _ = sdk_oauth(server, email)
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(server.mcp, http_client=http)) as client,
    ):
        result = await client.call_tool(LIST_CHANGES_TOOL, {})
        assert not result.is_error, result.content
        return result.structured_content or {}


async def test_two_staff_members_update_under_their_own_names(
    server: SignInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="nexudus_identity_mcp.audit")
    await update_as(server, ANA, "Checked by Ana")
    assert server.sandbox.state.records[87654303]["UpdatedBy"] == ANA
    await update_as(server, BEN, "Checked again by Ben")
    assert server.sandbox.state.records[87654303]["UpdatedBy"] == BEN
    assert server.sandbox.state.records[87654303]["Description"] == "Checked again by Ben"
    audit = [r.getMessage() for r in caplog.records if r.name == "nexudus_identity_mcp.audit"]
    assert any(f"client={ANA}" in line for line in audit) and any(f"client={BEN}" in line for line in audit)
    assert STAFF_PASSWORD not in " ".join(r.getMessage() for r in caplog.records)
    # The journal names each signed-in staff member as who made the change (#26).
    listed = await list_changes_as(server, BEN)
    assert [e["Who"] for e in listed["Entries"]] == [BEN, ANA]
    assert STAFF_PASSWORD not in json.dumps(listed)


async def test_two_factor_sign_in(server: SignInServer) -> None:
    await update_as(server, CARLA, "Checked by Carla", code=pyotp.TOTP(STAFF_TOTP_SECRET).now())
    assert server.sandbox.state.records[87654303]["UpdatedBy"] == CARLA


# ------------------------------------------------------------------ raw protocol, failure cases
@dataclass
class Registered:
    client_id: str
    verifier: str
    challenge: str


def register(server: SignInServer, redirect: str = REDIRECT) -> Registered:
    response = httpx2.post(
        f"{server.url}/register",
        json={
            "client_name": "Raw client",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert response.status_code == 201, response.text
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return Registered(response.json()["client_id"], verifier, challenge)


def authorize_url(server: SignInServer, client: Registered, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": client.challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
        "resource": server.mcp,
    } | extra
    return f"{server.url}/authorize?{urlencode(params)}"


def token(server: SignInServer, **form: str) -> httpx2.Response:
    return httpx2.post(f"{server.url}/token", data=form)


def exchange(server: SignInServer, client: Registered, code: str, **extra: str) -> httpx2.Response:
    return token(
        server,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=client.client_id,
        code_verifier=client.verifier,
        resource=server.mcp,
        **extra,
    )


def tools_list(server: SignInServer, access: str) -> httpx2.Response:
    return httpx2.post(
        server.mcp,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            "Authorization": f"Bearer {access}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
    )


def signed_in(server: SignInServer, client: Registered) -> dict[str, Any]:
    outcome = sign_in(authorize_url(server, client), ANA, STAFF_PASSWORD)
    assert outcome.code and outcome.state == "xyz"
    response = exchange(server, client, outcome.code)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    assert tokens["expires_in"] == 3600 and tokens["refresh_token"]
    return tokens


def test_metadata_and_challenge(server: SignInServer) -> None:
    unauthenticated = httpx2.post(server.mcp, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert unauthenticated.status_code == 401
    assert "resource_metadata=" in unauthenticated.headers["www-authenticate"]
    resource = httpx2.get(f"{server.url}/.well-known/oauth-protected-resource/mcp").json()
    assert (resource["resource"] == server.mcp and resource["authorization_servers"] == [f"{server.url}/"]) or resource[
        "authorization_servers"
    ] == [server.url]
    metadata = httpx2.get(f"{server.url}/.well-known/oauth-authorization-server").json()
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["registration_endpoint"] and metadata["revocation_endpoint"]


def test_tokens_work_then_revocation_ends_them(server: SignInServer) -> None:
    client = register(server)
    tokens = signed_in(server, client)
    assert tools_list(server, tokens["access_token"]).status_code == 200
    revoked = httpx2.post(
        f"{server.url}/revoke",
        data={"token": tokens["access_token"], "client_id": client.client_id, "client_secret": ""},
    )  # the SDK handler wants the field
    assert revoked.status_code == 200
    assert tools_list(server, tokens["access_token"]).status_code == 401
    refreshed = token(
        server, grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client.client_id
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_wrong_pkce_verifier_is_refused(server: SignInServer) -> None:
    client = register(server)
    outcome = sign_in(authorize_url(server, client), ANA, STAFF_PASSWORD)
    assert outcome.code
    response = token(
        server,
        grant_type="authorization_code",
        code=outcome.code,
        redirect_uri=REDIRECT,
        client_id=client.client_id,
        code_verifier="x" * 50,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_reused_code_is_refused_and_revokes_what_it_issued(server: SignInServer) -> None:
    client = register(server)
    outcome = sign_in(authorize_url(server, client), ANA, STAFF_PASSWORD)
    assert outcome.code
    first = exchange(server, client, outcome.code)
    assert first.status_code == 200
    again = exchange(server, client, outcome.code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert tools_list(server, first.json()["access_token"]).status_code == 401


def test_a_code_for_another_client_or_redirect_is_refused(server: SignInServer) -> None:
    client, other = register(server), register(server)
    outcome = sign_in(authorize_url(server, client), ANA, STAFF_PASSWORD)
    assert outcome.code
    stolen = token(
        server,
        grant_type="authorization_code",
        code=outcome.code,
        redirect_uri=REDIRECT,
        client_id=other.client_id,
        code_verifier=client.verifier,
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    moved = token(
        server,
        grant_type="authorization_code",
        code=outcome.code,
        redirect_uri="http://127.0.0.1:43111/elsewhere",
        client_id=client.client_id,
        code_verifier=client.verifier,
    )
    assert moved.status_code == 400


def test_refresh_rotates_and_a_replay_revokes_the_family(server: SignInServer) -> None:
    client = register(server)
    tokens = signed_in(server, client)
    rotated = token(
        server, grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client.client_id
    )
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != tokens["refresh_token"]
    assert tools_list(server, rotated.json()["access_token"]).status_code == 200
    replay = token(
        server, grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client.client_id
    )
    assert replay.status_code == 400
    assert tools_list(server, rotated.json()["access_token"]).status_code == 401  # the whole family is gone


def test_forged_tampered_and_foreign_resource_tokens_are_refused(server: SignInServer) -> None:
    client = register(server)
    tokens = signed_in(server, client)
    assert tools_list(server, tokens["access_token"][:-2] + "xx").status_code == 401
    assert tools_list(server, secrets.token_urlsafe(32)).status_code == 401
    foreign = sign_in(authorize_url(server, client, resource="https://other.example/mcp"), ANA, STAFF_PASSWORD)
    assert foreign.location and "error=invalid_target" in foreign.location and not foreign.code


def test_unknown_client_and_open_redirects_are_refused(server: SignInServer) -> None:
    unknown = httpx2.get(
        f"{server.url}/authorize",
        params={
            "response_type": "code",
            "client_id": "nobody",
            "redirect_uri": REDIRECT,
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert unknown.status_code == 400 and "location" not in unknown.headers
    client = register(server)
    evil = httpx2.get(authorize_url(server, client, redirect_uri="https://evil.example/callback"))
    assert evil.status_code == 400 and "evil.example" not in evil.headers.get("location", "")
    plain = httpx2.get(authorize_url(server, client, code_challenge_method="plain"))
    assert plain.status_code in (302, 400) and "code=" not in plain.headers.get("location", "")


def test_a_desktop_client_may_use_another_loopback_port(server: SignInServer) -> None:
    client = register(server)
    outcome = sign_in(
        authorize_url(server, client, redirect_uri="http://127.0.0.1:50999/callback"), ANA, STAFF_PASSWORD
    )
    assert outcome.code and outcome.location and outcome.location.startswith("http://127.0.0.1:50999/callback")


def test_sign_in_page_refusals_and_messages(server: SignInServer) -> None:
    client = register(server)
    assert sign_in(authorize_url(server, client), ANA, STAFF_PASSWORD, tamper_csrf=True).status == 403
    wrong = sign_in(authorize_url(server, client), ANA, "not-the-password")
    assert wrong.status == 401 and "did not accept that email and password" in wrong.page and not wrong.code
    no_api = sign_in(authorize_url(server, client), "eve.noapi@sandbox.example", STAFF_PASSWORD)
    assert "API access is not enabled" in no_api.page and not no_api.code
    bad_code = sign_in(authorize_url(server, client), CARLA, STAFF_PASSWORD, code="000000")
    assert "did not accept that code" in bad_code.page and not bad_code.code
    assert "staff-password" not in wrong.page + no_api.page + bad_code.page


def test_failed_attempts_are_limited_per_account(server: SignInServer) -> None:
    client = register(server)
    for _ in range(5):
        assert sign_in(authorize_url(server, client), BEN, "wrong").status == 401
    limited = sign_in(authorize_url(server, client), BEN, STAFF_PASSWORD)
    assert limited.status == 429 and not limited.code


def test_a_nexudus_outage_during_sign_in_grants_nothing(server: SignInServer) -> None:
    client = register(server)
    server.sandbox.state.inject(Fault("status", route="token", status=503, count=5))
    outcome = sign_in(authorize_url(server, client), ANA, STAFF_PASSWORD)
    assert outcome.status == 503 and "could not be reached" in outcome.page and not outcome.code


def test_a_restarted_server_keeps_the_sessions(sandbox: Sandbox, tmp_path: Path) -> None:
    port = free_port()
    with ServedApp(oauth_app(sandbox, tmp_path, port), port=port, lifespan="auto") as served:
        first = SignInServer(served.url, sandbox, tmp_path)
        client = register(first)
        tokens = signed_in(first, client)
    with ServedApp(oauth_app(sandbox, tmp_path, port), port=port, lifespan="auto") as served:
        assert tools_list(SignInServer(served.url, sandbox, tmp_path), tokens["access_token"]).status_code == 200


def test_nexudus_refusing_the_refresh_ends_the_session(server: SignInServer) -> None:
    client = register(server)
    tokens = signed_in(server, client)
    server.sandbox.state.forget_tokens()  # Nexudus forgot the access and refresh tokens: sign in again
    import json as _json

    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": GET_TOOL, "arguments": {"Id": 87654301}},
    }
    headers = {
        "Authorization": f"Bearer {tokens['access_token']}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    answer = httpx2.post(server.mcp, json=body, headers=headers).json()["result"]
    assert answer["isError"] and answer["structuredContent"]["ErrorKind"] == "unauthorized"
    assert _json.dumps(answer).count(tokens["access_token"]) == 0


def test_configuration_needs_a_public_url_beyond_loopback(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = settings_for(mcp_auth="oauth", mcp_state_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="NEXUDUS_MCP_PUBLIC_URL"):
        create_app(settings, transport=sandbox.transport(), host="0.0.0.0")
    with pytest.raises(ConfigError, match="https"):
        create_app(settings.model_copy(update={"mcp_public_url": "http://mcp.example.com"}), host="0.0.0.0")


@pytest.mark.slow
def test_typescript_sdk_oauth_client(server: SignInServer, node_tools: Path) -> None:
    import json
    import subprocess

    done = subprocess.run(
        ["node", str(node_tools / "oauth.mjs"), server.mcp, ANA, STAFF_PASSWORD],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = json.loads(done.stdout)
    assert "error" not in out, out.get("error")
    assert out["first"] == "REDIRECT" and out["second"] == "AUTHORIZED" and out["refreshed"]
    assert "update_coworker_identity_check" in out["tools"]
    assert out["update"]["isError"] is False and out["update"]["changes"][0]["Field"] == "Description"
    assert server.sandbox.state.records[87654309]["UpdatedBy"] == ANA
