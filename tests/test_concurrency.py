"""Concurrent staff: 200 updates, 16 at a time, to one check and to many, against the sandbox with
throttling on. Every call ends in success or a clear throttled result, the final records hold what
the successful calls wrote (and nothing else changed), and with ExpectedUpdatedOn a conflicting
concurrent write is refused, not overwritten."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from nexudus_identity_mcp.record.timefmt import parse_datetime
from nexudus_identity_mcp.sandbox import Sandbox

from .helpers import CHECK, body, required_from, server_for

pytestmark = pytest.mark.anyio
UPDATE = "update_coworker_identity_check"
CALLS, AT_ONCE = 200, 16
UNTOUCHED_BY_DESCRIPTION = {"Description", "UpdatedOn", "UpdatedBy"}


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_many_concurrent_updates_under_throttling(sandbox: Sandbox) -> None:
    sandbox.state.write_limit, sandbox.state.write_window = 40, 1.0
    before = {i: sandbox.state.record(i) for i in sandbox.state.records}
    others = [i for i in sorted(sandbox.state.records) if i != CHECK]
    targets = [CHECK if n % 2 == 0 else others[n % len(others)] for n in range(CALLS)]
    outcomes: dict[int, dict[str, Any]] = {}
    limiter = anyio.CapacityLimiter(AT_ONCE)

    async with Client(
        server_for(sandbox, max_attempts=3, max_retry_after=0.2, backoff_base=0.01), mode="legacy"
    ) as client:
        records = {
            i: body(await client.call_tool("get_coworker_identity_check", {"Id": i}), "get_coworker_identity_check")[
                "Record"
            ]
            for i in set(targets)
        }

        async def one(n: int) -> None:
            async with limiter:
                result = await client.call_tool(
                    UPDATE, {**required_from(records[targets[n]]), "Description": f"call-{n}"}
                )
                outcomes[n] = body(result, UPDATE)

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for n in range(CALLS):
                    tg.start_soon(one, n)

    assert len(outcomes) == CALLS
    kinds = {out.get("ErrorKind", "success") for out in outcomes.values()}
    assert kinds <= {"success", "rate_limited"}, kinds
    assert "success" in kinds
    for out in outcomes.values():
        if out.get("ErrorKind") == "rate_limited":
            assert out["Retryable"] is True and out["RetryAfterSeconds"] >= 1
    for check_id in set(targets):
        wins = [n for n, out in outcomes.items() if targets[n] == check_id and out["WasSuccessful"]]
        final = sandbox.state.record(check_id)
        if wins:
            assert final["Description"] in {f"call-{n}" for n in wins}
            latest = max(parse_datetime(outcomes[n]["UpdatedOn"]) for n in wins)  # type: ignore[type-var]
            assert parse_datetime(final["UpdatedOn"]) == latest
        else:
            assert final == before[check_id]
        assert {k for k in final if final[k] != before[check_id][k]} <= UNTOUCHED_BY_DESCRIPTION
    throttled = sum(1 for out in outcomes.values() if not out["WasSuccessful"])
    print(
        f"\n{CALLS} calls, {AT_ONCE} at a time: {CALLS - throttled} succeeded, {throttled} throttled; "
        f"{sandbox.state.count('update')} PUTs reached the sandbox"
    )


async def test_expected_updated_on_refuses_concurrent_overwrites(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox), mode="legacy") as client:
        record = body(
            await client.call_tool("get_coworker_identity_check", {"Id": CHECK}), "get_coworker_identity_check"
        )["Record"]
        outcomes: dict[int, dict[str, Any]] = {}

        async def one(n: int) -> None:
            result = await client.call_tool(
                UPDATE,
                {**required_from(record), "Description": f"writer-{n}", "ExpectedUpdatedOn": record["UpdatedOn"]},
            )
            outcomes[n] = body(result, UPDATE)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for n in range(AT_ONCE):
                    tg.start_soon(one, n)

    winners = [n for n, out in outcomes.items() if out["WasSuccessful"]]
    assert len(winners) == 1, outcomes
    assert all(out["ErrorKind"] == "conflict" for n, out in outcomes.items() if n != winners[0])
    assert sandbox.state.record(CHECK)["Description"] == f"writer-{winners[0]}"
    assert sandbox.state.count("update") == 1


async def test_concurrent_updates_of_different_fields_lose_nothing(sandbox: Sandbox) -> None:
    """Read-merge-write per check is serialised: staff changing different optional fields all land.
    (Required fields travel in every call, so a concurrent change to one of them is guarded only by
    ExpectedUpdatedOn, as the test above shows.)"""
    async with Client(server_for(sandbox), mode="legacy") as client:
        record = body(
            await client.call_tool("get_coworker_identity_check", {"Id": CHECK}), "get_coworker_identity_check"
        )["Record"]
        changes = [
            {"Description": "desk note"},
            {"IdentityDocumentIssuedBy": "IRN Lisboa"},
            {"Billed": False},
            {"StripeVerificationSessionId": "vs_concurrent"},
        ]

        async def one(change: dict[str, Any]) -> None:
            result = await client.call_tool(UPDATE, {**required_from(record), **change})
            assert not result.is_error, result.structured_content

        async with anyio.create_task_group() as tg:
            for change in changes:
                tg.start_soon(one, change)
    final = sandbox.state.record(CHECK)
    assert (
        final["Description"],
        final["IdentityDocumentIssuedBy"],
        final["Billed"],
        final["StripeVerificationSessionId"],
    ) == ("desk note", "IRN Lisboa", False, "vs_concurrent")
