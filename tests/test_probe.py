"""`probe` against the sandbox in each profile: the right verdict for every assumption, the one
write only when asked, and nothing secret (token, password, document number, member text) in what
it prints or reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import JSONResponse

from nexudus_identity_mcp.cli import main as cli
from nexudus_identity_mcp.cli.probe import Finding, run_probe
from nexudus_identity_mcp.nexudus import NexudusClient
from nexudus_identity_mcp.record.fields import SEARCH_FILTERS
from nexudus_identity_mcp.sandbox import Fault, Sandbox, SandboxState
from nexudus_identity_mcp.sandbox.state import ALL_FILTERS, LIVE_HONOURED_FILTERS

from .conftest import settings_for

pytestmark = pytest.mark.anyio


async def probe(sandbox: Sandbox, write_check: int | None = None, **overrides: Any) -> dict[str, Finding]:
    async with NexudusClient(settings_for(**overrides), transport=sandbox.transport()) as client:
        findings = await run_probe(client, write_check=write_check)
    return {f.assumption: f for f in findings}


def by_start(findings: dict[str, Finding], start: str) -> Finding:
    [found] = [f for a, f in findings.items() if a.startswith(start)]
    return found


def filter_verdicts(findings: dict[str, Finding]) -> dict[str, str]:
    return {f.param: by_start(findings, f"Search filter {f.argument} ").verdict for f in SEARCH_FILTERS}


async def test_documented_profile_every_assumption_holds() -> None:
    sandbox = Sandbox(SandboxState(profile="documented"))
    findings = await probe(sandbox)
    assert set(filter_verdicts(findings).values()) == {"ok"}
    # The sandbox matches names by case only, as a SQL Server default collation would.
    assert by_start(findings, "Search filter CoworkerFullName").details["accent_insensitive"] is False
    assert by_start(findings, "GET returns the joined names").verdict == "ok"
    assert by_start(findings, "GET returns only fields").verdict == "ok"
    assert by_start(findings, "The search pages").verdict == "ok"
    assert by_start(findings, "The API lists commands").verdict in ("absent", "ok", "unknown")
    assert by_start(findings, "A PUT of every field").verdict == "skipped"
    assert sandbox.state.count("update") == 0, "read-only unless --write-check"


async def test_live_profile_shows_ignored_filters_and_unknown_fields() -> None:
    sandbox = Sandbox(SandboxState(profile="live"))
    findings = await probe(sandbox, write_check=87654304)
    verdicts = filter_verdicts(findings)
    checks = {f.param for f in SEARCH_FILTERS}  # the probe tests the identity-check filters
    assert {p for p, v in verdicts.items() if v == "ok"} == LIVE_HONOURED_FILTERS & checks
    assert {p for p, v in verdicts.items() if v == "differs"} == (ALL_FILTERS - LIVE_HONOURED_FILTERS) & checks
    unknown = by_start(findings, "GET returns only fields")
    assert unknown.verdict == "differs"
    assert set(unknown.details["unknown_fields"]) >= {"CoworkerEmail", "CustomFields", "ToStringText"}
    assert unknown.details["shown_unknown_fields"] == ["LocalizationDetails", "RequiresReview", "ReviewAttempts"]
    write = by_start(findings, "A PUT of every field")
    assert write.verdict == "ok" and write.details == {"changed_fields": [], "lost_fields": []}
    assert sandbox.state.count("update") == 3  # the no-change write, the normalisation test, the write back


async def test_the_honoured_set_is_configurable() -> None:
    sandbox = Sandbox(SandboxState(profile="live", honoured_filters=ALL_FILTERS))
    assert set(filter_verdicts(await probe(sandbox)).values()) == {"ok"}


async def test_a_write_check_that_loses_a_field_is_reported() -> None:
    sandbox = Sandbox(SandboxState(profile="live"))
    # A record whose Description the API drops on every PUT, as a stand-in for "the PUT clears something".
    original = sandbox.app

    async def dropping(scope: Any, receive: Any, send: Any) -> None:
        await original(scope, receive, send)
        if scope["type"] == "http" and scope["method"] == "PUT":
            sandbox.state.records[87654301]["Description"] = None

    sandbox.app = dropping  # type: ignore[assignment]
    write = by_start(await probe(sandbox, write_check=87654301), "A PUT of every field")
    assert write.verdict == "differs" and write.details["changed_fields"] == ["Description"]


async def test_bad_credentials_fail_the_probe_with_one_finding() -> None:
    findings = await probe(Sandbox(), token="not-a-token")
    auth = by_start(findings, "The bearer credentials")
    assert auth.verdict == "failed" and "unauthorized" in auth.observed
    assert [f.verdict for f in findings.values()] == ["failed", "unknown"], "nothing else is tried; throttling unmet"


@pytest.mark.parametrize("profile", ["documented", "live"])
def test_cli_probe_prints_the_table_and_writes_the_report(
    profile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "probe.json"
    with pytest.raises(SystemExit) as done:
        cli.main(["probe", "--sandbox", "--profile", profile, "--report", str(out)])
    assert done.value.code == 0
    printed = capsys.readouterr().out
    assert f"({profile} profile)" in printed and "what the server does" in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["sandbox_profile"] == profile and data["findings"]
    ignored = [f for f in data["findings"] if f["assumption"].startswith("Search filter") and f["verdict"] == "differs"]
    assert len(ignored) == (0 if profile == "documented" else 6)  # four inferred filters and the expiry window


async def test_a_throttle_met_during_the_probe_is_reported() -> None:
    sandbox = Sandbox()
    sandbox.state.inject(Fault("status", route="search", status=409, count=1, retry_after="1"))
    throttle = by_start(await probe(sandbox, max_retry_after=0), "Throttling answers")
    assert throttle.verdict == "ok" and "HTTP 409 x1" in throttle.observed


async def test_listed_commands_are_counted_by_key() -> None:
    sandbox = Sandbox()
    original = sandbox.app
    listed = [{"Key": "MarkAsVerified", "Name": "Mark as verified"}, {"Key": "Reject", "Name": "Reject"}]

    async def with_commands(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/commands"):
            await JSONResponse(listed)(scope, receive, send)
            return
        await original(scope, receive, send)

    sandbox.app = with_commands  # type: ignore[assignment]
    commands = by_start(await probe(sandbox), "The API lists commands")
    assert commands.verdict == "ok" and commands.details == {"count": 2, "keys": ["MarkAsVerified", "Reject"]}
