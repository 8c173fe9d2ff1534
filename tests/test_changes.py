"""The journal through the MCP tools, end to end against the sandbox in both protocol eras: every
update and command is journaled where its outcome is known; the list tool and the resource show it
newest first, filtered, paged and redacted; undo restores the values from before an update only
where the check still holds what it wrote, refuses field by field after another writer changed a
field (and RevertRest restores the rest), journals itself (so it can be undone), and a command is
shown without undo, naming the command that moves its status back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.mcpserver.app import CHANGES_URI
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.tools.catalog import (
    GET_TOOL,
    LIST_CHANGES_TOOL,
    RUN_COMMAND_TOOL,
    UNDO_TOOL,
    UPDATE_TOOL,
)

from .helpers import CHECK, ERAS, body, required_from, server_for
from .test_commands import GRACE, VERIFY, Elicitations
from .test_journal import raw_bytes_sqlite

pytestmark = pytest.mark.anyio

ANA_NUMBER = "CB7734129"  # Ana Ribeiro's passport number in the seed
NEW_NUMBER = "CB9988776"


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return request.param


class Session:
    """One client of one server; every result checked against its outputSchema, and none may carry a
    document number in its text."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.texts: list[str] = []

    async def call(self, tool: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        result = await self.client.call_tool(tool, arguments)
        self.texts.append(result.content[0].text)  # type: ignore[union-attr]
        return bool(result.is_error), body(result, tool)

    async def record(self, check_id: int = CHECK) -> dict[str, Any]:
        is_error, out = await self.call(GET_TOOL, {"Id": check_id})
        assert not is_error, out
        return dict(out["Record"])

    async def update(self, changes: dict[str, Any], check_id: int = CHECK) -> dict[str, Any]:
        record = await self.record(check_id)
        is_error, out = await self.call(UPDATE_TOOL, {**required_from(record), **changes})
        assert not is_error, out
        return out


async def test_an_update_is_journaled_listed_and_undone(sandbox: Sandbox, era: str) -> None:
    before = sandbox.state.record(CHECK)
    async with Client(server_for(sandbox), mode=era) as client:
        s = Session(client)
        updated = await s.update({"IdentityDocumentNumber": NEW_NUMBER, "Description": "Renewed passport."})
        entry_id = updated["EntryId"]
        is_error, listed = await s.call(LIST_CHANGES_TOOL, {})
        assert not is_error and listed["HasMore"] is False
        (entry,) = listed["Entries"]
        assert entry["EntryId"] == entry_id and entry["CheckId"] == CHECK and entry["CoworkerId"] == 2001
        assert entry["Who"] == "stdio" and entry["Tool"] == UPDATE_TOOL
        assert entry["Outcome"] == "written" and entry["ReadBack"] == "verified"
        assert entry["CheckName"] == "Passport check" and entry["Undo"].startswith(UNDO_TOOL)
        number = next(c for c in entry["Changes"] if c["Field"] == "IdentityDocumentNumber")
        assert number["From"].startswith("«ID_DOC:") and number["To"].startswith("«ID_DOC:")
        assert {"Field": "Description", "From": "Checked in person at the front desk.", "To": "Renewed passport."} in (
            entry["Changes"]
        )

        dry_error, dry = await s.call(UNDO_TOOL, {"EntryId": entry_id, "DryRun": True})
        assert (
            not dry_error
            and dry["DryRun"] is True
            and sandbox.state.record(CHECK)["Description"] != before["Description"]
        )
        is_error, undone = await s.call(UNDO_TOOL, {"EntryId": entry_id})
        assert not is_error, undone
        assert undone["UndoOf"] == entry_id and undone["EntryId"] > entry_id
        assert {c["Field"] for c in undone["Changes"]} == {"IdentityDocumentNumber", "Description"}
        now = sandbox.state.record(CHECK)
        assert now["IdentityDocumentNumber"] == ANA_NUMBER and now["Description"] == before["Description"]

        # The undo is journaled (newest first), and an undo can be undone.
        _, listed = await s.call(LIST_CHANGES_TOOL, {"CheckId": CHECK})
        assert [e["EntryId"] for e in listed["Entries"]] == [undone["EntryId"], entry_id]
        assert listed["Entries"][0]["Tool"] == UNDO_TOOL and listed["Entries"][0]["UndoOf"] == entry_id
        is_error, redone = await s.call(UNDO_TOOL, {"EntryId": undone["EntryId"]})
        assert not is_error, redone
        again = sandbox.state.record(CHECK)
        assert again["IdentityDocumentNumber"] == NEW_NUMBER and again["Description"] == "Renewed passport."
        # The first entry's values hold again (the redo wrote them), so undoing it again restores once more.
        assert (await s.call(UNDO_TOOL, {"EntryId": entry_id}))[0] is False
    for text in s.texts:
        assert ANA_NUMBER not in text and NEW_NUMBER not in text


async def test_undo_is_refused_field_by_field_after_another_writer(sandbox: Sandbox, era: str) -> None:
    async with (
        Client(server_for(sandbox), mode=era) as ours,
        Client(server_for(sandbox), mode=era) as theirs,  # another writer (another server, its own state)
    ):
        s, other = Session(ours), Session(theirs)
        entry_id = (await s.update({"Description": "Front desk, again.", "IdentityDocumentIssuedBy": "Lisboa"}))[
            "EntryId"
        ]
        await other.update({"Description": "Changed by a colleague."})
        puts = sandbox.state.count("update")
        is_error, refused = await s.call(UNDO_TOOL, {"EntryId": entry_id})
        assert is_error and refused["ErrorKind"] == "conflict"
        assert [e["PropertyName"] for e in refused["Errors"]] == ["Description"]
        assert "Changed by a colleague." in refused["Errors"][0]["Message"]
        assert "RevertRest" in refused["Message"] and "IdentityDocumentIssuedBy" in refused["Message"]
        assert sandbox.state.count("update") == puts, "nothing was written"

        is_error, rest = await s.call(UNDO_TOOL, {"EntryId": entry_id, "RevertRest": True})
        assert not is_error, rest
        assert rest["LeftAlone"] == ["Description"] and [c["Field"] for c in rest["Changes"]] == [
            "IdentityDocumentIssuedBy"
        ]
        record = sandbox.state.record(CHECK)
        assert record["Description"] == "Changed by a colleague."
        assert record["IdentityDocumentIssuedBy"] == "República Portuguesa"


async def test_a_command_is_journaled_and_shown_without_undo(sandbox: Sandbox, era: str) -> None:
    async with Client(server_for(sandbox), mode=era) as client:
        s = Session(client)
        is_error, ran = await s.call(RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]})
        assert not is_error, ran
        (entry_id,) = ran["EntryIds"]
        _, listed = await s.call(LIST_CHANGES_TOOL, {"CheckId": GRACE})
        (entry,) = listed["Entries"]
        assert entry["Command"] == VERIFY and entry["Tool"] == RUN_COMMAND_TOOL
        assert entry["Changes"] == [{"Field": "VerificationStatus", "From": "Cancelled", "To": "Successful"}]
        assert entry["Undo"].startswith("not possible: the API has no inverse of a command")
        assert "IDENTITYCHECK_CANCEL" in entry["Undo"]  # the command that moves it back to Cancelled
        puts, runs = sandbox.state.count("update"), sandbox.state.count("run_command")
        is_error, refused = await s.call(UNDO_TOOL, {"EntryId": entry_id})
        assert is_error and "no inverse" in refused["Message"] and "IDENTITYCHECK_CANCEL" in refused["Message"]
        assert (sandbox.state.count("update"), sandbox.state.count("run_command")) == (puts, runs)


async def test_a_declined_change_is_journaled_as_declined(sandbox: Sandbox, era: str) -> None:
    server = server_for(sandbox, mcp_confirm_updates=True)
    async with Client(server, mode=era, elicitation_callback=Elicitations("decline")) as client:
        s = Session(client)
        record = await s.record()
        is_error, out = await s.call(UPDATE_TOOL, {**required_from(record), "Description": "No thanks."})
        assert is_error and "EntryId" in out
        _, listed = await s.call(LIST_CHANGES_TOOL, {})
        assert listed["Entries"][0]["Outcome"] == "declined"
        assert listed["Entries"][0]["Undo"] == "nothing written"
        assert (await s.call(UNDO_TOOL, {"EntryId": out["EntryId"]}))[0] is True


async def test_filters_pages_and_the_resource(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox), mode="legacy") as client:
        s = Session(client)
        for i in range(3):
            await s.update({"Description": f"Note {i} about {ANA_NUMBER[:2]}."})
        await s.update({"Description": "Other check."}, check_id=87654302)
        _, first = await s.call(LIST_CHANGES_TOOL, {"PageSize": 2})
        assert first["HasMore"] and len(first["Entries"]) == 2
        _, second = await s.call(LIST_CHANGES_TOOL, {"PageSize": 2, "Before": first["NextBefore"]})
        ids = [e["EntryId"] for e in first["Entries"] + second["Entries"]]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4 and second["HasMore"] is False
        _, by_check = await s.call(LIST_CHANGES_TOOL, {"CheckId": 87654302})
        assert [e["CheckId"] for e in by_check["Entries"]] == [87654302]
        _, by_member = await s.call(LIST_CHANGES_TOOL, {"CoworkerId": 2001, "Since": "today", "Who": "STDIO"})
        assert len(by_member["Entries"]) == 4
        _, nobody = await s.call(LIST_CHANGES_TOOL, {"Who": "someone else"})
        assert nobody["Entries"] == []
        is_error, bad = await s.call(LIST_CHANGES_TOOL, {"Since": "last tuesday"})
        assert is_error and bad["Errors"][0]["PropertyName"] == "Since"

        resources = await client.list_resources()
        assert CHANGES_URI in [str(r.uri) for r in resources.resources]
        templates = await client.list_resource_templates()
        assert templates.resource_templates[0].uri_template.startswith(CHANGES_URI + "{?")
        latest = json.loads((await client.read_resource(CHANGES_URI)).contents[0].text)  # type: ignore[union-attr]
        assert len(latest["Entries"]) == 4
        one = await client.read_resource(f"{CHANGES_URI}?CheckId=87654302")
        assert [e["CheckId"] for e in json.loads(one.contents[0].text)["Entries"]] == [87654302]  # type: ignore[union-attr]


async def test_what_the_tools_return_is_redacted(sandbox: Sandbox) -> None:
    """Document numbers (and, with the name category, names) never leave in a list, an undo, or the
    resource, whatever field holds them."""
    async with Client(server_for(sandbox, mcp_redact="id_document,name"), mode="legacy") as client:
        s = Session(client)
        await s.update({"IdentityDocumentNumber": NEW_NUMBER, "Description": f"Old number was {ANA_NUMBER}"})
        _, listed = await s.call(LIST_CHANGES_TOOL, {})
        entry = listed["Entries"][0]
        assert entry["CoworkerFullName"].startswith("«NAME:")
        resource = (await client.read_resource(CHANGES_URI)).contents[0].text  # type: ignore[union-attr]
        await s.call(UNDO_TOOL, {"EntryId": entry["EntryId"], "DryRun": True})
    for text in [*s.texts, resource]:
        assert ANA_NUMBER not in text and NEW_NUMBER not in text and "Ana Ribeiro" not in text


async def test_workers_sharing_sqlite_share_the_journal(sandbox: Sandbox, tmp_path: Path) -> None:
    """Two servers (two workers) on one state folder: what one writes, the other lists and undoes; and a
    server started afterwards (a restart) still has it."""
    shared = {"mcp_state_dir": str(tmp_path)}
    async with (
        Client(server_for(sandbox, **shared), mode="legacy") as one,
        Client(server_for(sandbox, **shared), mode="legacy") as two,
    ):
        entry_id = (await Session(one).update({"Description": "Worker one wrote this."}))["EntryId"]
        _, listed = await Session(two).call(LIST_CHANGES_TOOL, {})
        assert [e["EntryId"] for e in listed["Entries"]] == [entry_id]
        assert not (await Session(two).call(UNDO_TOOL, {"EntryId": entry_id}))[0]
    async with Client(server_for(sandbox, **shared), mode="legacy") as restarted:
        _, listed = await Session(restarted).call(LIST_CHANGES_TOOL, {})
        assert [e["Tool"] for e in listed["Entries"]] == [UNDO_TOOL, UPDATE_TOOL]
    assert ANA_NUMBER.encode() not in raw_bytes_sqlite(tmp_path)


@pytest.mark.slow  # a loopback HTTP server
async def test_who_is_the_http_client_a_token_names(sandbox: Sandbox) -> None:
    """Over HTTP with client tokens, each entry names the client whose token made the write, and the
    Who filter picks one client's changes (the sign-in mode's staff names: tests/test_signin.py)."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from nexudus_identity_mcp.mcpserver.http_app import create_app
    from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp

    from .conftest import settings_for

    tokens = {"front-desk": "desk-token-3c9e1a7f5b2d", "nightly-script": "script-token-8d2f6b0e4a1c"}
    settings = settings_for(mcp_client_tokens=",".join(f"{name}={token}" for name, token in tokens.items()))
    app = create_app(settings, transport=sandbox.transport(), host=LOOPBACK)
    with ServedApp(app, lifespan="auto") as served:
        for name, token in tokens.items():
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
                Client(streamable_http_client(f"{served.url}/mcp", http_client=http)) as client,
            ):
                await Session(client).update({"Description": f"Written by {name}."})
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {tokens['front-desk']}"}, timeout=30) as http,
            Client(streamable_http_client(f"{served.url}/mcp", http_client=http)) as client,
        ):
            _, everyone = await Session(client).call(LIST_CHANGES_TOOL, {})
            _, desk = await Session(client).call(LIST_CHANGES_TOOL, {"Who": "front-desk"})
    assert [e["Who"] for e in everyone["Entries"]] == ["nightly-script", "front-desk"]
    assert [e["Who"] for e in desk["Entries"]] == ["front-desk"]
    for token in tokens.values():
        assert token not in json.dumps(everyone)


@pytest.mark.slow  # two in-process workers, a dozen calls at once
async def test_a_dozen_parallel_undos_of_one_update_write_once(sandbox: Sandbox, tmp_path: Path) -> None:
    """Twelve undos of the same entry at the same moment, six through each of two workers sharing one
    state folder: one restores the values; the rest write nothing (the check already holds the values
    from before, or another undo holds it), and the journal has one undo entry that changed anything."""
    import anyio

    shared = {"mcp_state_dir": str(tmp_path)}
    async with (
        Client(server_for(sandbox, **shared), mode="legacy") as one,
        Client(server_for(sandbox, **shared), mode="legacy") as two,
    ):
        entry_id = (await Session(one).update({"Description": "To be undone once."}))["EntryId"]
        puts = sandbox.state.count("update")
        outcomes: list[tuple[bool, dict[str, Any]]] = []

        async def undo(client: Client) -> None:
            outcomes.append(await Session(client).call(UNDO_TOOL, {"EntryId": entry_id}))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for i in range(12):
                    group.start_soon(undo, one if i % 2 else two)
        _, listed = await Session(one).call(LIST_CHANGES_TOOL, {"CheckId": CHECK})
    written = [out for is_error, out in outcomes if not is_error and out["Changes"]]
    assert len(written) == 1, [(out.get("ErrorKind"), out.get("Changes")) for _, out in outcomes]
    assert {out["ErrorKind"] for is_error, out in outcomes if is_error} <= {"conflict", "busy"}
    assert sandbox.state.count("update") == puts + 1
    assert sandbox.state.record(CHECK)["Description"] == "Checked in person at the front desk."
    undos = [e for e in listed["Entries"] if e["Tool"] == UNDO_TOOL and e["Changes"]]
    assert [e["EntryId"] for e in undos] == [written[0]["EntryId"]]
