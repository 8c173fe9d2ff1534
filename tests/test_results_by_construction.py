"""Every tool result matches its tool's outputSchema as it leaves, with nothing fitted on the way out
(issue #31 item 1). The values Nexudus sends are fitted to their declared types where they enter a
result (tools/shape.py `as_declared`: a record, a find row, a member row, a change, an API error
list, a command's check row, an envelope's field, a journal entry), and the final redaction pass
keeps each value's declared type; the keys the server builds itself are right by construction.

The sandbox's answers are rewritten as a misbehaving API might send them: every record field, member
field, paging fact, command-list field and envelope field missing, null, NaN or of another type,
unknown keys, error lists whose PropertyName or Message is a number, and a document number equal to
the check's own Id or its member's. Every tool is called on them through `mcp.Client` (which validates
structuredContent itself, and raises) and each result is checked with jsonschema. Leaving out any of
the entry fits (say, the record's in `ToolBase.present`) fails this test.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from nexudus_identity_mcp.mcpserver.app import build_server
from nexudus_identity_mcp.record.fields import COWORKERS_PATH, RECORD_FIELD_NAMES, RESOURCE_PATH
from nexudus_identity_mcp.record.members import MEMBER_FIELDS
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.sandbox.commands import COMMANDS
from nexudus_identity_mcp.tools.catalog import (
    COMPARE_NUMBER_TOOL,
    FIND_MEMBERS_TOOL,
    FIND_TOOL,
    GET_TOOL,
    LIST_CHANGES_TOOL,
    LIST_COMMANDS_TOOL,
    RUN_COMMAND_TOOL,
    UNDO_TOOL,
    UPDATE_TOOL,
)
from nexudus_identity_mcp.tools.shape import finish

from .conftest import settings_for
from .helpers import CHECK, OUTPUT_SCHEMAS, required_from
from .test_odd_envelopes import odd_scalars, odd_values

Rewrite = Callable[[str, int, Any], tuple[int, Any] | None]
MEMBER = 2001
KEY = COMMANDS[0].key


def route_of(request: httpx2.Request) -> str | None:
    """The API operation a request is (as the sandbox names them), or None (the token exchange)."""
    path, method = request.url.path, request.method
    if path == RESOURCE_PATH:
        return "search" if method == "GET" else "update"
    if path == f"{RESOURCE_PATH}/commands":
        return "commands"
    if path == f"{RESOURCE_PATH}/runcommand":
        return "run_command"
    if path.startswith(f"{RESOURCE_PATH}/"):
        return "get"
    if path == COWORKERS_PATH:
        return "coworker_search"
    if path.startswith(f"{COWORKERS_PATH}/"):
        return "coworker_get"
    return None


class Hostile(httpx2.AsyncBaseTransport):
    """The sandbox, each JSON answer passed through `rewrite(route, status, body)`: a new (status,
    body) sent in its place as a misbehaving API might (NaN and Infinity included), or None to keep it."""

    def __init__(self, sandbox: Sandbox, rewrite: Rewrite) -> None:
        self.inner = sandbox.transport()
        self.rewrite = rewrite

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        route = route_of(request)
        if route is None:
            return response
        await response.aread()
        try:
            body = json.loads(response.content)
        except ValueError:
            return response
        changed = self.rewrite(route, response.status_code, body)
        if changed is None:
            return response
        status, new = changed
        content = json.dumps(new, allow_nan=True).encode()
        return httpx2.Response(status, content=content, headers={"Content-Type": "application/json"})


odd_field_values = st.one_of(odd_values, st.just("87654301"), st.just("abc"), st.just(2.5))
odd_errors = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "PropertyName": st.one_of(odd_scalars, st.sampled_from(["Description", "IdentityDocumentNumber"])),
                "Message": odd_values,
                "AttemptedValue": odd_values,
                "AllowedValues": odd_values,
                "Hint": odd_values,
            },
        ),
        odd_scalars,
    ),
    max_size=3,
)


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    """What the API gets wrong in one run: values laid over records, members, paging and commands, the
    envelopes of the PUT and the command run (or a failure with an odd error list), and which Id
    the check's document number repeats."""
    return {
        "record": draw(st.dictionaries(st.sampled_from(RECORD_FIELD_NAMES), odd_field_values, max_size=6)),
        "extra": draw(st.dictionaries(st.text(max_size=10), odd_scalars, max_size=2)),
        "member": draw(st.dictionaries(st.sampled_from([f.name for f in MEMBER_FIELDS]), odd_field_values, max_size=4)),
        "paging": draw(
            st.dictionaries(
                st.sampled_from(["TotalItems", "TotalPages", "CurrentPage", "CurrentPageSize", "HasNextPage"]),
                odd_scalars,
                max_size=3,
            )
        ),
        "command": draw(
            st.dictionaries(
                st.sampled_from(["Name", "Order", "DisplayInDropdown", "Icon", "RequiresParameters", "Extra"]),
                odd_values,
                max_size=3,
            )
        ),
        "envelope": draw(
            st.dictionaries(
                st.sampled_from(["Value", "UpdatedOn", "UpdatedBy", "Message", "Status", "OpenInDialog"]),
                odd_values.filter(lambda v: not (isinstance(v, int) and not isinstance(v, bool) and v >= 400)),
                max_size=4,
            )
        ),
        "failure": draw(st.one_of(st.none(), st.tuples(st.sampled_from([200, 400, 409, 422]), odd_errors))),
        "number_is": draw(st.sampled_from([None, "Id", "CoworkerId", "BusinessId"])),
    }


def rewrite_for(plan: dict[str, Any]) -> Rewrite:
    def record(r: Any) -> Any:
        return {**r, **plan["record"], **plan["extra"]} if isinstance(r, dict) else r

    def member(m: Any) -> Any:
        return {**m, **plan["member"]} if isinstance(m, dict) else m

    def rewrite(route: str, status: int, body: Any) -> tuple[int, Any] | None:
        if status >= 400:
            return None
        if route == "get":
            return status, record(body)
        if route == "search":
            return status, {**body, "Records": [record(r) for r in body.get("Records", [])], **plan["paging"]}
        if route == "coworker_get":
            return status, member(body)
        if route == "coworker_search":
            return status, {**body, "Records": [member(m) for m in body.get("Records", [])], **plan["paging"]}
        if route == "commands" and isinstance(body, list):
            return status, [{**c, **plan["command"], "Key": c.get("Key")} for c in body]
        if route in ("update", "run_command"):
            if plan["failure"] is not None:
                code, errors = plan["failure"]
                return code, {"WasSuccessful": False, "Message": "Rejected.", "Errors": errors}
            return status, {**body, **plan["envelope"], "WasSuccessful": True}
        return None

    return rewrite


def calls(sandbox: Sandbox) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The calls of each case, in order (a later call may depend on what an earlier one wrote)."""
    update = {**required_from(sandbox.state.record(CHECK)), "Description": "Written."}
    reassign = {**update, "CoworkerId": 2002, "Reassign": True}
    return {
        "reads": [
            (GET_TOOL, {"Id": CHECK}),
            (FIND_TOOL, {}),
            (FIND_TOOL, {"CoworkerFullName": "Ana"}),
            (FIND_MEMBERS_TOOL, {"FullName": "Grace"}),
            (COMPARE_NUMBER_TOOL, {"Id": CHECK, "IdentityDocumentNumber": "CB7734129"}),
        ],
        "update": [
            (UPDATE_TOOL, {**update, "DryRun": True}),
            (UPDATE_TOOL, update),
            (UPDATE_TOOL, {**update, "ExpectedUpdatedOn": "2020-01-01T00:00:00Z"}),
            (UPDATE_TOOL, {"Id": CHECK, "Description": "Missing the required fields."}),
            (UPDATE_TOOL, reassign),
            (LIST_CHANGES_TOOL, {}),
            (UNDO_TOOL, {"EntryId": 1, "DryRun": True}),
            (UNDO_TOOL, {"EntryId": 1}),
        ],
        "commands": [
            (LIST_COMMANDS_TOOL, {}),
            (LIST_COMMANDS_TOOL, {"Id": CHECK}),
            (RUN_COMMAND_TOOL, {"Key": KEY, "Ids": [CHECK], "DryRun": True}),
            (RUN_COMMAND_TOOL, {"Key": KEY, "Ids": [CHECK]}),
            (LIST_CHANGES_TOOL, {"CheckId": CHECK}),
        ],
    }


def run_case(case: str, plan: dict[str, Any]) -> list[dict[str, Any]]:
    sandbox = Sandbox()
    if plan["number_is"] is not None:  # a field's name (its value is the number) or "=text" (the number)
        held = sandbox.state.records[CHECK]
        said = plan["number_is"]
        held["IdentityDocumentNumber"] = said[1:] if said.startswith("=") else str(held[said])

    outs: list[dict[str, Any]] = []

    async def run() -> None:
        server = build_server(settings_for(backoff_base=0), transport=Hostile(sandbox, rewrite_for(plan)))
        async with Client(server, mode="legacy") as client:
            for tool, arguments in calls(sandbox)[case]:
                result = await client.call_tool(tool, arguments)  # raises if structuredContent breaks the schema
                out = result.structured_content
                assert out is not None, (tool, arguments)
                jsonschema.validate(out, OUTPUT_SCHEMAS[tool])
                summary, _, payload = result.content[0].text.partition("\n")  # type: ignore[union-attr]
                assert json.loads(payload) == out and summary
                outs.append({"Tool": tool, **out})

    anyio.run(run)
    return outs


CASES = ["reads", "update", "commands"]
# A plan in which the API gets nothing wrong: a named case lays its one oddity over it.
NOTHING_ODD: dict[str, Any] = {
    "record": {},
    "extra": {},
    "member": {},
    "paging": {},
    "command": {},
    "envelope": {},
    "failure": None,
    "number_is": None,
}


def test_nothing_is_fitted_on_the_way_out() -> None:
    """The last step takes no schema: a result leaves as the tools built it, only bounded in size."""
    assert list(inspect.signature(finish).parameters) == ["result"]


@pytest.mark.parametrize("case", CASES)
@settings(
    max_examples=12,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(plan=plans())
def test_every_result_matches_its_schema_whatever_the_api_sends(case: str, plan: dict[str, Any]) -> None:
    run_case(case, plan)


@pytest.mark.parametrize(
    "plan",
    [
        # Each a value the outputSchema cannot hold as sent: an integer field as text that is not a number,
        # a date as a number, an enum as a list, a changed field as a list, UpdatedOn as an object, an error's
        # Message as a number; a document number equal to an Id (the final redaction pass keeps the types).
        {"record": {"CoworkerId": "abc", "UpdatedOn": 1764151200, "IdentityDocumentType": [1]}},
        {"record": {"Id": str(CHECK), "BusinessId": 1001.0, "Billed": "yes", "Name": {"x": 1}}},
        {"record": {"Description": ["a", 1], "LastError": {"x": 1}}},  # the changed field: a change's From
        {"record": {"Name": ["a"], "Description": 5.5}},  # journaled as they were read: the history's entry
        {"record": {"UpdatedOn": {"x": 1}}},  # a conflict's CurrentUpdatedOn
        {"record": {"Id": "abc"}},  # a find row's Id, which cannot be null
        {"member": {"Id": "x", "Email": 7, "Active": "no"}, "paging": {"TotalItems": "many"}},
        {"envelope": {"UpdatedOn": {"At": 1}, "UpdatedBy": [1], "Message": 5, "Value": "x"}},
        {"failure": (400, [{"PropertyName": 5, "Message": 7, "AttemptedValue": float("nan")}, 3])},
        {"number_is": "Id"},
        # A document number spelt like the result's own keys: the final pass must not rename them.
        {"number_is": "=Message"},
        {"number_is": "=WasSuccessful"},
        {"number_is": "=IdentityDocumentType"},
        {"number_is": "CoworkerId"},
    ],
)
@pytest.mark.parametrize("case", CASES)
def test_named_hostile_answers(case: str, plan: dict[str, Any]) -> None:
    run_case(case, {**NOTHING_ODD, **plan})


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # within the 120 s timeout
@given(plan=plans())
def test_every_result_matches_its_schema_many(case: str, plan: dict[str, Any]) -> None:
    run_case(case, plan)


@pytest.mark.parametrize(
    ("case", "plan", "said"),
    [
        # A member's Id as an object: the scan's memory of rows seen could not hold it.
        ("reads", {"member": {"Id": {"x": 1}}}, None),
        # An enum field as a list: its name could not be looked up.
        ("update", {"record": {"IdentityDocumentType": [1]}}, None),
        # A NaN field: the full record cannot be sent back, and the update says so (nothing is sent).
        ("update", {"record": {"Description1": float("nan")}}, "cannot be sent back (Description1"),
    ],
)
def test_odd_values_are_answered_not_failed_unexpectedly(case: str, plan: dict[str, Any], said: str | None) -> None:
    """Each of these once ended as an internal error ("failed unexpectedly"): every call now gets an
    answer of its own, and an update of a record that cannot be sent back says why."""
    outs = run_case(case, {**NOTHING_ODD, **plan})
    assert [o["Tool"] for o in outs if o.get("ErrorKind") == "internal_error"] == []
    if said is not None:
        assert any(said in o["Message"] for o in outs if o["Tool"] == UPDATE_TOOL and not o["WasSuccessful"])
