"""The sign-in page in a real browser (headless Chromium, page JavaScript switched off): a staff
member with two-factor authentication signs in, enters the code when asked, and the browser lands on
the client's callback with an authorization code that the client exchanges for tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pyotp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp, free_port
from nexudus_identity_mcp.sandbox.state import STAFF_PASSWORD, STAFF_TOTP_SECRET

from .chromium import Chromium
from .test_signin import SignInServer, authorize_url, exchange, oauth_app, register

pytestmark = pytest.mark.slow


@pytest.fixture
def browser() -> Iterator[Chromium]:
    chromium = Chromium()
    try:
        yield chromium
    finally:
        chromium.close()


def test_two_factor_sign_in_in_chromium(browser: Chromium, sandbox: Sandbox, tmp_path: Path) -> None:
    received: list[str] = []

    async def callback(request: Request) -> PlainTextResponse:
        received.append(str(request.query_params.get("code") or ""))
        return PlainTextResponse("You can close this window.")

    callback_port = 43111  # the REDIRECT registered by the helpers in test_signin.py
    port = free_port()
    with (
        ServedApp(Starlette(routes=[Route("/callback", callback)]), port=callback_port),
        ServedApp(oauth_app(sandbox, tmp_path, port), port=port, lifespan="auto") as served,
    ):
        server = SignInServer(served.url, sandbox, tmp_path)
        client = register(server)
        browser.goto(authorize_url(server, client))
        page = browser.html()
        assert "Raw client" in page and "as you" in page and '<label for="email">' in page
        browser.type_into("#email", "carla.2fa@sandbox.example")
        browser.type_into("#password", STAFF_PASSWORD)
        browser.press_enter()
        page = browser.html()
        assert 'id="code"' in page and "6-digit code" in page and STAFF_PASSWORD not in page
        browser.screenshot(tmp_path / "signin-2fa.png")
        browser.type_into("#code", pyotp.TOTP(STAFF_TOTP_SECRET).now())
        browser.press_enter()
        assert browser.url().startswith(f"http://{LOOPBACK}:{callback_port}/callback?code=")
        assert received and received[0]
        tokens = exchange(server, client, received[0])
        assert tokens.status_code == 200, tokens.text
        listed = httpx2.post(
            server.mcp,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Authorization": f"Bearer {tokens.json()['access_token']}",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            },
        )
        assert listed.status_code == 200 and "update_coworker_identity_check" in listed.text
