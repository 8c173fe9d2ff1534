"""One deadline per update call, and no lost update reported as success (issue 19, items 5 and 8).

- NEXUDUS_MAX_CALL_SECONDS bounds the whole call: the per-check lock wait, the read, the write and the
  read-back together. Past it the answer is retryable and says nothing was written, or, once the PUT
  was sent, that the outcome is unknown and the check must be read again. Asserted on what was sent
  and answered (the sandbox's request log), never on timings.
- After every PUT the record is read back; a field that no longer holds what was sent (another writer
  in the admin panel, another integration) makes the answer `conflict`, naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from nexudus_identity_mcp.mcpserver.app import build_server
from nexudus_identity_mcp.sandbox import Fault, Sandbox
from nexudus_identity_mcp.state.sqlite_store import SqliteStore

from .conftest import settings_for
from .helpers import CHECK, AfterPut, body, required_from, server_for

pytestmark = pytest.mark.anyio
UPDATE = "update_coworker_identity_check"
BUDGET = 1.0  # NEXUDUS_MAX_CALL_SECONDS in these tests


async def update(server: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(server, mode="legacy") as client:
        return body(await client.call_tool(UPDATE, arguments), UPDATE)


def arguments(sandbox: Sandbox, **change: Any) -> dict[str, Any]:
    return {**required_from(sandbox.state.record(CHECK)), **change}


# ------------------------------------------------------------------ one deadline
@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_the_read_and_the_write_share_one_deadline(sandbox: Sandbox) -> None:
    """Each takes 0.6 of a 1.0 budget: the read fits, the write is cut off when the budget is spent
    (before: each API call had the whole budget, and the update succeeded after 1.2)."""
    before = sandbox.state.record(CHECK)
    sandbox.state.inject(Fault("delay", route="get", delay=0.6 * BUDGET))
    sandbox.state.inject(Fault("delay", route="update", delay=0.6 * BUDGET))
    out = await update(server_for(sandbox, max_call_seconds=BUDGET), arguments(sandbox, Description="Late."))
    assert out["WasSuccessful"] is False and out["ErrorKind"] == "upstream_unavailable" and out["Retryable"]
    assert "the outcome is unknown" in out["Message"] and "Read the check again" in out["Message"]
    puts = [r for r in sandbox.state.requests if r.route == "update"]
    assert len(puts) == 1 and puts[0].status == 0, "the PUT was sent and given up when the budget ran out"
    assert sandbox.state.count("get") == 1, "no read-back after the deadline"
    assert sandbox.state.record(CHECK) == before


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_out_of_time_before_the_write_says_nothing_was_written(sandbox: Sandbox) -> None:
    sandbox.state.inject(Fault("delay", route="get", delay=2 * BUDGET))
    out = await update(server_for(sandbox, max_call_seconds=BUDGET), arguments(sandbox, Description="Late."))
    assert out["ErrorKind"] == "upstream_unavailable" and out["Retryable"] and "Nothing was written" in out["Message"]
    assert sandbox.state.count("update") == 0


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_the_lock_wait_counts_against_the_same_deadline(sandbox: Sandbox, tmp_path: Path) -> None:
    """Another process holds the check's lock for half the budget while three updates of the check
    wait for it; reads then take 0.7 of the budget. Whoever gets the lock has only what is left of its
    budget for the read, so all three answer "nothing was written" and none writes. (Before, the lock
    wait, the read and the write each had a whole budget: the first to get the lock wrote after 1.2
    budgets.)"""
    other_process = SqliteStore(tmp_path)
    server = server_for(sandbox, max_call_seconds=BUDGET, mcp_state_dir=str(tmp_path), mcp_read_budget="off")
    sandbox.state.inject(Fault("delay", route="get", delay=0.7 * BUDGET, count=3))
    results: list[dict[str, Any]] = []
    async with Client(server, mode="legacy") as client:

        async def one(n: int) -> None:
            result = await client.call_tool(UPDATE, arguments(sandbox, Description=f"Writer {n}."))
            results.append(body(result, UPDATE))

        lease = await other_process.acquire(f"check:{CHECK}", ttl=10 * BUDGET, wait=0)
        async with anyio.create_task_group() as group:
            for n in range(3):
                group.start_soon(one, n)
            await anyio.sleep(0.5 * BUDGET)
            await other_process.release(lease)
    assert len(results) == 3
    for result in results:
        assert result["WasSuccessful"] is False and result["Retryable"], result
        assert result["ErrorKind"] in ("busy", "upstream_unavailable") and "Nothing was written" in result["Message"]
    assert sandbox.state.count("update") == 0


# ------------------------------------------------------------------ the read-back
def second_writer(sandbox: Sandbox, **fields: Any):  # type: ignore[no-untyped-def]
    """After our PUT is applied and before our read-back: someone edits the check in Nexudus."""

    def hook(request: httpx2.Request, response: httpx2.Response) -> None:
        sandbox.state.records[CHECK].update(fields)

    return hook


async def test_a_field_this_call_wrote_and_another_writer_changed_is_a_conflict(sandbox: Sandbox) -> None:
    transport = AfterPut(sandbox, second_writer(sandbox, Description="Edited in the admin panel."))
    out = await update(build_server(settings_for(), transport=transport), arguments(sandbox, Description="Ours."))
    assert out["WasSuccessful"] is False and out["ErrorKind"] == "conflict" and not out["Retryable"]
    assert [e["PropertyName"] for e in out["Errors"]] == ["Description"]
    assert "written by this call" in out["Message"] and "Read the check again" in out["Message"]
    assert out["Changes"] == [{"Field": "Description", "From": "Checked in person at the front desk.", "To": "Ours."}]
    assert out["CurrentUpdatedOn"]
    assert sandbox.state.count("get") == 2 and sandbox.state.count("update") == 1


async def test_a_field_carried_over_and_changed_meanwhile_is_named_too(sandbox: Sandbox) -> None:
    transport = AfterPut(sandbox, second_writer(sandbox, Billed=False, IdentityDocumentIssuedBy="Someone else"))
    out = await update(build_server(settings_for(), transport=transport), arguments(sandbox, Description="Ours."))
    assert out["ErrorKind"] == "conflict"
    assert {e["PropertyName"] for e in out["Errors"]} == {"Billed", "IdentityDocumentIssuedBy"}
    assert "kept from the record" in out["Message"] and "written by this call" not in out["Message"]


async def test_a_read_back_that_matches_is_success(sandbox: Sandbox) -> None:
    # Only audit fields moved (what the API sets itself): the write holds.
    transport = AfterPut(sandbox, second_writer(sandbox, UpdatedOn="2099-01-01T00:00:00.000Z"))
    out = await update(build_server(settings_for(), transport=transport), arguments(sandbox, Description="Ours."))
    assert out["WasSuccessful"] is True and "every field holds the value sent" in out["Message"]
    assert sandbox.state.count("get") == 2


async def test_a_read_back_that_fails_reports_the_write_and_says_to_re_read(sandbox: Sandbox) -> None:
    def refuse_the_read_back(request: httpx2.Request, response: httpx2.Response) -> None:
        sandbox.state.inject(Fault("status", route="get", status=401))

    transport = AfterPut(sandbox, refuse_the_read_back)
    out = await update(build_server(settings_for(), transport=transport), arguments(sandbox, Description="Ours."))
    assert out["WasSuccessful"] is True and "read it again before relying on it" in out["Message"]
    assert sandbox.state.record(CHECK)["Description"] == "Ours."
