"""#24 items 6 and the done-when: a read-back that differs says both causes (another writer, or Nexudus
normalised the value) and names the field with the value sent and the value read, redacted; the
sandbox's trimming store and fault produce it; `probe` reports items 1, 2, 5 and 6 in its table
against the sandbox's live profile in both date forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.cli import main as cli
from nexudus_identity_mcp.cli.probe import Finding, run_probe, table
from nexudus_identity_mcp.nexudus import NexudusClient
from nexudus_identity_mcp.sandbox import TOTP_PASSWORD, TOTP_SECRET, TOTP_USER, Fault, Sandbox, SandboxState

from .conftest import settings_for
from .helpers import CHECK, body, required_from, server_for

pytestmark = pytest.mark.anyio
GET, UPDATE = "get_coworker_identity_check", "update_coworker_identity_check"
EXPIRY = "IdentityDocumentExpirationDate"


async def update(sandbox: Sandbox, **fields: Any) -> dict[str, Any]:
    async with Client(server_for(sandbox), mode="legacy") as client:
        record = body(await client.call_tool(GET, {"Id": CHECK}), GET)["Record"]
        return body(await client.call_tool(UPDATE, {**required_from(record), **fields}), UPDATE)


@pytest.mark.parametrize("how", ["store", "fault"])
async def test_a_trimmed_text_is_a_conflict_that_names_both_causes_and_both_values(how: str) -> None:
    sandbox = Sandbox(SandboxState(profile="live", trims_text=how == "store"))
    if how == "fault":
        sandbox.state.inject(Fault("trim", route="update"))
    out = await update(sandbox, Description="Seen at the desk. ")
    assert out["ErrorKind"] == "conflict" and sandbox.state.record(CHECK)["Description"] == "Seen at the desk."
    assert "another writer" in out["Message"] and "normalised or ignored" in out["Message"]
    [error] = out["Errors"]
    assert error["PropertyName"] == "Description" and error["AttemptedValue"] == "Seen at the desk. "
    assert "'Seen at the desk. '" in error["Message"] and "now holds 'Seen at the desk.'" in error["Message"]
    assert "trimmed text" in error["Message"] and "another writer" in error["Message"]


async def test_the_values_of_a_differing_read_back_stay_redacted() -> None:
    """A store that trims a document number given with a trailing space: both values shown as tokens."""
    sandbox = Sandbox(SandboxState(trims_text=True))
    number = "ZX-REDACT-TEST-4411 "
    out = await update(sandbox, IdentityDocumentNumber=number)
    assert out["ErrorKind"] == "conflict"
    [error] = out["Errors"]
    assert error["PropertyName"] == "IdentityDocumentNumber"
    assert number.strip() not in str(out) and "«ID_DOC:" in error["Message"]


async def test_a_date_written_back_in_the_stores_own_form_is_no_conflict() -> None:
    out = await update(Sandbox(SandboxState(trims_text=True)), **{EXPIRY: "2035-05-05T00:00:00+09:00"})
    assert out["WasSuccessful"] is True and out["Changes"][0]["To"] == "2035-05-05"


def row(findings: list[Finding], start: str) -> Finding:
    [found] = [f for f in findings if f.assumption.startswith(start)]
    return found


@pytest.mark.parametrize("with_z", [True, False], ids=["Z", "no-Z"])
async def test_probe_reports_items_1_2_5_and_6_on_the_live_profile(with_z: bool) -> None:
    sandbox = Sandbox(SandboxState(profile="live", dates_with_z=with_z, trims_text=True))
    before = sandbox.state.record(CHECK)
    settings = settings_for(token=None, username=TOTP_USER, password=TOTP_PASSWORD, totp_secret=TOTP_SECRET)
    async with NexudusClient(settings, transport=sandbox.transport()) as client:
        findings = await run_probe(client, write_check=CHECK)
    printed = table(findings)
    # Item 1: the form a date comes back in, and a date sent in the other form keeps its day.
    form = row(findings, "Dates come back as written")
    assert form.verdict == "ok" and form.details["returned_z"] is with_z
    other = row(findings, "A date sent in the other form")
    assert other.verdict == "ok" and other.details == {"sent_z": not with_z, "returned_z": with_z, "same_day": True}
    # Item 2: the sign-in's two-factor row (signed in with the code).
    assert row(findings, "A two-factor refusal is recognised").verdict == "ok"
    # Item 5: the commands' fields, the per-record parameter, the run role.
    shape = row(findings, "Each command says")
    assert shape.verdict == "ok" and shape.details["many_only"] == ["IDENTITYCHECK_CANCEL_SELECTED"]
    assert shape.details["parameter_types"] == ["String"]
    per_record = row(findings, "The commands list takes a parameter")
    assert per_record.verdict == "ok" and per_record.details["answered"] == ["id"]
    assert row(findings, "Running a command needs").verdict == "skipped"
    # Item 6: this store trims text; the record is written back as it was.
    trimmed = row(findings, "Nexudus stores a text as sent")
    assert trimmed.verdict == "differs" and trimmed.observed == "trimmed" and trimmed.details["normalises_text"]
    assert row(findings, "The record is written back").verdict == "ok"
    after = sandbox.state.record(CHECK)
    assert {k: after[k] for k in ("Description", EXPIRY)} == {k: before[k] for k in ("Description", EXPIRY)}
    for start in ("Dates come back", "Each command says its", "The commands list takes", "Nexudus stores a text"):
        assert start in printed, start  # in the table, not only the report
    for secret in (before["IdentityDocumentNumber"], before["Description"], TOTP_PASSWORD, TOTP_SECRET):
        assert secret not in repr(findings) and secret not in printed


async def test_probe_reports_a_store_that_keeps_text_and_ignores_the_per_record_parameter() -> None:
    sandbox = Sandbox(SandboxState(profile="live", commands_record_param=None))
    async with NexudusClient(settings_for(), transport=sandbox.transport()) as client:
        findings = await run_probe(client, write_check=CHECK)
    assert row(findings, "Nexudus stores a text as sent").verdict == "ok"
    assert row(findings, "The commands list takes a parameter").verdict == "unknown"
    assert not [f for f in findings if f.assumption.startswith("A two-factor")]  # a token: no sign-in to read


def test_cli_probe_over_a_sandbox_that_writes_dates_without_z_and_trims_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "probe.json"
    argv = ["probe", "--sandbox", "--dates-without-z", "--trims-text", "--write-check", str(CHECK)]
    with pytest.raises(SystemExit) as done:
        cli.main([*argv, "--report", str(out)])
    assert done.value.code == 0, capsys.readouterr()
    findings = {f["assumption"]: f for f in json.loads(out.read_text(encoding="utf-8"))["findings"]}
    form = next(f for a, f in findings.items() if a.startswith("Dates come back"))
    assert form["details"]["returned_z"] is False and "without a Z" in form["observed"]
    assert next(f for a, f in findings.items() if a.startswith("Nexudus stores a text"))["observed"] == "trimmed"
    assert "normalisation test" in capsys.readouterr().out
