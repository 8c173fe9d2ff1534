"""Around the update: the find tool (each filter, paging to the end), prompts from prompts/,
reference resources, redaction categories and read-only mode, through the in-memory client in both
protocol eras."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from nexudus_identity_mcp.mcpserver.app import CHANGES_URI
from nexudus_identity_mcp.mcpserver.prompt_templates import load_prompts, prompts_dir
from nexudus_identity_mcp.mcpserver.reference import ENUMS_URI, FIELDS_URI
from nexudus_identity_mcp.record.enums import ALL_ENUMS
from nexudus_identity_mcp.record.fields import FIELDS
from nexudus_identity_mcp.record.redaction import parse_categories
from nexudus_identity_mcp.sandbox import Fault, Sandbox
from nexudus_identity_mcp.tools.schemas import FIND_ROW_FIELDS

from .helpers import CHECK, ERAS, body, required_from, server_for

pytestmark = pytest.mark.anyio
FIND = "find_coworker_identity_checks"


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return request.param


async def find(sandbox: Sandbox, era: str, args: dict[str, Any], **overrides: Any) -> tuple[bool, dict[str, Any]]:
    async with Client(server_for(sandbox, **overrides), mode=era) as client:
        result = await client.call_tool(FIND, args)
    return bool(result.is_error), body(result, FIND)


# ------------------------------------------------------------------ find
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"CoworkerId": 2001}, {87654301, 87654302}),
        ({"BusinessId": 1003}, {87654308, 87654309, 87654310, 87654311}),
        ({"Name": "PROOF of"}, {87654302, 87654312}),
        ({"VerificationStatus": "failed"}, {87654304, 87654312}),
        ({"VerificationStatus": 2}, {87654303, 87654310}),
        ({"VerificationType": "Address", "BusinessId": "1002"}, {87654307, 87654312}),
    ],
)
async def test_find_by_each_filter(sandbox: Sandbox, era: str, args: dict[str, Any], expected: set[int]) -> None:
    is_error, out = await find(sandbox, era, args)
    assert not is_error, out
    assert {row["Id"] for row in out["Checks"]} == expected and out["TotalItems"] == len(expected)
    for row in out["Checks"]:
        assert tuple(row) == FIND_ROW_FIELDS
        assert isinstance(row["VerificationStatus"], str) and isinstance(row["VerificationType"], str)


async def test_paging_to_the_end(sandbox: Sandbox, era: str) -> None:
    seen: list[int] = []
    page = 1
    for _ in range(10):  # bounded: 12 records at 5 a page need 3
        is_error, out = await find(sandbox, era, {"PageSize": 5, "Page": page})
        assert not is_error and out["Page"] == page and out["TotalPages"] == 3
        seen += [row["Id"] for row in out["Checks"]]
        if not out["HasNextPage"]:
            break
        page += 1
    assert page == 3 and sorted(seen) == sorted(sandbox.state.records)


async def test_find_rejects_bad_arguments_with_hints(sandbox: Sandbox, era: str) -> None:
    is_error, out = await find(sandbox, era, {"PageSize": 500, "VerificationStatus": "Pendng", "CoworkerID": 1})
    assert is_error and out["ErrorKind"] == "validation" and sandbox.state.requests == []
    errors = {e["PropertyName"]: e for e in out["Errors"]}
    assert errors["VerificationStatus"]["Hint"] == "Pending" and errors["CoworkerID"]["Hint"] == "CoworkerId"
    assert "between 1 and 50" in errors["PageSize"]["Message"]


async def test_find_api_error(sandbox: Sandbox, era: str) -> None:
    sandbox.state.inject(Fault("status", route="search", status=401, count=5))
    is_error, out = await find(sandbox, era, {"BusinessId": 1001})
    assert is_error and out["ErrorKind"] == "unauthorized" and "CoworkerIdentityCheck-List" in out["Message"]


async def test_name_redaction_hides_member_names(sandbox: Sandbox) -> None:
    is_error, out = await find(sandbox, "legacy", {"CoworkerId": 2001}, mcp_redact="id_document,name")
    assert not is_error and all(row["CoworkerFullName"].startswith("«NAME:") for row in out["Checks"])


def test_redaction_categories() -> None:
    assert parse_categories(None) == {"id_document"}
    assert parse_categories("none") == set()
    assert parse_categories("name") == {"id_document", "name"}
    with pytest.raises(ValueError, match="NEXUDUS_MCP_REDACT"):
        parse_categories("passwords")


async def test_redaction_off_shows_numbers(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox, mcp_redact="none"), mode="legacy") as client:
        record = (await client.call_tool("get_coworker_identity_check", {"Id": CHECK})).structured_content
    assert record["Record"]["IdentityDocumentNumber"] == "CB7734129"  # type: ignore[index]


# ------------------------------------------------------------------ prompts
async def test_prompts_are_listed_and_rendered(sandbox: Sandbox, era: str) -> None:
    async with Client(server_for(sandbox), mode=era) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        assert {"update_check_from_request", "record_presented_document", "review_pending_checks"} <= set(listed)
        review = listed["review_pending_checks"]
        assert review.title and review.description
        assert [(a.name, a.required) for a in review.arguments or []] == [("location", True), ("statuses", False)]
        got = await client.get_prompt("review_pending_checks", {"location": "Northside Hub Manchester"})
        text = got.messages[0].content.text  # type: ignore[union-attr]
        assert got.messages[0].role == "user" and "Northside Hub Manchester" in text and "{{" not in text
        got = await client.get_prompt("update_check_from_request", {"request": "Ana renewed her passport"})
        assert "find_coworker_identity_checks" in got.messages[0].content.text  # type: ignore[union-attr]


async def test_missing_required_prompt_argument_is_named(sandbox: Sandbox, era: str) -> None:
    async with Client(server_for(sandbox), mode=era) as client:
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("record_presented_document", {"member": "Ana Ribeiro"})
        assert "document_type" in caught.value.message
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("no_such_prompt", {})
        assert "Unknown prompt" in caught.value.message


def test_adding_a_file_adds_a_prompt(tmp_path: Path) -> None:
    for path in prompts_dir().glob("*.md"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "greet.md").write_text(
        '+++\nname = "greet_member"\ndescription = "Say hello"\n'
        '[[arguments]]\nname = "who"\nrequired = true\n+++\nHello {{who}}!\n'
    )
    prompts = load_prompts(tmp_path)
    assert set(prompts) == set(load_prompts()) | {"greet_member"}
    assert prompts["greet_member"].render({"who": "Ana"}) == "Hello Ana!\n"


# ------------------------------------------------------------------ resources
async def test_reference_resources(sandbox: Sandbox, era: str) -> None:
    async with Client(server_for(sandbox), mode=era) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert uris == {ENUMS_URI, FIELDS_URI, CHANGES_URI}  # the journal's: tests/test_changes.py
        enums = json.loads((await client.read_resource(ENUMS_URI)).contents[0].text)  # type: ignore[union-attr]
        fields_md = (await client.read_resource(FIELDS_URI)).contents[0].text  # type: ignore[union-attr]
    assert set(enums) == {e.name for e in ALL_ENUMS}
    assert {"name": "NEXUSCard", "code": 10}.items() <= enums["IdentityDocumentType"]["values"][10].items()
    assert all(f"`{f.name}`" in fields_md for f in FIELDS)


# ------------------------------------------------------------------ read-only mode
async def test_read_only_mode_serves_the_read_tools_only(sandbox: Sandbox, era: str) -> None:
    async with Client(server_for(sandbox, mcp_read_only=True), mode=era) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {
            FIND,
            "get_coworker_identity_check",
            "list_coworker_identity_check_commands",
            "find_coworkers",
            "compare_identity_document_number",
            "list_coworker_identity_check_changes",  # what other workers changed is readable here too
        }
        if era == "legacy":  # a pinned 2026 in-process client does not fetch server/discover
            assert client.instructions and "read-only" in client.instructions
        record = body(
            await client.call_tool("get_coworker_identity_check", {"Id": CHECK}), "get_coworker_identity_check"
        )["Record"]
        refused = await client.call_tool("update_coworker_identity_check", {**required_from(record), "Name": "x"})
    assert refused.is_error and refused.structured_content["ErrorKind"] == "read_only"  # type: ignore[index]
    assert sandbox.state.count("update") == 0
