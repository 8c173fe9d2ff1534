"""The API client where the live API (or a hostile stand-in) misbehaves: the auth flow (2FA, the
client_id, 401s explained), every throttle form (Retry-After in any spelling, the wait in the body,
the daily cap), bursts of the generic 500, failure envelopes on every route, runtime tokens and the
token endpoint's text scrubbed, and answers too large to read, in-process and over loopback."""

from __future__ import annotations

import math
import re
import struct
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from nexudus_identity_mcp.nexudus import NexudusClient, NexudusError, parse_retry_after
from nexudus_identity_mcp.nexudus.auth import PROCESS_CLIENT_ID
from nexudus_identity_mcp.nexudus.envelopes import MAX_SHOWN_WAIT, wait_from_text
from nexudus_identity_mcp.record.fields import RESOURCE_PATH, SENT_FIELDS
from nexudus_identity_mcp.sandbox import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    OOPS_TEXT,
    TOTP_PASSWORD,
    TOTP_SECRET,
    TOTP_USER,
    VIEWER_PASSWORD,
    VIEWER_USER,
    Fault,
    Sandbox,
)
from nexudus_identity_mcp.sandbox.loopback import ServedApp
from nexudus_identity_mcp.settings import Settings

from .conftest import Clock, ServedSandbox, Sleeps, settings_for
from .helpers import CHECK, body, required_from, server_for

pytestmark = pytest.mark.anyio
PASSWORD_MODE: dict[str, Any] = {"token": None, "username": ADMIN_USER, "password": ADMIN_PASSWORD}
TOTP_MODE: dict[str, Any] = {"token": None, "username": TOTP_USER, "password": TOTP_PASSWORD}


def body_of(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {f.name: record.get(f.name) for f in SENT_FIELDS}
    out.update(changes)
    return out


async def failing(call: Any) -> NexudusError:
    with pytest.raises(NexudusError) as caught:
        await call
    return caught.value


# ------------------------------------------------------------------ the auth flow
async def test_auth_is_an_httpx2_auth_flow(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for(**PASSWORD_MODE)
    assert isinstance(client.auth, httpx2.Auth)
    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(client.get_check, CHECK)
    assert client.token_requests == 1 and sandbox.state.count("token") == 1


async def test_concurrent_401s_share_one_reauthentication(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for(**PASSWORD_MODE)
    await client.get_check(CHECK)
    sandbox.state.forget_tokens(refresh=False)  # every call now meets a 401 with the token it holds
    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(client.get_check, CHECK)
    assert client.token_requests == 2, "one refresh serves every caller that saw the 401"


async def test_client_id_is_per_process_and_the_same_for_both_grants(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    assert re.fullmatch(r"nexudus-identity-mcp-[0-9a-f]{12}", PROCESS_CLIENT_ID)
    clock = Clock()
    client = client_for(**PASSWORD_MODE, clock=clock)
    for _ in range(3):
        await client.get_check(CHECK)
        clock.advance(sandbox.state.token_lifetime)  # the token is due: the next call refreshes
    grants = [r.grant for r in sandbox.state.requests if r.route == "token"]
    assert grants == ["password", "refresh_token", "refresh_token"], "the refresh token matched the client_id"
    assert {t.client_id for t in sandbox.state.issued("refresh").values()} == {PROCESS_CLIENT_ID}


async def test_configured_client_id_is_sent(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    await client_for(**PASSWORD_MODE, client_id="front-desk-mcp").get_check(CHECK)
    assert {t.client_id for t in sandbox.state.issued().values()} == {"front-desk-mcp"}


async def test_two_factor_user_signs_in_with_the_current_code(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for(**TOTP_MODE, totp_secret=TOTP_SECRET.lower())
    record = await client.get_check(CHECK)
    await client.update_check(body_of(record, Description="with 2FA"))
    assert sandbox.state.records[CHECK]["Description"] == "with 2FA"


async def test_two_factor_user_without_a_secret_is_told_to_set_it(client_for) -> None:  # type: ignore[no-untyped-def]
    error = await failing(client_for(**TOTP_MODE).get_check(CHECK))
    assert error.kind == "unauthorized" and "NEXUDUS_TOTP_SECRET" in error.message
    assert "invalid_grant" in error.message and "code" in error.message


async def test_a_wrong_two_factor_secret_is_named(client_for) -> None:  # type: ignore[no-untyped-def]
    error = await failing(client_for(**TOTP_MODE, totp_secret="JBSWY3DPEHPK3PXP").get_check(CHECK))
    assert error.kind == "unauthorized" and "two-factor code was refused" in error.message


def test_totp_secret_must_be_base32() -> None:
    for bad in ("not base32 at all!", "JBSWY3DP"):
        with pytest.raises(ValueError, match="NEXUDUS_TOTP_SECRET"):
            Settings(_env_file=None, totp_secret=bad)  # type: ignore[call-arg]
    spaced = Settings(_env_file=None, totp_secret="jbsw y3dp ehpk 3pxp")  # type: ignore[call-arg]
    assert spaced.totp_secret is not None and spaced.totp_secret.get_secret_value() == "JBSWY3DPEHPK3PXP"
    assert pyotp.TOTP(TOTP_SECRET).now().isdigit()


async def test_wrong_password_says_wrong_credentials(client_for) -> None:  # type: ignore[no-untyped-def]
    error = await failing(client_for(token=None, username=ADMIN_USER, password="nope").get_check(CHECK))
    assert "wrong credentials" in error.message


async def test_api_access_not_enabled_is_named(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(token=None, username="eve.noapi@sandbox.example", password="staff-password")
    error = await failing(client.get_check(CHECK))
    assert error.kind == "unauthorized" and "API access is not enabled" in error.message


async def test_401_after_a_fresh_sign_in_names_the_role(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for(token=None, username=VIEWER_USER, password=VIEWER_PASSWORD)
    record = await client.get_check(CHECK)
    error = await failing(client.update_check(body_of(record)))
    assert "sign-in worked" in error.message and "CoworkerIdentityCheck-Edit" in error.message
    assert "API access" in error.message
    assert sandbox.state.count("update") == 2 and client.token_requests == 2


async def test_401_with_a_bearer_token_says_the_token(client_for) -> None:  # type: ignore[no-untyped-def]
    error = await failing(client_for(token="expired-token").get_check(CHECK))
    assert "NEXUDUS_TOKEN is wrong or expired" in error.message and "expired-token" not in error.message


async def test_sandbox_two_factor_user_answers_like_nexudus(sandbox: Sandbox) -> None:
    form = {"grant_type": "password", "username": TOTP_USER, "password": TOTP_PASSWORD}
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url="http://127.0.0.1") as http:
        missing = await http.post("/api/token", data=form)
        wrong = await http.post("/api/token", data={**form, "totp": "000000"})
        right = await http.post("/api/token", data={**form, "totp": pyotp.TOTP(TOTP_SECRET).now()})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    assert "code" in missing.json()["error_description"] and "required" in missing.json()["error_description"]
    assert wrong.status_code == 400 and "incorrect" in wrong.json()["error_description"]
    assert right.status_code == 200 and right.json()["access_token"]


async def test_two_factor_sign_in_and_throttles_over_loopback(served_sandbox: ServedSandbox) -> None:
    state = served_sandbox.sandbox.state
    state.daily_write_cap = 1
    sleeps = Sleeps()
    settings = settings_for(served_sandbox.url, **TOTP_MODE, totp_secret=TOTP_SECRET)
    async with NexudusClient(settings, sleep=sleeps) as client:
        state.inject(Fault("status", route="get", status=429, body="Wait 2 seconds.", count=1))
        state.inject(Fault("status", route="update", status=500, body=OOPS_TEXT, count=2))
        record = await client.get_check(CHECK)
        await client.update_check(body_of(record, Description="over loopback"))
        error = await failing(client.update_check(body_of(record, Description="past the cap")))
    assert sleeps.waits[0] == 2.0 and len(sleeps.waits) == 3
    assert error.daily_cap and not error.retryable
    assert [r.status for r in state.requests if r.route == "update"] == [500, 500, 200, 409]


# ------------------------------------------------------------------ credentials never shown
async def test_token_endpoint_text_is_scrubbed_and_capped(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    password = "Pw-ECHOED-9f2c1"
    sandbox.state.inject(
        Fault(
            "status",
            route="token",
            status=400,
            body={"error": "invalid_grant", "error_description": f"password {password} is wrong"},
        )
    )
    error = await failing(client_for(token=None, username=ADMIN_USER, password=password).get_check(CHECK))
    assert password not in error.message and "«redacted»" in error.message
    sandbox.state.inject(Fault("status", route="token", status=400, body={"error": "x" * 200_000}))
    error = await failing(client_for(**PASSWORD_MODE).get_check(CHECK))
    assert error.kind == "unauthorized" and len(error.message) < 1000


async def test_runtime_tokens_and_the_totp_secret_are_scrubbed(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for(**TOTP_MODE, totp_secret=TOTP_SECRET)
    await client.get_check(CHECK)
    (access,) = sandbox.state.issued()
    (refresh,) = sandbox.state.issued("refresh")
    echo = f"token {access} has expired; refresh token {refresh} revoked; secret {TOTP_SECRET}"
    sandbox.state.inject(Fault("status", route="get", status=400, body={"Message": echo}))
    error = await failing(client.get_check(CHECK))
    sandbox.state.inject(Fault("html", route="get", status=200, body=None))
    sandbox.state.inject(Fault("status", route="get", status=502, body=f"<p>{echo}</p>", count=10))
    later = await failing(client_for(**TOTP_MODE, totp_secret=TOTP_SECRET, max_attempts=1).get_check(CHECK))
    for text in (error.message, later.message + (later.excerpt or "")):
        assert access not in text and refresh not in text and TOTP_SECRET not in text


# ------------------------------------------------------------------ throttling
ODD_RETRY_AFTER = ["nan", "NaN", "inf", "-inf", "1e400", "99999999999999999999", "-5", "", "soon", "0x10"]


@pytest.mark.parametrize("value", [*ODD_RETRY_AFTER, "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_odd_retry_after_means_the_default_wait(client_for, sandbox: Sandbox, sleeps: Sleeps, value: str) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("status", route="get", status=409, retry_after=value, count=10))
    error = await failing(client_for(max_attempts=3, max_retry_after=5).get_check(CHECK))
    assert error.kind == "rate_limited" and error.retryable
    assert error.retry_after is None or error.retry_after <= MAX_SHOWN_WAIT
    assert sleeps.waits and all(0 <= w <= 5 for w in sleeps.waits)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.text(max_size=40),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    )
)
def test_parse_retry_after_never_fails_and_stays_sane(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or (math.isfinite(seconds) and 0 <= seconds <= 86_400)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(
        st.sampled_from(ODD_RETRY_AFTER),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30).map(str),
        st.integers(min_value=-(10**25), max_value=10**25).map(str),
    )
)
async def test_any_retry_after_gives_a_sane_result_through_the_tool(value: str) -> None:
    sandbox = Sandbox()
    sandbox.state.inject(Fault("status", route="get", status=429, retry_after=value, count=10))
    sleeps = Sleeps()
    client = NexudusClient(settings_for(max_attempts=2, max_retry_after=3), transport=sandbox.transport(), sleep=sleeps)
    async with client:
        error = await failing(client.get_check(CHECK))
    assert error.kind == "rate_limited"
    assert error.retry_after is None or 0 <= error.retry_after <= MAX_SHOWN_WAIT
    assert all(0 <= w <= 3 for w in sleeps.waits)


@pytest.mark.parametrize(
    ("text", "wait"),
    [
        ("Too many requests. Wait 3 seconds.", 3.0),
        ("WAIT 7 SECONDS before trying again", 7.0),
        ("please wait 2s", 2.0),
        ("You must wait before accessing this url again", 1.0),
        ("Nothing about time", None),
    ],
)
def test_wait_from_text(text: str, wait: float | None) -> None:
    assert wait_from_text(text) == wait


async def test_429_with_the_wait_only_in_the_body(client_for, sandbox: Sandbox, sleeps: Sleeps) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("status", route="get", status=429, body="Too many requests. Wait 4 seconds."))
    await client_for().get_check(CHECK)
    assert sleeps.waits == [4.0]
    sandbox.state.inject(Fault("status", route="get", status=429, body={"Message": "wait 60 seconds"}, count=9))
    error = await failing(client_for(max_attempts=2, max_retry_after=2).get_check(CHECK))
    assert error.retry_after == 60.0 and sleeps.waits[-1] == 2.0, "shown as asked, waited as clamped"


async def test_daily_cap_is_not_retryable_and_says_when_it_resets(client_for, sandbox: Sandbox, sleeps: Sleeps) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.daily_write_cap = 1
    client = client_for()
    record = await client.get_check(CHECK)
    await client.update_check(body_of(record, Description="the day's one write"))
    error = await failing(client.update_check(body_of(record, Description="one too many")))
    assert error.kind == "rate_limited" and not error.retryable and error.daily_cap
    assert "daily write limit" in error.message and "00:00 UTC" in error.message
    assert sandbox.state.count("update") == 2 and sleeps.waits == [], "not retried"


@pytest.mark.parametrize("status", [409, 429])
async def test_daily_cap_through_the_tool(sandbox: Sandbox, status: int) -> None:
    sandbox.state.daily_write_cap = 0
    sandbox.state.daily_cap_status = status
    async with Client(server_for(sandbox), mode="legacy") as client:
        record = body(
            await client.call_tool("get_coworker_identity_check", {"Id": CHECK}), "get_coworker_identity_check"
        )
        result = await client.call_tool(
            "update_coworker_identity_check", {**required_from(record["Record"]), "Description": "x"}
        )
    out = body(result, "update_coworker_identity_check")
    assert out["ErrorKind"] == "rate_limited" and out["Retryable"] is False
    assert "RetryAfterSeconds" not in out and "daily" in out["Message"]
    assert "daily limit" in result.content[0].text.splitlines()[0]  # type: ignore[union-attr]


async def test_retry_after_shown_to_a_model_is_sane(sandbox: Sandbox) -> None:
    sandbox.state.inject(Fault("status", route="get", status=409, retry_after="80000", count=10))
    async with Client(server_for(sandbox, max_attempts=1), mode="legacy") as client:
        out = body(await client.call_tool("get_coworker_identity_check", {"Id": CHECK}), "get_coworker_identity_check")
    assert out["ErrorKind"] == "rate_limited" and out["RetryAfterSeconds"] == MAX_SHOWN_WAIT


# ------------------------------------------------------------------ transient 500s
@pytest.mark.parametrize("route", ["get", "update"])
async def test_a_burst_of_ooops_500s_is_ridden_out(client_for, sandbox: Sandbox, route: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for(max_attempts=4)
    record = await client.get_check(CHECK)
    sandbox.state.requests.clear()
    sandbox.state.inject(Fault("status", route=route, status=500, body=OOPS_TEXT, count=3))  # type: ignore[arg-type]
    await client.get_check(CHECK)
    await client.update_check(body_of(record, Description="after the burst"))
    assert [r.status for r in sandbox.state.requests if r.route == route] == [500, 500, 500, 200]
    assert sandbox.state.records[CHECK]["Description"] == "after the burst"


# ------------------------------------------------------------------ failure envelopes
@pytest.mark.parametrize("route", ["get", "search", "update"])
async def test_was_successful_false_is_a_failure_on_every_route(client_for, sandbox: Sandbox, route: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for()
    record = await client.get_check(CHECK)
    sandbox.state.inject(Fault("status", route=route, status=200, body={"WasSuccessful": False}))  # type: ignore[arg-type]
    call = {
        "get": lambda: client.get_check(CHECK),
        "search": lambda: client.search_checks(filters={"CoworkerIdentityCheck_Coworker": record["CoworkerId"]}),
        "update": lambda: client.update_check(body_of(record)),
    }[route]
    error = await failing(call())
    assert error.kind == "upstream_error" and error.status == 200


async def test_search_failure_envelope_is_not_zero_matches(sandbox: Sandbox) -> None:
    sandbox.state.inject(Fault("status", route="search", status=200, body={"WasSuccessful": False}))
    async with Client(server_for(sandbox), mode="legacy") as client:
        result = await client.call_tool("find_coworker_identity_checks", {"CoworkerId": 2003})
    assert result.is_error and result.structured_content is not None
    assert result.structured_content["ErrorKind"] == "upstream_error"


async def test_a_get_answered_400_does_not_speak_of_an_update(sandbox: Sandbox) -> None:
    sandbox.state.inject(Fault("status", route="get", status=400, body={"Message": "The request is invalid."}))
    async with Client(server_for(sandbox), mode="legacy") as client:
        out = body(await client.call_tool("get_coworker_identity_check", {"Id": CHECK}), "get_coworker_identity_check")
    assert out["ErrorKind"] == "validation" and "update" not in out["Message"]
    assert "rejected the read" in out["Message"]


# ------------------------------------------------------------------ answers too large
async def test_a_record_over_the_bound_in_process(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    huge = {**sandbox.state.record(CHECK), "Description": "d" * 3_000_000}
    sandbox.state.inject(Fault("status", route="get", status=200, body=huge))
    error = await failing(client_for().get_check(CHECK))
    assert error.kind == "upstream_error" and "too large" in error.message and not error.retryable


class Hostile:
    """A stand-in API on loopback that streams a 50 MB record, or a gzip body of ~300 KB that
    expands to 300 MB, counting what it sent."""

    RECORD = 50 * 1024 * 1024
    BOMB = 300

    def __init__(self) -> None:
        self.sent = 0
        self.bomb = _gzip_bomb(self.BOMB)
        self.app = Starlette(
            routes=[
                Route(RESOURCE_PATH + "/1", self._huge, methods=["GET"]),
                Route(RESOURCE_PATH + "/2", self._bomb, methods=["GET"]),
                Route(RESOURCE_PATH + "/3", self._declared, methods=["GET"]),
                Route(RESOURCE_PATH + "/4", self._bomb_401, methods=["GET"]),
                Route("/api/token", self._token, methods=["POST"]),
            ]
        )
        self.token_bomb = False

    async def _huge(self, request: Request) -> Response:
        chunk = b"x" * 65536

        async def stream() -> AsyncIterator[bytes]:
            yield b'{"Id": 1, "Description": "'
            while self.sent < self.RECORD:
                if self.sent % (16 * len(chunk)) == 0 and await request.is_disconnected():
                    return  # the client stopped reading and closed the connection
                self.sent += len(chunk)
                yield chunk
            yield b'"}'

        return StreamingResponse(stream(), media_type="application/json")

    async def _bomb(self, request: Request) -> Response:
        self.sent += len(self.bomb)
        return Response(self.bomb, media_type="application/json", headers={"Content-Encoding": "gzip"})

    async def _bomb_401(self, request: Request) -> Response:
        """A 401 that httpx itself reads before the auth flow's one retry."""
        return Response(self.bomb, status_code=401, headers={"Content-Encoding": "gzip"})

    async def _token(self, request: Request) -> Response:
        if self.token_bomb:
            return Response(self.bomb, media_type="application/json", headers={"Content-Encoding": "gzip"})
        return Response(b'{"access_token": "hostile-token", "expires_in": 3600}', media_type="application/json")

    async def _declared(self, request: Request) -> Response:
        return Response(b"{}", headers={"Content-Length": str(self.RECORD)})


def _gzip_bomb(megabytes: int) -> bytes:
    """A valid gzip body of a JSON record whose Description is `megabytes` MB of one letter: one
    compressed megabyte, repeated (full flushes make each segment stand alone)."""
    prefix, block, suffix = b'{"Id": 2, "Description": "', b"a" * (1 << 20), b'"}'
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = packer.compress(prefix) + packer.flush(zlib.Z_FULL_FLUSH)
    segment = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    tail = (packer.compress(suffix) + packer.flush())[:-8]
    crc = zlib.crc32(prefix)
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + megabytes * len(block) + len(suffix)
    return head + segment * megabytes + tail + struct.pack("<II", crc, size & 0xFFFFFFFF)


@pytest.mark.parametrize(
    ("check", "password"),
    [(1, False), (2, False), (3, False), (4, True), (0, True)],
    ids=["50MB-record", "gzip-300MB", "declared-too-long", "gzip-300MB-401-before-reauth", "gzip-300MB-token"],
)
@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_answers_over_the_bound_over_loopback(check: int, password: bool) -> None:
    hostile = Hostile()
    hostile.token_bomb = check == 0
    credentials = PASSWORD_MODE if password else {}
    with ServedApp(hostile.app) as served:
        async with NexudusClient(settings_for(served.url, max_attempts=1, **credentials)) as client:
            tracemalloc.start()
            try:
                error = await failing(client.get_check(check))
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert error.kind == "upstream_error" and "too large" in error.message
    assert peak < 32 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB while refusing the answer"
    if check == 1:
        assert hostile.sent < Hostile.RECORD // 2, f"the read stopped early ({hostile.sent / 1e6:.0f} MB sent)"


@pytest.mark.parametrize(
    ("text", "daily", "wait"),
    [
        ("You must wait before accessing this url again", False, 1.0),
        ("<html><body><h1>429</h1><p>Too many requests. Wait 5 seconds.</p></body></html>", False, 5.0),
        ('{"Message": "Daily API limit of 2,500 write requests exceeded. Resets at midnight UTC."}', True, None),
        ("You have reached the maximum number of requests per day (5000).", True, None),
        ("Rate limit: 60 requests per minute exceeded", False, None),
    ],
)
def test_throttle_text_is_read(text: str, daily: bool, wait: float | None) -> None:
    from nexudus_identity_mcp.nexudus.envelopes import Answer
    from nexudus_identity_mcp.nexudus.throttle import throttle_error

    error = throttle_error("update", Answer(429, httpx2.Headers(), text.encode()), lambda t: t)
    assert error.kind == "rate_limited" and error.daily_cap is daily and error.retryable is not daily
    assert error.retry_after == wait
    if daily:
        assert "daily write limit" in error.message and "do not retry" in error.message


async def test_a_command_whose_sign_in_failed_was_never_sent_so_it_is_retried(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    """A run is never sent twice once it may have reached the API; a failed token request before it
    means it did not, so the auth flow's error is marked unsent and the run goes ahead once."""
    sandbox.state.inject(Fault("status", route="token", status=503))
    client = client_for(**PASSWORD_MODE, max_attempts=3)
    await client.run_command("IDENTITYCHECK_MARK_AS_VERIFIED", [87654306], [])
    assert sandbox.state.count("run_command") == 1 and sandbox.state.count("token") == 2
