"""The sandbox's commands routes held to the documented shapes (docs/development.md, "What is known of the
Nexudus API"): the list, the run envelope and its refusals, auth, throttling and fault injection on both
routes. The keys are the sandbox's invented ones."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx2
import pytest

from nexudus_identity_mcp.sandbox import SANDBOX_TOKEN, VIEWER_PASSWORD, VIEWER_USER, Fault, Sandbox
from nexudus_identity_mcp.sandbox.state import Route_

pytestmark = pytest.mark.anyio
PATH = "/api/spaces/coworkeridentitychecks"
AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
VIEWER = httpx2.BasicAuth(VIEWER_USER, VIEWER_PASSWORD)


async def request(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> httpx2.Response:
    kwargs.setdefault("headers", AUTH)
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url="http://sandbox") as http:
        return await http.request(method, path, **kwargs)


def run(sandbox: Sandbox, key: str, ids: Any, parameters: Any = None, **kwargs: Any) -> Awaitable[httpx2.Response]:
    return request(
        sandbox, "POST", f"{PATH}/runcommand", json={"Key": key, "Ids": ids, "Parameters": parameters or []}, **kwargs
    )


async def test_list_has_the_documented_shape(sandbox: Sandbox) -> None:
    listed = (await request(sandbox, "GET", f"{PATH}/commands")).json()
    shape = {"Key", "Name", "NeedsEntitiesToRun", "AppliesOnlyToOneEntity", "RequiresParameters"}
    shape |= {"AppliesOnlyToMultipleEntities", "AppliesOnlyToTwoEntities", "DisplayInDropdown", "DisplayInGrid"}
    assert all(set(c) == shape | {"Icon", "Order"} for c in listed)
    assert all(set(p) == {"Name", "Type", "Required"} for c in listed for p in c["RequiresParameters"])
    assert any(c["AppliesOnlyToMultipleEntities"] for c in listed)
    names = {c["Name"] for c in listed}
    assert {"Mark as verified", "Mark as rejected", "Cancel identity check"} <= names
    assert any(c["AppliesOnlyToOneEntity"] for c in listed)
    sandbox.state.hidden_commands.add(listed[0]["Key"])
    assert len((await request(sandbox, "GET", f"{PATH}/commands")).json()) == len(listed) - 1


async def test_a_run_changes_status_last_error_and_updated_on(sandbox: Sandbox) -> None:
    before = sandbox.state.record(87654305)
    answer = await run(
        sandbox, "IDENTITYCHECK_MARK_AS_REJECTED", [87654305], [{"Name": "RejectionNotes", "Value": "Blurred"}]
    )
    assert answer.status_code == 200 and answer.json()["WasSuccessful"] is True
    after = sandbox.state.record(87654305)
    assert (
        after["VerificationStatus"] == 4
        and after["LastError"] == "Blurred"
        and after["UpdatedOn"] != before["UpdatedOn"]
    )
    assert (await run(sandbox, "IDENTITYCHECK_MARK_AS_VERIFIED", [87654305])).status_code == 200
    assert (
        sandbox.state.record(87654305)["VerificationStatus"] == 3
        and sandbox.state.record(87654305)["LastError"] is None
    )


@pytest.mark.parametrize(
    ("key", "ids", "parameters", "status", "property_name"),
    [
        ("NO_SUCH_COMMAND", [87654305], None, 200, None),
        ("IDENTITYCHECK_MARK_AS_REJECTED", [87654305], None, 400, "RejectionNotes"),
        ("IDENTITYCHECK_REQUEST_NEW_DOCUMENT", [87654305, 87654306], None, 400, "Ids"),
        ("IDENTITYCHECK_CANCEL", [5], None, 400, "Ids"),
        ("IDENTITYCHECK_CANCEL", [], None, 400, "Ids"),
    ],
)
async def test_refusals_write_nothing(
    sandbox: Sandbox, key: str, ids: list[int], parameters: Any, status: int, property_name: str | None
) -> None:
    before = {i: sandbox.state.record(i) for i in (87654305, 87654306)}
    answer = await run(sandbox, key, ids, parameters)
    envelope = answer.json()
    assert answer.status_code == status and envelope["WasSuccessful"] is False
    if property_name:
        assert property_name in {e["PropertyName"] for e in envelope["Errors"]}
    assert {i: sandbox.state.record(i) for i in before} == before


async def test_viewer_may_list_but_not_run(sandbox: Sandbox) -> None:
    assert (await request(sandbox, "GET", f"{PATH}/commands", headers={}, auth=VIEWER)).status_code == 200
    assert (await run(sandbox, "IDENTITYCHECK_CANCEL", [87654305], headers={}, auth=VIEWER)).status_code == 401


async def test_runs_count_against_the_write_rate(sandbox: Sandbox) -> None:
    sandbox.state.write_limit = 1
    assert (await run(sandbox, "IDENTITYCHECK_CANCEL", [87654305])).status_code == 200
    throttled = await run(sandbox, "IDENTITYCHECK_CANCEL", [87654306])
    assert throttled.status_code == 409 and throttled.headers["Retry-After"] == "1"
    assert (await request(sandbox, "GET", f"{PATH}/commands")).status_code == 200  # the list is a read


@pytest.mark.parametrize("route", ["commands", "run_command"])
async def test_faults_apply_to_both_routes(sandbox: Sandbox, route: Route_) -> None:
    sandbox.state.inject(Fault("status", route=route, status=503))
    if route == "commands":
        answer = await request(sandbox, "GET", f"{PATH}/commands")
    else:
        answer = await run(sandbox, "IDENTITYCHECK_CANCEL", [87654305])
    assert answer.status_code == 503 and sandbox.state.record(87654305)["VerificationStatus"] == 1
