"""The API client against the sandbox: auth modes, token caching and refresh, every error kind,
retries and their bounds, timeouts, and that nothing secret reaches a log line. In-process through
the sandbox's ASGI transport, and over real loopback HTTP (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from nexudus_identity_mcp.nexudus import NexudusClient, NexudusError, parse_retry_after
from nexudus_identity_mcp.record.fields import SENT_FIELDS
from nexudus_identity_mcp.sandbox import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    SANDBOX_TOKEN,
    VIEWER_PASSWORD,
    VIEWER_USER,
    Fault,
    Sandbox,
)
from nexudus_identity_mcp.sandbox.data import seed_document_numbers
from nexudus_identity_mcp.settings import Settings

from .conftest import ServedSandbox, Sleeps, settings_for

pytestmark = pytest.mark.anyio
CHECK = 87654301

AUTH_MODES: dict[str, dict[str, Any]] = {
    "bearer": {"token": SANDBOX_TOKEN},
    "password": {"token": None, "username": ADMIN_USER, "password": ADMIN_PASSWORD},
    "basic": {"token": None, "username": ADMIN_USER, "password": ADMIN_PASSWORD, "auth": "basic"},
}


def body_of(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {f.name: record.get(f.name) for f in SENT_FIELDS}
    body.update(changes)
    return body


async def roundtrip(client: NexudusClient) -> None:
    record = await client.get_check(CHECK)
    page = await client.search_checks(filters={"CoworkerIdentityCheck_Coworker": record["CoworkerId"]})
    assert CHECK in [r["Id"] for r in page.records]
    envelope = await client.update_check(body_of(record, Description="Seen again"))
    assert envelope["WasSuccessful"] is True and envelope["Value"] == {"Id": CHECK}


@pytest.mark.parametrize("mode", list(AUTH_MODES))
async def test_each_auth_mode_in_process(client_for, sandbox: Sandbox, mode: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for(**AUTH_MODES[mode])
    await roundtrip(client)
    schemes = {r.auth for r in sandbox.state.requests if r.route != "token"}
    assert schemes == {"basic" if mode == "basic" else "bearer"}


@pytest.mark.parametrize("mode", list(AUTH_MODES))
async def test_each_auth_mode_over_loopback_http(served_sandbox: ServedSandbox, mode: str) -> None:
    async with NexudusClient(settings_for(served_sandbox.url, **AUTH_MODES[mode])) as client:
        await roundtrip(client)
    assert served_sandbox.sandbox.state.count("update") == 1


async def test_one_token_request_for_many_calls(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for(**AUTH_MODES["password"])
    for _ in range(20):
        await client.get_check(CHECK)
    assert client.token_requests == 1
    assert sandbox.state.count("token") == 1


async def test_concurrent_first_calls_share_one_token(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    import anyio

    client = client_for(**AUTH_MODES["password"])
    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(client.get_check, CHECK)
    assert sandbox.state.count("token") == 1


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_expired_token_is_refreshed_with_the_refresh_token(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    import anyio

    sandbox.state.token_lifetime = 1  # the client treats it as stale after 0.9 s
    client = client_for(**AUTH_MODES["password"])
    await client.get_check(CHECK)
    await anyio.sleep(1.0)
    await client.get_check(CHECK)
    grants = [r.grant for r in sandbox.state.requests if r.route == "token"]
    assert grants[:2] == ["password", "refresh_token"]


async def test_401_triggers_exactly_one_reauthentication(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for(**AUTH_MODES["password"])
    await client.get_check(CHECK)
    sandbox.state.forget_tokens(refresh=False)  # the server forgets the token: next call gets 401
    await client.get_check(CHECK)
    assert sandbox.state.count("token") == 2
    assert [r.status for r in sandbox.state.requests if r.route == "get"] == [200, 401, 200]


async def test_missing_role_is_unauthorized_naming_the_role_without_a_loop(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for(token=None, username=VIEWER_USER, password=VIEWER_PASSWORD)
    record = await client.get_check(CHECK)
    with pytest.raises(NexudusError) as caught:
        await client.update_check(body_of(record))
    assert caught.value.kind == "unauthorized" and not caught.value.retryable
    assert "CoworkerIdentityCheck-Edit" in caught.value.message
    assert sandbox.state.count("update") == 2, "one re-authentication, then give up"


async def test_wrong_password_is_unauthorized(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for(token=None, username=ADMIN_USER, password="not-the-password")
    with pytest.raises(NexudusError) as caught:
        await client.get_check(CHECK)
    assert caught.value.kind == "unauthorized"
    assert "invalid_grant" in caught.value.message
    assert sandbox.state.count("get") == 0


async def test_bad_bearer_token_is_unauthorized(client_for) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NexudusError) as caught:
        await client_for(token="expired-token").get_check(CHECK)
    assert caught.value.kind == "unauthorized" and caught.value.status == 401


async def test_not_found(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for()
    with pytest.raises(NexudusError) as caught:
        await client.get_check(1)
    assert caught.value.kind == "not_found"
    record = await client.get_check(CHECK)
    with pytest.raises(NexudusError) as caught:
        await client.update_check(body_of(record, Id=1))
    assert caught.value.kind == "not_found"


async def test_empty_get_is_not_found(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("status", route="get", status=200, body=None))
    with pytest.raises(NexudusError) as caught:
        await client_for().get_check(CHECK)
    assert caught.value.kind == "not_found"


async def test_validation_errors_come_back_field_by_field(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for()
    record = await client.get_check(CHECK)
    with pytest.raises(NexudusError) as caught:
        await client.update_check(body_of(record, Name=None, IdentityDocumentType=42))
    error = caught.value
    assert error.kind == "validation" and error.status == 400
    assert {e["PropertyName"] for e in error.errors} == {"Name", "IdentityDocumentType"}
    assert all(set(e) == {"PropertyName", "Message", "AttemptedValue"} for e in error.errors)


async def test_200_envelope_with_errors_is_a_failure(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for()
    record = await client.get_check(CHECK)
    sandbox.state.inject(Fault("envelope_errors", route="update"))
    with pytest.raises(NexudusError) as caught:
        await client.update_check(body_of(record))
    assert caught.value.kind == "validation" and caught.value.status == 200


async def test_200_envelope_without_success_is_a_failure(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for()
    record = await client.get_check(CHECK)
    sandbox.state.inject(
        Fault(
            "status",
            route="update",
            status=200,
            body={"Status": 200, "Message": "Not saved", "WasSuccessful": False, "Errors": None},
        )
    )
    with pytest.raises(NexudusError) as caught:
        await client.update_check(body_of(record))
    assert caught.value.kind == "upstream_error" and caught.value.message == "Not saved"


async def test_409_throttle_honours_retry_after(client_for, sandbox: Sandbox, sleeps: Sleeps) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(
        Fault("status", route="get", status=409, retry_after="2", body="You must wait before accessing this url again")
    )
    await client_for().get_check(CHECK)
    assert sleeps.waits == [2.0]
    assert [r.status for r in sandbox.state.requests] == [409, 200]


async def test_409_without_retry_after_waits_one_second(client_for, sandbox: Sandbox, sleeps: Sleeps) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("status", route="get", status=409))
    await client_for().get_check(CHECK)
    assert sleeps.waits == [1.0]


async def test_retry_after_is_capped(client_for, sandbox: Sandbox, sleeps: Sleeps) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("status", route="get", status=429, retry_after="3600"))
    await client_for(max_retry_after=5).get_check(CHECK)
    assert sleeps.waits == [5.0]


async def test_real_throttle_on_writes_is_retried(client_for, sandbox: Sandbox, sleeps: Sleeps) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.write_limit = 1
    client = client_for()
    record = await client.get_check(CHECK)
    await client.update_check(body_of(record))
    sandbox.state.write_window = 0  # the window passes while the client waits
    await client.update_check(body_of(record))
    assert sleeps.waits == [] or sleeps.waits == [1.0]


async def test_persistent_throttle_ends_rate_limited(client_for, sandbox: Sandbox, sleeps: Sleeps) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("status", route="get", status=409, retry_after="1", count=10))
    with pytest.raises(NexudusError) as caught:
        await client_for(max_attempts=3).get_check(CHECK)
    assert caught.value.kind == "rate_limited" and caught.value.retryable
    assert caught.value.retry_after == 1.0
    assert sandbox.state.count("get") == 3 and len(sleeps.waits) == 2


async def test_503_is_retried_with_jittered_exponential_backoff(client_for, sandbox: Sandbox, sleeps: Sleeps) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("status", route="get", status=503, count=3))
    await client_for(max_attempts=4, backoff_base=0.5).get_check(CHECK)
    assert len(sleeps.waits) == 3
    for n, wait in enumerate(sleeps.waits):
        assert 0 <= wait <= 0.5 * 2**n
    assert sandbox.state.count("get") == 4


async def test_attempts_are_bounded(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("status", route="update", status=503, count=100))
    client = client_for(max_attempts=4)
    record = await client.get_check(CHECK)
    with pytest.raises(NexudusError) as caught:
        await client.update_check(body_of(record))
    assert caught.value.kind == "upstream_unavailable" and caught.value.retryable
    assert sandbox.state.count("update") == 4


async def test_persistent_500_is_retried_within_the_attempt_bound(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("status", route="get", status=500, count=5))
    with pytest.raises(NexudusError) as caught:
        await client_for(max_attempts=3).get_check(CHECK)
    assert caught.value.kind == "upstream_unavailable" and caught.value.retryable
    assert sandbox.state.count("get") == 3


async def test_html_502_page_becomes_a_short_plain_excerpt(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("html", route="get", status=502, count=10))
    with pytest.raises(NexudusError) as caught:
        await client_for(max_attempts=2).get_check(CHECK)
    error = caught.value
    assert error.kind == "upstream_unavailable" and error.status == 502
    assert error.excerpt and "<" not in error.excerpt and "Bad Gateway" in error.excerpt
    assert len(error.excerpt) <= 300


async def test_html_with_200_is_an_upstream_error(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("html", route="get", status=200))
    with pytest.raises(NexudusError) as caught:
        await client_for().get_check(CHECK)
    assert caught.value.kind == "upstream_error" and "Bad Gateway" in (caught.value.excerpt or "")


async def test_malformed_json_is_an_upstream_error(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    client = client_for()
    record = await client.get_check(CHECK)
    sandbox.state.inject(Fault("malformed", route="update"))
    with pytest.raises(NexudusError) as caught:
        await client.update_check(body_of(record))
    assert caught.value.kind == "upstream_error"


async def test_dropped_connection_is_retried(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("drop", route="get"))
    await client_for().get_check(CHECK)
    assert sandbox.state.count("get") == 2


async def test_dropped_connection_over_loopback(served_sandbox: ServedSandbox) -> None:
    served_sandbox.sandbox.state.inject(Fault("drop", route="get", count=10))
    async with NexudusClient(settings_for(served_sandbox.url, max_attempts=2, backoff_base=0)) as client:
        with pytest.raises(NexudusError) as caught:
            await client.get_check(CHECK)
    assert caught.value.kind == "upstream_unavailable" and caught.value.retryable


async def test_slow_answer_times_out_in_process(client_for, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.state.inject(Fault("delay", route="get", delay=5))
    with pytest.raises(NexudusError) as caught:
        await client_for(read_timeout=0.2, connect_timeout=0.1).get_check(CHECK)
    assert caught.value.kind == "upstream_unavailable" and "in time" in caught.value.message


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_slow_answer_times_out_over_loopback(served_sandbox: ServedSandbox) -> None:
    served_sandbox.sandbox.state.inject(Fault("delay", route="get", delay=3))
    async with NexudusClient(settings_for(served_sandbox.url, read_timeout=0.3)) as client:
        with pytest.raises(NexudusError) as caught:
            await client.get_check(CHECK)
    assert caught.value.kind == "upstream_unavailable"
    assert served_sandbox.sandbox.state.count("get") == 1, "a read timeout is not retried"


async def test_not_configured_needs_no_network() -> None:
    async with NexudusClient(Settings(_env_file=None)) as client:  # type: ignore[call-arg]
        with pytest.raises(NexudusError) as caught:
            await client.get_check(CHECK)
    assert caught.value.kind == "not_configured"
    assert "NEXUDUS_TOKEN" in caught.value.message


@pytest.mark.parametrize("url", ["http://spaces.nexudus.com", "ftp://127.0.0.1", "http://10.0.0.5:8080"])
def test_plain_http_is_refused_unless_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="NEXUDUS_BASE_URL"):
        Settings(_env_file=None, base_url=url)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:9000", "http://[::1]:80", "https://spaces.nexudus.com/"]
)
def test_https_and_loopback_are_accepted(url: str) -> None:
    assert Settings(_env_file=None, base_url=url).base_url == url.rstrip("/")  # type: ignore[call-arg]


def test_settings_never_show_secrets() -> None:
    settings = Settings(_env_file=None, token="tok-visible-nowhere", username="u", password="pw-visible-nowhere")  # type: ignore[call-arg]
    assert "visible-nowhere" not in repr(settings) and "visible-nowhere" not in str(settings)


def test_parse_retry_after() -> None:
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


async def test_no_secret_in_any_log_line(
    sandbox: Sandbox, sleeps: Sleeps, captured_logs: pytest.LogCaptureFixture
) -> None:
    """Drive every path with password auth and bearer auth; no secret may appear in any log."""
    password = "Pw-7f3a-SECRET-do-not-log"
    token = "Tok-91c2-SECRET-do-not-log"
    sandbox.state.users[ADMIN_USER].password = password
    logging.getLogger().setLevel(logging.DEBUG)
    for name in ("httpx2", "httpcore2", "nexudus_identity_mcp"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    clients = [
        NexudusClient(
            settings_for(token=None, username=ADMIN_USER, password=password),
            transport=sandbox.transport(),
            sleep=sleeps,
        ),
        NexudusClient(settings_for(token=token), transport=sandbox.transport(), sleep=sleeps),
        NexudusClient(
            settings_for(token=None, username=ADMIN_USER, password=password, auth="basic"),
            transport=sandbox.transport(),
            sleep=sleeps,
        ),
    ]
    issued: list[str] = []
    for client in clients:
        for fault in (
            Fault("status", status=503),
            Fault("status", status=409),
            Fault("drop"),
            Fault("envelope_errors", route="update"),
            Fault("html", status=502),
        ):
            sandbox.state.inject(fault)
            try:
                record = await client.get_check(CHECK)
                await client.update_check(body_of(record))
            except NexudusError as error:
                assert password not in str(error) and token not in str(error)
        issued.extend(sandbox.state.issued())
        await client.aclose()
    text = "\n".join(r.getMessage() + " " + str(r.args) for r in captured_logs.records)
    assert captured_logs.records, "the client logs what it does"
    for secret in [password, token, *issued, *seed_document_numbers()]:
        assert secret not in text
    assert "authorization" not in text.lower()
