"""No secret and no identity-document number in any tool result, error or log line.

Recognisable credentials are configured, every tool is driven through its success and error paths
(including an API error body that echoes the request back, and one that quotes the number in its
message), and every result and every log record is searched for them."""

from __future__ import annotations

import base64
import copy
import json
import logging
from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.app import build_server
from nexudus_identity_mcp.nexudus import NexudusClient
from nexudus_identity_mcp.probe import report, run_probe, table
from nexudus_identity_mcp.sandbox import ADMIN_USER, Fault, IssuedToken, Sandbox, SandboxState
from nexudus_identity_mcp.sandbox.data import COWORKERS, seed_document_numbers

from .conftest import settings_for
from .helpers import required_from

pytestmark = pytest.mark.anyio
PASSWORD = "Pw-LEAKCHECK-4b1d9e"
TOKEN = "Tok-LEAKCHECK-0c7e2a91"
REDACTION_SECRET = "Secret-LEAKCHECK-55aa"
NEW_NUMBER = "NEWDOC-LEAKCHECK-77"


def faults(number: str) -> list[Fault | None]:
    quoted = {
        "Message": f"IdentityDocumentNumber: '{number}' failed the checksum",
        "Value": None,
        "WasSuccessful": False,
        "Errors": [
            {"AttemptedValue": number, "Message": f"'{number}' is not valid", "PropertyName": "IdentityDocumentNumber"}
        ],
    }
    return [
        None,
        Fault("envelope_errors", route="update"),
        Fault("status", route="update", status=400, body=quoted),
        Fault("html", route="update", status=502, count=10),
        Fault("status", route="update", status=409, count=10),
        Fault("malformed", route="update"),
        Fault("drop", route="update", count=10),
        Fault("status", route="get", status=401, count=10),
        Fault("status", route="get", status=404),
    ]


@pytest.mark.parametrize("auth", ["password", "bearer", "basic"])
async def test_nothing_secret_reaches_results_or_logs(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, auth: str
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx2", "httpcore2", "mcp", "nexudus_identity_mcp"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    sandbox.state.users[ADMIN_USER].password = PASSWORD
    sandbox.state._tokens[TOKEN] = IssuedToken(ADMIN_USER, float("inf"), ADMIN_USER)
    credentials: dict[str, Any] = {
        "password": dict(token=None, username=ADMIN_USER, password=PASSWORD),
        "bearer": dict(token=TOKEN),
        "basic": dict(token=None, username=ADMIN_USER, password=PASSWORD, auth="basic"),
    }[auth]
    settings = settings_for(
        **credentials, max_attempts=2, backoff_base=0, max_retry_after=0, mcp_secret=REDACTION_SECRET
    )
    outputs: list[str] = []
    numbers = seed_document_numbers()

    async with Client(build_server(settings, transport=sandbox.transport()), mode="legacy") as client:

        async def call(tool: str, args: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(tool, args)
            outputs.append(result.model_dump_json())
            return result.structured_content or {}

        for check_id in sorted(sandbox.state.records):
            record = (await call("get_coworker_identity_check", {"Id": check_id}))["Record"]
            await call("find_coworker_identity_checks", {"CoworkerId": record["CoworkerId"]})
            sandbox.state.inject(Fault("html", route="search", status=502, count=10))
            await call("find_coworker_identity_checks", {"BusinessId": record["BusinessId"]})
            sandbox.state.faults.clear()
            real = sandbox.state.records[check_id].get("IdentityDocumentNumber") or "NONE-ON-RECORD"
            for fault in faults(real):
                if fault is not None:
                    sandbox.state.inject(copy.deepcopy(fault))
                await call(
                    "update_coworker_identity_check",
                    {**required_from(record), "Description": "leak check", "DryRun": fault is None},
                )
            sandbox.state.faults.clear()
            sandbox.state.inject(Fault("envelope_errors", route="update"))
            await call(
                "update_coworker_identity_check", {**required_from(record), "IdentityDocumentNumber": NEW_NUMBER}
            )
            await call("update_coworker_identity_check", {**required_from(record), "IdentityDocumentNumber": 12345})
            sandbox.state.faults.clear()
            # Paths that read the record to explain an error: required-field Hints, a differing owner,
            # a read-only field, and an enum change reported in Warnings (a dry run).
            for args in (
                {"Id": check_id, "IdentityDocumentNumber": NEW_NUMBER},
                {**required_from(record), "CoworkerId": 2999, "IdentityDocumentNumber": NEW_NUMBER},
                {**required_from(record), "VerificationStatus": "Successful", "IdentityDocumentNumber": NEW_NUMBER},
                {**required_from(record), "IdentityDocumentType": "Other", "DryRun": True},
            ):
                await call("update_coworker_identity_check", args)
        # a real write of a new number, then a read of it
        record = (await call("get_coworker_identity_check", {"Id": 87654301}))["Record"]
        await call("update_coworker_identity_check", {**required_from(record), "IdentityDocumentNumber": NEW_NUMBER})
        await call("get_coworker_identity_check", {"Id": 87654301})

    assert sandbox.state.records[87654301]["IdentityDocumentNumber"] == NEW_NUMBER, "the real number was stored"
    tokens = list(sandbox.state._tokens) + list(sandbox.state._refresh)
    logs = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    sandbox_log = json.dumps([r.__dict__ for r in sandbox.state.requests])
    basic = base64.b64encode(f"{ADMIN_USER}:{PASSWORD}".encode()).decode()
    for secret in [PASSWORD, TOKEN, REDACTION_SECRET, basic, NEW_NUMBER, *numbers, *tokens]:
        for where, text in (("tool results", "\n".join(outputs)), ("logs", logs), ("sandbox log", sandbox_log)):
            assert secret not in text, f"{secret!r} leaked into {where}"
    assert "authorization" not in logs.lower()
    assert "«ID_DOC:" in "\n".join(outputs), "numbers were shown as tokens"


async def test_probe_output_and_report_carry_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    password, token = "Pw-PROBELEAK-91ac", "Tok-PROBELEAK-2f7d"
    caplog.set_level(logging.DEBUG)
    for bearer in (True, False):
        sandbox = Sandbox(SandboxState(profile="live"))
        sandbox.state.users[ADMIN_USER].password = password
        sandbox.state._tokens[token] = IssuedToken(ADMIN_USER, float("inf"), ADMIN_USER)
        credentials: dict[str, Any] = (
            {"token": token} if bearer else {"token": None, "username": ADMIN_USER, "password": password}
        )
        settings = settings_for(**credentials)
        async with NexudusClient(settings, transport=sandbox.transport()) as client:
            findings = await run_probe(client, write_check=87654301)
            text = table(findings) + json.dumps(report(findings, client))
        records = list(sandbox.state.records.values())
        member_text = [
            *(name for name, _, _ in COWORKERS.values()),
            *(str(r[k]) for r in records for k in ("CoworkerEmail", "ToStringText", "CoworkerBillingName")),
        ]
        secrets = [*seed_document_numbers(), password, token, *sandbox.state._tokens, *sandbox.state._refresh]
        logs = "\n".join(r.getMessage() for r in caplog.records)
        for value in [*secrets, *member_text]:
            assert value not in text, f"{value!r} is in the probe's output or report"
        for value in secrets:
            assert value not in logs, f"{value!r} is in the logs"


async def test_unknown_fields_of_the_live_api_never_reach_the_model() -> None:
    """The live profile's records carry text no page lists (an email, a display text, an object):
    get, find, a dry run, an update and an API error echoing the body show none of it."""
    sandbox = Sandbox(SandboxState(profile="live"))
    hidden = ["Locker"] + [r[k] for r in sandbox.state.records.values() for k in ("CoworkerEmail", "ToStringText")]
    outputs: list[str] = []
    async with Client(build_server(settings_for(), transport=sandbox.transport()), mode="legacy") as client:
        for check_id in sorted(sandbox.state.records):
            got = await client.call_tool("get_coworker_identity_check", {"Id": check_id})
            record = (got.structured_content or {})["Record"]
            outputs.append(got.model_dump_json())
            for args in ({"CoworkerId": record["CoworkerId"]}, {"Name": "check"}, {"CoworkerFullName": "a"}):
                outputs.append((await client.call_tool("find_coworker_identity_checks", args)).model_dump_json())
            update = {**required_from(record), "Description": "leak check"}
            for fault in (None, Fault("envelope_errors", route="update")):
                if fault is not None:
                    sandbox.state.inject(fault)
                for dry_run in (True, False):
                    result = await client.call_tool("update_coworker_identity_check", {**update, "DryRun": dry_run})
                    outputs.append(result.model_dump_json())
    text = "\n".join(outputs)
    for value in hidden:
        assert value not in text, f"{value!r} reached the model"
    assert '"ReviewAttempts"' in text, "plain numbers are shown"
