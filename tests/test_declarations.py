"""Issue #31, items 1 and 2: each tool is one declaration (tools/catalog.py) from which its schema, its
parser and its dispatch are derived, so the same kind of argument follows the same rule in every
tool; and who is calling travels in one explicit context, down to each request the API client sends."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from nexudus_identity_mcp.nexudus import ErrorKind, NexudusClient, NexudusError
from nexudus_identity_mcp.nexudus.caller import Caller
from nexudus_identity_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from nexudus_identity_mcp.tools.catalog import LIST_COMMANDS_TOOL, RUN_COMMAND_TOOL, TOOLS, tool_definitions

from .conftest import settings_for
from .helpers import CHECK, body, server_for

pytestmark = pytest.mark.anyio
VERIFY = "IDENTITYCHECK_MARK_AS_VERIFIED"


async def call(sandbox: Sandbox, tool: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    async with Client(server_for(sandbox)) as client:
        result = await client.call_tool(tool, arguments)
    return bool(result.is_error), body(result, tool)


async def test_refresh_takes_true_as_text_like_every_other_boolean(sandbox: Sandbox) -> None:
    """The drift the issue names: `Refresh: "true"` was refused while `DryRun: "true"` was accepted."""
    failed, listed = await call(sandbox, LIST_COMMANDS_TOOL, {"Refresh": "true"})
    assert not failed and listed["Commands"]
    failed, ran = await call(sandbox, RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [CHECK], "DryRun": "true"})
    assert not failed and ran["DryRun"] is True
    for tool, arguments in ((LIST_COMMANDS_TOOL, {}), (RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [CHECK]})):
        failed, refused = await call(
            sandbox, tool, {**arguments, ("Refresh" if tool == LIST_COMMANDS_TOOL else "DryRun"): "yes"}
        )
        assert failed and refused["Errors"][0]["Message"] == "must be true or false"


async def test_ids_follow_the_shared_integer_rule(sandbox: Sandbox) -> None:
    """Ids were parsed by hand (`int(item)`, which read 87654301.5 as 87654301); now by the rule every
    integer argument follows: numeric text is an Id, a fraction or a boolean is not."""
    failed, ran = await call(sandbox, RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [str(CHECK), CHECK], "DryRun": True})
    assert not failed and ran["Ids"] == [CHECK]
    for bad in (CHECK + 0.5, True, "87654301x", 0):
        failed, refused = await call(sandbox, RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [bad], "DryRun": True})
        assert failed and refused["ErrorKind"] == "validation", bad
        assert [e["PropertyName"] for e in refused["Errors"]] == ["Ids"], bad


@pytest.mark.parametrize("tool", [t.name for t in TOOLS])
async def test_each_tool_parses_exactly_what_it_advertises(sandbox: Sandbox, tool: str) -> None:
    """Every advertised property is taken (null: not given), and a property not advertised is refused."""
    [listed] = [t for t in tool_definitions() if t.name == tool]
    nulls = dict.fromkeys(listed.input_schema["properties"])
    failed, refused = await call(sandbox, tool, {**nulls, "NotAProperty": 1})
    assert failed and refused["ErrorKind"] == "validation"
    unknown = [e["PropertyName"] for e in refused["Errors"] if "is not a property" in e["Message"]]
    assert unknown == ["NotAProperty"]


class Recording(httpx2.AsyncBaseTransport):
    """The sandbox, with the Authorization header of each request recorded by the check it reads."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.inner = sandbox.transport()
        self.seen: dict[str, str] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.seen[request.url.params.get("who") or request.url.path] = request.headers.get("Authorization", "")
        return await self.inner.handle_async_request(request)


async def test_each_request_carries_the_credentials_its_caller_passed(sandbox: Sandbox) -> None:
    """A dozen reads at once, half with a caller's own token and half with the configured one: each
    request carries exactly what its own call passed (nothing ambient leaks between them), and a
    refused caller token is explained as the caller's sign-in, not the server's NEXUDUS_TOKEN."""
    recording = Recording(sandbox)
    outcomes: dict[int, str] = {}
    async with NexudusClient(settings_for(), transport=recording) as client:

        async def read(i: int) -> None:
            caller = Caller(f"staff-{i}", f"caller-token-{i}") if i % 2 else None
            try:
                await client.search_checks(page=1, size=1, filters={"who": str(i)}, caller=caller)
                outcomes[i] = "read"
            except NexudusError as error:
                assert error.kind == ErrorKind.UNAUTHORIZED
                outcomes[i] = error.message

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                for i in range(12):
                    group.start_soon(read, i)
    for i in range(12):
        if i % 2:
            assert recording.seen[str(i)] == f"Bearer caller-token-{i}"
            assert "your Nexudus sign-in has expired" in outcomes[i] and f"caller-token-{i}" not in outcomes[i]
        else:
            assert recording.seen[str(i)] == f"Bearer {SANDBOX_TOKEN}" and outcomes[i] == "read"


def test_a_result_is_made_once_and_said_more_only_as_a_new_result() -> None:
    """#31 item 1: a result is frozen; `adding` makes a new one with more keys and refuses to overwrite
    one the result already has; `framed` says the same lead and tail in Message and summary."""
    import dataclasses

    from nexudus_identity_mcp.tools.results import ToolResult, failure

    made = ToolResult({"WasSuccessful": True, "Message": "Check 1 updated."}, False, "Updated check 1.")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.summary = "something else"  # type: ignore[misc]
    journaled = made.adding(EntryId=7, LeftAlone=None)
    assert journaled.body == {"WasSuccessful": True, "Message": "Check 1 updated.", "EntryId": 7}
    assert "EntryId" not in made.body and made.adding() is made
    with pytest.raises(ValueError, match="Message"):
        made.adding(Message="overwritten")
    said = journaled.framed(lead="Undo of entry 3: ", tail=" Left alone: Name.")
    assert said.body["Message"] == "Undo of entry 3: Check 1 updated. Left alone: Name."
    assert said.summary == "Undo of entry 3: Updated check 1. Left alone: Name."
    assert made.body["Message"] == "Check 1 updated."
    refused = failure(ErrorKind.CONFLICT, "Check 1 changed.", source="local", Key="K")
    assert refused.body["Key"] == "K" and refused.is_error


async def test_a_command_on_a_check_that_does_not_exist_names_the_id_in_its_problems(sandbox: Sandbox) -> None:
    """The command's own not-found words and problem are said when the failure is built (they were
    written over the update's after the fact)."""
    failed, refused = await call(sandbox, RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [CHECK, 999_999_999]})
    assert failed and refused["ErrorKind"] == ErrorKind.NOT_FOUND.value
    assert "the command was not run on any check" in refused["Message"]
    assert refused["Errors"] == [
        {"PropertyName": "Ids", "Message": "999999999 is not an existing check", "AttemptedValue": 999_999_999}
    ]


def test_a_problem_is_one_type_and_the_results_schema_says_the_same_keys() -> None:
    """#31 item 1, typed problems: every `Errors` item the server makes is a `Problem` (a TypedDict that
    mypy checks at each place one is built or passed on), and the output schemas' error item lists
    exactly its keys, each of the JSON type its annotation says."""
    from typing import get_type_hints

    from nexudus_identity_mcp.record.validation import Problem, problem
    from nexudus_identity_mcp.tools.schemas import ERROR_ITEM

    assert set(ERROR_ITEM["properties"]) == set(get_type_hints(Problem))
    assert Problem.__required_keys__ == {"PropertyName", "Message", "AttemptedValue"}
    assert ERROR_ITEM["properties"]["Hint"]["type"] == "string"
    assert ERROR_ITEM["properties"]["AllowedValues"]["items"]["type"] == "string"
    made = problem("IdentityDocumentType", "is not a valid value", "Pasport", allowed=["Passport"], hint="Passport")
    assert set(made) == set(get_type_hints(Problem))


async def test_each_tools_argument_failure_says_in_its_first_line_what_its_message_says(sandbox: Sandbox) -> None:
    """A find with `Page: "x"` was summarised "nothing was written" while its Message said "nothing was
    searched": the summary line now says what was not done in the message's own words, for every tool."""
    import re

    async with Client(server_for(sandbox)) as client:
        for tool in TOOLS:
            result = await client.call_tool(tool.name, {"NotAnArgumentOfAnyTool": 1})
            assert result.is_error, tool.name
            first = result.content[0].text.partition("\n")[0]  # type: ignore[union-attr]
            said = body(result, tool.name)["Message"]
            assert first.startswith("Failed (validation, local): nothing was "), (tool.name, first)
            nothing = re.search(r"nothing was [^.]*", first)
            assert nothing is not None and nothing[0].lower() in said.lower(), (tool.name, first, said)
