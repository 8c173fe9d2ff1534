"""The command tools (list and run the API's commands) and confirmation through the client
(elicitation), end to end through the SDK's in-memory client in both protocol eras, against the
sandbox's invented commands."""

from __future__ import annotations

from typing import Any, Literal

import mcp.types as types
import pytest
from mcp import Client

from nexudus_identity_mcp.sandbox import VIEWER_PASSWORD, VIEWER_USER, Fault, Sandbox
from nexudus_identity_mcp.sandbox.commands import COMMANDS
from nexudus_identity_mcp.tools.catalog import LIST_COMMANDS_TOOL, RUN_COMMAND_TOOL, UPDATE_TOOL

from .helpers import ERAS, body, server_for

pytestmark = pytest.mark.anyio
GRACE = 87654306  # Grace Okafor's residence permit, Cancelled in the seed
VERIFY = "IDENTITYCHECK_MARK_AS_VERIFIED"
REJECT = "IDENTITYCHECK_MARK_AS_REJECTED"
ONE_ONLY = "IDENTITYCHECK_REQUEST_NEW_DOCUMENT"


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return request.param


class Elicitations:
    """A client's elicitation handler that answers with `action` and records each question."""

    def __init__(
        self, action: Literal["accept", "decline", "cancel"] = "accept", content: dict[str, Any] | None = None
    ) -> None:
        self.action = action
        self.content = content
        self.questions: list[str] = []

    async def __call__(self, ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.questions.append(params.message)
        content = self.content if self.content is not None else ({"Confirm": True} if self.action == "accept" else None)
        return types.ElicitResult(action=self.action, content=content)


async def run(
    sandbox: Sandbox,
    era: str,
    arguments: dict[str, Any],
    *,
    elicit: Elicitations | None = None,
    tool: str = RUN_COMMAND_TOOL,
    **overrides: Any,
) -> tuple[bool, dict[str, Any]]:
    async with Client(server_for(sandbox, **overrides), mode=era, elicitation_callback=elicit) as client:
        result = await client.call_tool(tool, arguments)
    return bool(result.is_error), body(result, tool)


def runs(sandbox: Sandbox) -> int:
    return sandbox.state.count("run_command")


# ------------------------------------------------------------------ list
async def test_list_gives_every_command_with_its_shape(sandbox: Sandbox, era: str) -> None:
    is_error, out = await run(sandbox, era, {}, tool=LIST_COMMANDS_TOOL)
    assert not is_error, out
    assert [c["Key"] for c in out["Commands"]] == [c.key for c in sorted(COMMANDS, key=lambda c: c.order)]
    reject = next(c for c in out["Commands"] if c["Key"] == REJECT)
    assert reject["Name"] == "Mark as rejected" and reject["Parameters"] == [
        {"Name": "RejectionNotes", "Required": True, "Type": "String"}
    ]
    assert reject["Order"] == 2 and reject["DisplayInDropdown"] is True and reject["Icon"] == "fa-times"
    assert next(c for c in out["Commands"] if c["Key"] == ONE_ONLY)["OneIdOnly"] is True


async def test_list_is_cached_and_refresh_asks_again(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox), mode="legacy") as client:
        for arguments in ({}, {}, {"Refresh": True}):
            assert not (await client.call_tool(LIST_COMMANDS_TOOL, arguments)).is_error
    assert sandbox.state.count("commands") == 2


# ------------------------------------------------------------------ run
async def test_verify_without_elicitation_runs_and_shows_before_and_after(sandbox: Sandbox, era: str) -> None:
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE]})
    assert not is_error, out
    assert out["Confirmation"] == "client_cannot_ask" and out["DryRun"] is False
    [row] = out["Checks"]
    assert row["VerificationStatusBefore"] == "Cancelled" and row["VerificationStatus"] == "Successful"
    assert sandbox.state.records[GRACE]["VerificationStatus"] == 3 and runs(sandbox) == 1


async def test_dry_run_sends_nothing_and_asks_nothing(sandbox: Sandbox, era: str) -> None:
    asked = Elicitations("accept")
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE], "DryRun": True}, elicit=asked)
    assert not is_error and out["DryRun"] is True and "Grace Okafor" in out["Message"]
    assert runs(sandbox) == 0 and asked.questions == []


async def test_reject_with_notes_sets_last_error(sandbox: Sandbox, era: str) -> None:
    arguments = {"Key": REJECT, "Ids": [87654305], "Parameters": [{"Name": "RejectionNotes", "Value": "Photo blurred"}]}
    is_error, out = await run(sandbox, era, arguments)
    assert not is_error, out
    assert out["Checks"][0]["VerificationStatus"] == "Failed" and out["Checks"][0]["LastError"] == "Photo blurred"
    record = sandbox.state.records[87654305]
    assert record["LastError"] == "Photo blurred" and record["UpdatedOn"].startswith("20")


async def test_parameters_as_a_map_are_accepted(sandbox: Sandbox) -> None:
    is_error, out = await run(
        sandbox, "legacy", {"Key": REJECT, "Ids": [87654305], "Parameters": {"RejectionNotes": "x"}}
    )
    assert not is_error, out


async def test_audit_line_names_command_and_checks_never_parameters(
    sandbox: Sandbox, captured_logs: pytest.LogCaptureFixture
) -> None:
    notes = "Member's passport photo unreadable"
    await run(
        sandbox,
        "legacy",
        {"Key": REJECT, "Ids": [87654305], "Parameters": [{"Name": "RejectionNotes", "Value": notes}]},
    )
    lines = [r.getMessage() for r in captured_logs.records if r.name == "nexudus_identity_mcp.audit"]
    assert any(f"key={REJECT} checks=87654305 outcome=ran" in line for line in lines), lines
    assert not any(notes in r.getMessage() for r in captured_logs.records)


# ------------------------------------------------------------------ confirmation
async def test_confirm_accepted_runs_after_asking(sandbox: Sandbox, era: str) -> None:
    asked = Elicitations("accept")
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE]}, elicit=asked)
    assert not is_error and out["Confirmation"] == "user_accepted", out
    [question] = asked.questions
    assert "Mark as verified" in question and "87654306" in question and "Grace Okafor" in question
    assert "Residence permit" in question and "email" in question
    assert runs(sandbox) == 1


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_declined_or_cancelled_writes_nothing(
    sandbox: Sandbox, era: str, action: Literal["decline", "cancel"]
) -> None:
    asked = Elicitations(action)
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE]}, elicit=asked)
    assert is_error and out["ErrorKind"] == "declined" and not out["Retryable"]
    assert out["Confirmation"] == ("declined" if action == "decline" else "cancelled")
    assert runs(sandbox) == 0 and sandbox.state.records[GRACE]["VerificationStatus"] == 5


async def test_accept_with_the_box_unticked_is_a_decline(sandbox: Sandbox, era: str) -> None:
    is_error, out = await run(
        sandbox, era, {"Key": VERIFY, "Ids": [GRACE]}, elicit=Elicitations("accept", {"Confirm": False})
    )
    assert is_error and out["ErrorKind"] == "declined" and runs(sandbox) == 0


@pytest.mark.parametrize(
    ("mode", "ran", "kind"),
    [("auto", True, None), ("always", False, "confirmation_required"), ("never", True, None)],
)
async def test_client_without_elicitation_in_each_mode(
    sandbox: Sandbox, era: str, mode: str, ran: bool, kind: str | None
) -> None:
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE]}, mcp_confirm=mode)
    assert is_error is (not ran) and out.get("ErrorKind") == kind
    assert runs(sandbox) == (1 if ran else 0)


async def test_never_does_not_ask_a_client_that_could(sandbox: Sandbox, era: str) -> None:
    asked = Elicitations("decline")
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE]}, elicit=asked, mcp_confirm="never")
    assert not is_error and out["Confirmation"] == "not_asked" and asked.questions == []


async def test_always_asks_a_client_that_can(sandbox: Sandbox, era: str) -> None:
    is_error, out = await run(
        sandbox, era, {"Key": VERIFY, "Ids": [GRACE]}, elicit=Elicitations(), mcp_confirm="always"
    )
    assert not is_error and out["Confirmation"] == "user_accepted"


async def test_reassigning_update_is_confirmed_and_plain_update_is_not(sandbox: Sandbox, era: str) -> None:
    record = sandbox.state.record(87654301)
    required = {k: record[k] for k in ("Id", "BusinessId", "CoworkerId", "Name")}
    required.update(IdentityCheckProvider="Manual", IdentityDocumentType="Passport", AddressDocumentType="None")
    asked = Elicitations("decline")
    is_error, out = await run(sandbox, era, {**required, "Description": "x"}, elicit=asked, tool=UPDATE_TOOL)
    assert not is_error and asked.questions == []
    moved = {**required, "CoworkerId": 2002, "Reassign": True}
    is_error, out = await run(sandbox, era, moved, elicit=asked, tool=UPDATE_TOOL)
    if out.get("ErrorKind") == "validation":  # without the reassign option, the move itself is refused
        moved.pop("Reassign")
        is_error, out = await run(sandbox, era, moved, elicit=asked, tool=UPDATE_TOOL)
    assert is_error and out["ErrorKind"] == "declined", out
    assert asked.questions and "CoworkerId" in asked.questions[-1]
    assert sandbox.state.records[87654301]["CoworkerId"] == 2001


async def test_confirm_updates_setting_asks_before_every_update(sandbox: Sandbox, era: str) -> None:
    record = sandbox.state.record(87654301)
    arguments = {k: record[k] for k in ("Id", "BusinessId", "CoworkerId", "Name")}
    arguments.update(IdentityCheckProvider="Manual", IdentityDocumentType="Passport", AddressDocumentType="None")
    asked = Elicitations("decline")
    is_error, out = await run(
        sandbox, era, {**arguments, "Description": "x"}, elicit=asked, tool=UPDATE_TOOL, mcp_confirm_updates=True
    )
    assert is_error and out["ErrorKind"] == "declined" and sandbox.state.count("update") == 0


# ------------------------------------------------------------------ read-only
async def test_read_only_serves_the_list_only(sandbox: Sandbox, era: str) -> None:
    async with Client(server_for(sandbox, mcp_read_only=True), mode=era) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert LIST_COMMANDS_TOOL in names and RUN_COMMAND_TOOL not in names
        result = await client.call_tool(RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]})
        assert result.is_error and body(result, RUN_COMMAND_TOOL)["ErrorKind"] == "read_only"
        assert not (await client.call_tool(LIST_COMMANDS_TOOL, {})).is_error
    assert runs(sandbox) == 0


# ------------------------------------------------------------------ bad input and failure
async def test_unknown_key_lists_keys_with_the_closest_as_hint(sandbox: Sandbox, era: str) -> None:
    is_error, out = await run(sandbox, era, {"Key": "MARK_VERIFIED", "Ids": [GRACE]})
    assert is_error and out["ErrorKind"] == "validation" and runs(sandbox) == 0
    [error] = out["Errors"]
    assert error["PropertyName"] == "Key" and error["Hint"] == VERIFY and VERIFY in error["AllowedValues"]
    is_error, out = await run(sandbox, era, {"Key": "Mark as verified", "Ids": [GRACE]})
    assert out["Errors"][0]["Hint"] == VERIFY


async def test_unknown_key_refreshes_the_list_once(sandbox: Sandbox) -> None:
    sandbox.state.hidden_commands.add(VERIFY)
    async with Client(server_for(sandbox), mode="legacy") as client:
        assert not (await client.call_tool(LIST_COMMANDS_TOOL, {})).is_error
        sandbox.state.hidden_commands.clear()  # discovery missed it the first time
        result = await client.call_tool(RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]})
        assert not result.is_error, result.structured_content
    assert sandbox.state.count("commands") == 2 and runs(sandbox) == 1


async def test_wrong_parameter_names_and_types(sandbox: Sandbox, era: str) -> None:
    arguments = {"Key": REJECT, "Ids": [87654305], "Parameters": [{"Name": "RejectionNote", "Value": "x"}]}
    is_error, out = await run(sandbox, era, arguments)
    assert is_error and out["ErrorKind"] == "validation"
    by_name = {e["PropertyName"]: e for e in out["Errors"]}
    assert by_name["RejectionNote"]["Hint"] == "RejectionNotes" and "RejectionNotes" in by_name
    arguments = {"Key": REJECT, "Ids": [87654305], "Parameters": [{"Name": "RejectionNotes", "Value": {"a": 1}}]}
    is_error, out = await run(sandbox, era, arguments)
    assert is_error and out["Errors"][0]["PropertyName"] == "RejectionNotes" and "text" in out["Errors"][0]["Message"]
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": ["abc"], "Bogus": 1})
    assert {e["PropertyName"] for e in out["Errors"]} == {"Ids", "Bogus"}
    assert runs(sandbox) == 0


async def test_one_entity_command_given_several_ids(sandbox: Sandbox, era: str) -> None:
    is_error, out = await run(sandbox, era, {"Key": ONE_ONLY, "Ids": [GRACE, 87654305]})
    assert (
        is_error and out["Errors"][0]["PropertyName"] == "Ids" and "one check at a time" in out["Errors"][0]["Message"]
    )
    assert runs(sandbox) == 0


async def test_ids_that_do_not_exist(sandbox: Sandbox, era: str) -> None:
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE, 5]})
    assert is_error and out["ErrorKind"] == "not_found" and "5" in out["Message"]
    assert runs(sandbox) == 0 and sandbox.state.records[GRACE]["VerificationStatus"] == 5


async def test_role_forbids_running_says_which_role(sandbox: Sandbox, era: str) -> None:
    creds = {"token": None, "username": VIEWER_USER, "password": VIEWER_PASSWORD}
    is_error, out = await run(sandbox, era, {}, tool=LIST_COMMANDS_TOOL, **creds)
    assert not is_error
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE]}, **creds)
    assert is_error and out["ErrorKind"] == "unauthorized" and "CoworkerIdentityCheck-Edit" in out["Message"]


async def test_throttled_run_is_not_retried_and_says_when(sandbox: Sandbox, era: str) -> None:
    sandbox.state.inject(Fault("status", route="run_command", status=409, body="You must wait", retry_after="2"))
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE]})
    assert is_error and out["ErrorKind"] == "rate_limited" and out["Retryable"] and out["RetryAfterSeconds"] == 2
    assert runs(sandbox) == 1 and sandbox.state.records[GRACE]["VerificationStatus"] == 5


async def test_write_rate_limit_counts_commands(sandbox: Sandbox) -> None:
    sandbox.state.write_limit = 0
    is_error, out = await run(sandbox, "legacy", {"Key": VERIFY, "Ids": [GRACE]})
    assert is_error and out["ErrorKind"] == "rate_limited"


@pytest.mark.parametrize("fault", [{"kind": "drop"}, {"kind": "status", "status": 502}, {"kind": "malformed"}])
async def test_failure_after_sending_is_never_retried_and_rereads(
    sandbox: Sandbox, era: str, fault: dict[str, Any]
) -> None:
    sandbox.state.inject(Fault(route="run_command", **fault))
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE]})
    assert is_error and out["OutcomeUnknown"] is True and out["Retryable"] is False
    assert "unknown" in out["Message"] and out["Checks"][0]["VerificationStatus"] == "Cancelled"
    assert runs(sandbox) == 1  # sent once, never again


async def test_connect_failure_before_sending_is_retried(sandbox: Sandbox) -> None:
    """Only a request that surely never left may be sent again: a refused connection."""
    import httpx2

    from nexudus_identity_mcp.mcpserver.app import build_server

    from .conftest import settings_for

    inner = sandbox.transport()
    refused = {"left": 1}

    class Flaky(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if request.url.path.endswith("/runcommand") and refused["left"]:
                refused["left"] -= 1
                raise httpx2.ConnectError("refused", request=request)
            return await inner.handle_async_request(request)

    server = build_server(settings_for(backoff_base=0.0), transport=Flaky())
    async with Client(server, mode="legacy") as client:
        result = await client.call_tool(RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]})
    assert not result.is_error, result.structured_content
    assert runs(sandbox) == 1 and refused["left"] == 0


async def test_200_with_was_successful_false_is_a_failure(sandbox: Sandbox, era: str) -> None:
    sandbox.state.inject(
        Fault("status", route="run_command", status=200, body={"WasSuccessful": False, "Message": "Already verified."})
    )
    is_error, out = await run(sandbox, era, {"Key": VERIFY, "Ids": [GRACE]})
    assert is_error and out["ErrorKind"] == "upstream_error" and "Already verified." in out["Message"]
    assert "OutcomeUnknown" not in out


# ------------------------------------------------------------------ over streamable HTTP
@pytest.mark.parametrize("era", ERAS)
async def test_over_stateless_http(sandbox: Sandbox, era: str) -> None:
    """2026-07-28 asks through `input_required`; the handshake era over stateless HTTP has no channel
    for a server-to-client request, so it behaves as a client that cannot ask (auto: it runs)."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from nexudus_identity_mcp.mcpserver.http_app import create_app
    from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp

    from .conftest import settings_for

    app = create_app(
        settings_for(mcp_client_tokens="desk=desk-token-5f2a9c1e7b3d"), transport=sandbox.transport(), host=LOOPBACK
    )
    asked = Elicitations("decline")
    with ServedApp(app, lifespan="auto") as served:
        http = httpx2.AsyncClient(headers={"Authorization": "Bearer desk-token-5f2a9c1e7b3d"}, timeout=30)
        transport = streamable_http_client(f"http://{LOOPBACK}:{served.port}/mcp", http_client=http)
        async with Client(
            transport, mode="legacy" if era == "legacy" else "auto", elicitation_callback=asked
        ) as client:
            result = await client.call_tool(RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]})
    out = body(result, RUN_COMMAND_TOOL)
    if era == "legacy":
        assert not result.is_error and out["Confirmation"] == "client_cannot_ask" and asked.questions == []
        assert runs(sandbox) == 1
    else:
        assert result.is_error and out["ErrorKind"] == "declined" and len(asked.questions) == 1
        assert runs(sandbox) == 0


async def test_client_answering_the_question_with_an_error_writes_nothing(sandbox: Sandbox) -> None:
    async def broken(context: Any, params: types.ElicitRequestParams) -> types.ErrorData:
        return types.ErrorData(code=-32603, message="no UI")

    async with Client(server_for(sandbox), mode="legacy", elicitation_callback=broken) as client:
        result = await client.call_tool(RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]})
    out = body(result, RUN_COMMAND_TOOL)
    assert result.is_error and out["ErrorKind"] == "confirmation_required" and runs(sandbox) == 0


async def test_answer_to_another_question_is_not_taken(sandbox: Sandbox) -> None:
    """2026-07-28: an answer counts only with the state of the question it answered."""
    async with Client(server_for(sandbox), mode="2026-07-28", elicitation_callback=Elicitations()) as client:
        accepted = types.ElicitResult(action="accept", content={"Confirm": True})
        first = await client.session.call_tool(
            RUN_COMMAND_TOOL,
            {"Key": VERIFY, "Ids": [GRACE]},
            input_responses={"confirm": accepted},
            request_state="confirm-v1:not-this-question",
            allow_input_required=True,
        )
    assert isinstance(first, types.InputRequiredResult) and runs(sandbox) == 0
