"""The one token exchange (`nexudus.auth.exchange_token`), used by the API client's password flow and
by the sign-in pages alike: two-factor refusals recognised whatever their wording's case and
separators, an unrecognised refusal answered with the code field offered, probe showing the error
code it met, and each mode's start-up line saying what it needs."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pyotp
import pytest

from nexudus_identity_mcp.cli.main import log_what_the_mode_needs
from nexudus_identity_mcp.cli.probe import run_probe
from nexudus_identity_mcp.nexudus import NexudusClient
from nexudus_identity_mcp.nexudus.auth import classify_refusal
from nexudus_identity_mcp.nexudus.errors import ErrorKind, NexudusError
from nexudus_identity_mcp.sandbox import Fault, Sandbox
from nexudus_identity_mcp.sandbox.loopback import ServedApp, free_port
from nexudus_identity_mcp.sandbox.state import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    STAFF_PASSWORD,
    STAFF_TOTP_SECRET,
    TOTP_PASSWORD,
    TOTP_USER,
)
from nexudus_identity_mcp.signin.nexudus_login import (
    FAILURE_FOR_KIND,
    MAX_TOKEN_ANSWER,
    NexudusLogin,
    SignInFailed,
)

from .conftest import ServedSandbox, settings_for
from .helpers import CHECK
from .signin_browser import hidden_inputs, sign_in
from .test_signin import CARLA, SignInServer, authorize_url, oauth_app, register

PACKAGE = Path(__file__).parent.parent / "server" / "nexudus_identity_mcp"


@pytest.mark.parametrize(
    ("error", "description", "kind"),
    [
        ("invalid_grant", "two_factor_auth_check", "two_factor"),
        ("invalid_grant", "Two-Factor authentication required", "two_factor"),
        ("invalid_grant", "TOTP", "two_factor"),
        ("TwoFactorRequired", "", "two_factor"),
        ("invalid_grant", "MFA_REQUIRED", "two_factor"),
        ("invalid_grant", "A two-factor authentication code (totp) is required for this user.", "two_factor"),
        ("invalid_grant", "The two-factor authentication code is incorrect.", "two_factor"),
        ("invalid_grant", "The user name or password is incorrect.", "credentials"),
        ("invalid_grant", "API access is not enabled for this user.", "api_access"),
        ("invalid_grant", "login_check_pending", "unrecognised"),
        ("invalid_grant", "", "unrecognised"),
    ],
)
def test_refusals_are_classified_whatever_their_wording(error: str, description: str, kind: str) -> None:
    assert classify_refusal(error, description) == kind


def test_only_the_exchange_builds_a_token_request() -> None:
    """One place asks /api/token for a token (the sandbox, which answers it, aside)."""
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "sandbox" not in path.parts and '"/api/token"' in path.read_text()
    )
    assert users == ["nexudus/auth.py"]
    assert len(re.findall(r'"/api/token"', (PACKAGE / "nexudus" / "auth.py").read_text())) == 1


@pytest.fixture
def wording_server(tmp_path: Path) -> Iterator[SignInServer]:
    sandbox = Sandbox()
    port = free_port()
    with ServedApp(oauth_app(sandbox, tmp_path, port), port=port, lifespan="auto") as served:
        yield SignInServer(served.url, sandbox, tmp_path)


def test_a_snake_case_two_factor_refusal_asks_for_the_code(wording_server: SignInServer) -> None:
    wording_server.sandbox.state.two_factor_wording = "two_factor_auth_check"
    client = register(wording_server)
    asked = sign_in(authorize_url(wording_server, client), CARLA, STAFF_PASSWORD)
    assert 'name="code"' in asked.page and "did not accept that email" not in asked.page
    done = sign_in(
        authorize_url(wording_server, client), CARLA, STAFF_PASSWORD, code=pyotp.TOTP(STAFF_TOTP_SECRET).now()
    )
    assert done.code


def test_an_unrecognised_refusal_offers_the_code_field(wording_server: SignInServer) -> None:
    wording_server.sandbox.state.two_factor_wording = "login_check_pending"
    client = register(wording_server)
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        page_url = browser.get(authorize_url(wording_server, client)).headers["location"]
        page = browser.get(page_url).text
        origin = {"Origin": wording_server.url}
        first = browser.post(
            f"{wording_server.url}/signin",
            data=hidden_inputs(page) | {"email": CARLA, "password": STAFF_PASSWORD},
            headers=origin,
        )
        assert first.status_code == 401 and "two-step sign-in" in first.text
        assert re.search(r'<input id="code" name="code"[^>]*>', first.text), "the code field is offered"
        assert "required" not in re.search(r'<input id="code" name="code"[^>]*>', first.text).group(0)  # type: ignore[union-attr]
        second = browser.post(
            f"{wording_server.url}/signin",
            data=hidden_inputs(first.text)
            | {"email": CARLA, "password": STAFF_PASSWORD, "code": pyotp.TOTP(STAFF_TOTP_SECRET).now()},
            headers=origin,
        )
    assert second.status_code == 303 and "code=" in second.headers["location"]


@pytest.mark.anyio
async def test_probe_shows_the_token_endpoints_error_code() -> None:
    sandbox = Sandbox()
    sandbox.state.two_factor_wording = "two_factor_auth_check"
    settings = settings_for(token=None, username=TOTP_USER, password=TOTP_PASSWORD)
    async with NexudusClient(settings, transport=sandbox.transport()) as client:
        findings = await run_probe(client)
    [auth] = [f for f in findings if f.assumption.startswith("The password credentials")]
    assert auth.verdict == "failed" and "invalid_grant: two_factor_auth_check" in auth.observed
    assert TOTP_PASSWORD not in repr(findings)


@pytest.mark.anyio
async def test_the_sign_in_pages_read_a_token_answer_within_their_own_bound() -> None:
    """The sign-in pages' client is bounded at its transport like the API client's, at the smaller
    MAX_TOKEN_ANSWER: a token answer over it is refused unread; one under it signs in."""
    sandbox = Sandbox()
    login = NexudusLogin(settings_for(token=None), transport=sandbox.transport())
    try:
        padded = {"access_token": "a-token", "expires_in": 3600, "Pad": "x" * MAX_TOKEN_ANSWER}
        sandbox.state.inject(Fault("status", route="token", status=200, body=padded))
        with pytest.raises(SignInFailed) as caught:
            await login.password(CARLA, STAFF_PASSWORD, pyotp.TOTP(STAFF_TOTP_SECRET).now(), "client-1")
        assert caught.value.reason == "unavailable"
        tokens = await login.password(CARLA, STAFF_PASSWORD, pyotp.TOTP(STAFF_TOTP_SECRET).now(), "client-1")
        assert tokens.access and tokens.refresh
    finally:
        await login.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fault", "kind", "reason"),
    [
        (Fault("status", route="token", status=429), ErrorKind.RATE_LIMITED, "throttled"),
        (Fault("status", route="token", status=409, body="You must wait"), ErrorKind.RATE_LIMITED, "throttled"),
        (Fault("status", route="token", status=503), ErrorKind.UPSTREAM_UNAVAILABLE, "unavailable"),
        (Fault("html", route="token", status=502), ErrorKind.UPSTREAM_UNAVAILABLE, "unavailable"),
        (Fault("delay", route="token", delay=1.0), ErrorKind.UPSTREAM_UNAVAILABLE, "unavailable"),
        (Fault("status", route="token", status=418), ErrorKind.UPSTREAM_ERROR, "unrecognised"),
    ],
    ids=["429", "409", "503", "502-html", "timeout", "418"],
)
async def test_the_sign_in_and_the_api_client_read_a_failed_token_answer_alike(
    served_sandbox: ServedSandbox, fault: Fault, kind: ErrorKind, reason: str
) -> None:
    """The same throttled, failed, timed-out or unexpected token answer (over loopback, so httpx's
    own read timeout applies): the API client's password flow gives the error `kind`, and the
    sign-in page the failure that kind means to it (FAILURE_FOR_KIND), so the two cannot drift apart."""
    sandbox = served_sandbox.sandbox
    quick = {"token": None, "connect_timeout": 0.5, "read_timeout": 0.3, "max_attempts": 1}
    sandbox.state.inject(dataclasses.replace(fault))  # a fault counts itself down: one copy for each
    async with NexudusClient(
        settings_for(served_sandbox.url, **quick, username=ADMIN_USER, password=ADMIN_PASSWORD)
    ) as client:
        with pytest.raises(NexudusError) as raised:
            await client.get_check(CHECK)
    assert raised.value.kind == kind and raised.value.operation == "token"
    sandbox.state.inject(dataclasses.replace(fault))
    login = NexudusLogin(settings_for(served_sandbox.url, **quick))
    try:
        with pytest.raises(SignInFailed) as refused:
            await login.password(CARLA, STAFF_PASSWORD, pyotp.TOTP(STAFF_TOTP_SECRET).now(), "client-1")
    finally:
        await login.aclose()
    assert refused.value.reason == reason == FAILURE_FOR_KIND.get(raised.value.kind, "unrecognised")
    assert sandbox.state.count("token") == 2 and sandbox.state.count("get") == 0


def test_each_mode_says_what_it_needs(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test-startup")
    caplog.set_level("INFO", logger="test-startup")
    bare = {"token": None}
    log_what_the_mode_needs(log, settings_for(**bare, mcp_auth="oauth"), http=True)
    oauth_line = caplog.records[-1].getMessage()
    assert "not_configured" not in oauth_line and "signs in with their own Nexudus account" in oauth_line
    log_what_the_mode_needs(log, settings_for(**bare, mcp_auth="oauth-external"), http=True)
    assert "service account" in caplog.records[-1].getMessage()
    assert "not_configured" in caplog.records[-1].getMessage()
    log_what_the_mode_needs(log, settings_for(**bare), http=False)
    assert "not_configured" in caplog.records[-1].getMessage()
