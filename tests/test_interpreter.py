"""Issue #31 item 3 with #24 item 3: one reading of every answer. An envelope whose Status is 400 or
more is a failure on every route, whatever WasSuccessful says (live accounts answer some business
failures 200 with `{"Status": 500, …}`); an HTML 5xx is retried like any 5xx and reaches the model
only as a short plain-text excerpt."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.nexudus import ErrorKind, NexudusError
from nexudus_identity_mcp.record.fields import SENT_FIELDS
from nexudus_identity_mcp.record.operations import OPERATIONS
from nexudus_identity_mcp.sandbox import Fault, Sandbox
from nexudus_identity_mcp.tools.catalog import GET_TOOL, UPDATE_TOOL

from .helpers import CHECK, body, required_from, server_for

pytestmark = pytest.mark.anyio
STATUS_500 = {"WasSuccessful": True, "Status": 500, "Message": "Object reference not set to an instance of an object."}
ROUTES = ["get", "search", "update", "commands", "run_command"]


@pytest.mark.parametrize("route", ROUTES)
async def test_a_200_whose_envelope_says_status_500_is_a_failure_on_every_route(
    client_for: Any, sandbox: Sandbox, route: str
) -> None:
    client = client_for()
    record = await client.get_check(CHECK)
    sent = sandbox.state.count(route)
    sandbox.state.inject(Fault("status", route=route, status=200, body={**STATUS_500, "Id": CHECK}))
    call = {
        "get": lambda: client.get_check(CHECK),
        "search": lambda: client.search_checks(filters={"CoworkerIdentityCheck_Coworker": record["CoworkerId"]}),
        "update": lambda: client.update_check({f.name: record.get(f.name) for f in SENT_FIELDS}),
        "commands": lambda: client.list_commands(),
        "run_command": lambda: client.run_command("IDENTITYCHECK_MARK_AS_VERIFIED", [CHECK], []),
    }[route]
    with pytest.raises(NexudusError) as caught:
        await call()
    error = caught.value
    assert error.kind == ErrorKind.UPSTREAM_ERROR and error.status == 200 and error.operation == route
    assert "Status 500" in error.message and not error.retryable
    assert sandbox.state.count(route) == sent + 1  # a business failure is not retried


async def test_an_update_answered_200_with_status_500_is_not_reported_as_updated(sandbox: Sandbox) -> None:
    before = sandbox.state.record(CHECK)
    sandbox.state.inject(Fault("status", route="update", status=200, body={**STATUS_500, "Errors": []}))
    async with Client(server_for(sandbox)) as client:
        result = await client.call_tool(UPDATE_TOOL, {**required_from(before), "Description": "new text"})
    out = body(result, UPDATE_TOOL)
    assert result.is_error and out["ErrorKind"] == "upstream_error" and "Updated" not in out["Message"]


async def test_an_html_502_is_retried_and_never_shown_as_markup(sandbox: Sandbox) -> None:
    sandbox.state.inject(Fault("html", route="get", status=502, count=10))
    async with Client(server_for(sandbox, max_attempts=3)) as client:
        result = await client.call_tool(GET_TOOL, {"Id": CHECK})
    out = body(result, GET_TOOL)
    assert result.is_error and out["ErrorKind"] == "upstream_unavailable" and out["Retryable"] is True
    assert sandbox.state.count("get") == 3
    text = result.content[0].text  # type: ignore[union-attr]
    assert "<" not in text and "Bad Gateway" in out["Message"]


def test_one_table_says_what_each_operation_is() -> None:
    assert {name for name, op in OPERATIONS.items() if op.writes} == {"update", "run_command"}
    assert [name for name, op in OPERATIONS.items() if not op.idempotent] == ["run_command"]
    assert all(op.role for name, op in OPERATIONS.items() if name != "token")
