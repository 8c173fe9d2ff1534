"""No secret and no identity-document number in any tool result, error or log line.

Recognisable credentials are configured, every tool is driven through its success and error paths
(including an API error body that echoes the request back, and one that quotes the number in its
message), and every result and every log record is searched for them."""

from __future__ import annotations

import base64
import copy
import html
import json
import logging
import re
from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.cli.probe import report, run_probe, table
from nexudus_identity_mcp.mcpserver.app import build_server
from nexudus_identity_mcp.nexudus import NexudusClient
from nexudus_identity_mcp.sandbox import ADMIN_USER, Fault, Sandbox, SandboxState
from nexudus_identity_mcp.sandbox.data import COWORKERS, seed_document_numbers

from .conftest import settings_for
from .helpers import AfterPut, required_from

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
    sandbox.state.accept_token(TOKEN, ADMIN_USER)
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

    # A fresh server for the rest: the dropped PUTs above keep their checks' locks until their outcome
    # can no longer land (NEXUDUS_READ_TIMEOUT + 5 s), so the same server would answer `busy` here.
    async with Client(build_server(settings, transport=sandbox.transport()), mode="legacy") as client:

        async def call(tool: str, args: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(tool, args)
            outputs.append(result.model_dump_json())
            return result.structured_content or {}

        # the commands: listed, dry-run and run with notes quoting the number, with the API failing too
        keys = {c["Name"]: c["Key"] for c in (await call("list_coworker_identity_check_commands", {}))["Commands"]}
        real = str(sandbox.state.records[87654304]["IdentityDocumentNumber"])
        reject = {
            "Key": keys["Mark as rejected"],
            "Ids": [87654304],
            "Parameters": [{"Name": "RejectionNotes", "Value": f"Number {real} does not match the scan"}],
        }
        await call("run_coworker_identity_check_command", {**reject, "DryRun": True})
        for fault in (Fault("envelope_errors", route="run_command"), Fault("status", route="run_command", status=401)):
            sandbox.state.inject(fault)
            await call("run_coworker_identity_check_command", reject)
        sandbox.state.faults.clear()
        await call("run_coworker_identity_check_command", reject)
        # a real write of a new number, then a read of it
        record = (await call("get_coworker_identity_check", {"Id": 87654301}))["Record"]
        await call("update_coworker_identity_check", {**required_from(record), "IdentityDocumentNumber": NEW_NUMBER})
        await call("get_coworker_identity_check", {"Id": 87654301})

    assert sandbox.state.records[87654301]["IdentityDocumentNumber"] == NEW_NUMBER, "the real number was stored"
    tokens = [*sandbox.state.issued(), *sandbox.state.issued("refresh")]
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
        sandbox.state.accept_token(token, ADMIN_USER)
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
        secrets = [*seed_document_numbers(), password, token, *sandbox.state.issued(), *sandbox.state.issued("refresh")]
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


# ---------------------------------------------------------------------------------------------
# Issue 18: the number in other fields, in other forms, in misbehaving API answers; tokens as data.
SEEDED_ID = 87654301
SEEDED_NUMBER = "CB7734129"
NUMERIC_NUMBER = "920553117"
OTHER_FIELDS = (
    "Description",
    "Name",
    "LastError",
    "Description1",
    "IdentityDocumentIssuedBy",
    "StripeVerificationSessionId",
)


def assert_no_variant(texts: list[str], *numbers: str) -> None:
    """No form of the numbers (any case, separators or markup between characters) in any text."""
    from nexudus_identity_mcp.record.redaction import normalise

    for text in texts:
        decoded = html.unescape(re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text))
        flat = "\n".join(normalise(t) for t in (text, text.replace("<", " ").replace("&", " "), decoded))
        for number in numbers:
            assert normalise(number) not in flat, f"{number!r} leaked in {text[:400]!r}"


class Recorder:
    """The sandbox's transport, keeping every PUT body that reached it."""

    def __init__(self, sandbox: Sandbox) -> None:
        import httpx2

        inner = sandbox.transport()
        self.bodies: list[dict[str, Any]] = []
        recorder = self

        class Transport(httpx2.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
                if request.method == "PUT":
                    recorder.bodies.append(json.loads(request.content))
                return await inner.handle_async_request(request)

        self.transport = Transport()


async def outputs_of(
    sandbox: Sandbox, calls: list[tuple[str, dict[str, Any], Fault | None]], **overrides: Any
) -> tuple[list[str], list[dict[str, Any]]]:
    """Run tool calls (each after injecting its fault) through a real client; every output as JSON."""
    settings = settings_for(max_attempts=1, backoff_base=0, max_retry_after=0, **overrides)
    texts: list[str] = []
    bodies: list[dict[str, Any]] = []
    async with Client(build_server(settings, transport=sandbox.transport()), mode="legacy") as client:
        for tool, args, fault in calls:
            sandbox.state.faults.clear()
            if fault is not None:
                sandbox.state.inject(fault)
            result = await client.call_tool(tool, args)
            texts.append(result.model_dump_json())
            bodies.append(result.structured_content or {})
    sandbox.state.faults.clear()
    return texts, bodies


def seeded_record(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.state.record(SEEDED_ID)


def update_args(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    record = seeded_record(sandbox)
    return {**required_from(record), "Description": "leak check", **extra}


@pytest.mark.parametrize(
    "form", [SEEDED_NUMBER, SEEDED_NUMBER.lower(), "cb7 734 129", "CB-7734-129", "C.B.7.7.3.4.1.2.9", "cb7/734/129"]
)
async def test_the_number_in_every_other_field_in_get_and_find(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    for name in OTHER_FIELDS:
        sandbox.state.records[SEEDED_ID][name] = f"{name} mentions {form} here"
    texts, bodies = await outputs_of(
        sandbox,
        [
            ("get_coworker_identity_check", {"Id": SEEDED_ID}, None),
            ("find_coworker_identity_checks", {"CoworkerId": 2001}, None),
            ("find_coworker_identity_checks", {"Name": "mentions"}, None),
            ("update_coworker_identity_check", {**update_args(sandbox), "DryRun": True}, None),
        ],
    )
    assert_no_variant([*texts, caplog.text], SEEDED_NUMBER)
    record = bodies[0]["Record"]
    token = record["IdentityDocumentNumber"]
    assert all(record[name] == f"{name} mentions {token} here" for name in OTHER_FIELDS)
    assert any(token in row.get("Name", "") for row in bodies[1]["Checks"])


def api_faults(number: str, route: Route) -> list[Fault]:
    upper = number.upper()
    split = f"{upper[:3]}<b>{upper[3:6]}</b>{upper[6:]}"
    error = {"Message": "rejected", "Value": None, "WasSuccessful": False}
    return [
        # an HTML error page that splits the number with a tag
        Fault("status", route=route, status=502, body=f"<html><body><p>Bad record {split}</p></body></html>"),
        # a 500 page that dumps the record
        Fault("status", route=route, status=500, body=f"Unhandled error. Record: {json.dumps(record_like(number))}"),
        Fault("status", route=route, status=500, body={"Exception": "NullReference", "Record": record_like(number)}),
        # API errors carrying it in PropertyName, a camelCase property, an AttemptedValue object or list
        Fault("status", route=route, status=400, body={**error, "Errors": [prop_error(f"Number[{number}]", None)]}),
        Fault(
            "status", route=route, status=400, body={**error, "Errors": [prop_error("identityDocumentNumber", number)]}
        ),
        Fault("status", route=route, status=400, body={**error, "Errors": [prop_error("Check", {"number": number})]}),
        Fault("status", route=route, status=400, body={**error, "Errors": [prop_error("Check", [1, number])]}),
        Fault(
            "status",
            route=route,
            status=400,
            body={**error, "Errors": [prop_error("identityDocumentNumber", {"Value": number, "Parts": [number]})]},
        ),
        # a 200 failure envelope carrying it lower-cased
        Fault("status", route=route, status=200, body={**error, "Status": 200, "Message": f"dup of {number.lower()}"}),
        Fault("status", route=route, status=200, body={**error, "Message": "no", "Errors": [f"bad {number.lower()}"]}),
    ]


def record_like(number: str) -> dict[str, Any]:
    return {"Id": SEEDED_ID, "Name": "Passport check", "IdentityDocumentNumber": number, "Description": "x"}


def prop_error(prop: str, attempted: Any) -> dict[str, Any]:
    return {"PropertyName": prop, "Message": "is not valid", "AttemptedValue": attempted}


Route = str


@pytest.mark.parametrize("index", range(10))
async def test_misbehaving_api_answers_never_carry_the_number(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, index: int
) -> None:
    caplog.set_level(logging.DEBUG)
    get = ("get_coworker_identity_check", {"Id": SEEDED_ID})
    calls: list[tuple[str, dict[str, Any], Fault | None]] = [
        # the update reads the record, then the PUT answers badly
        ("update_coworker_identity_check", update_args(sandbox), api_faults(SEEDED_NUMBER, "update")[index]),
        # a read after a read: the server remembers the check's number
        (*get, None),
        (*get, api_faults(SEEDED_NUMBER, "get")[index]),
        ("find_coworker_identity_checks", {"CoworkerId": 2001}, api_faults(SEEDED_NUMBER, "search")[index]),
    ]
    texts, bodies = await outputs_of(sandbox, calls)
    assert_no_variant([*texts, caplog.text], SEEDED_NUMBER)
    assert bodies[0]["WasSuccessful"] is False and bodies[2]["WasSuccessful"] is False
    assert sandbox.state.records[SEEDED_ID]["IdentityDocumentNumber"] == SEEDED_NUMBER


async def test_a_dump_on_the_first_read_is_caught_by_its_label(sandbox: Sandbox) -> None:
    """The server has never seen the check: the number is known only from the field name beside it."""
    texts, _ = await outputs_of(
        sandbox,
        [
            ("get_coworker_identity_check", {"Id": SEEDED_ID}, fault)
            for i, fault in enumerate(api_faults(SEEDED_NUMBER, "get"))
            if i in (1, 2, 4, 7)  # the dumps, and the errors that name the field
        ],
    )
    assert_no_variant(texts, SEEDED_NUMBER)


async def test_a_number_that_is_a_json_number(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    sandbox.state.records[SEEDED_ID]["IdentityDocumentNumber"] = NUMERIC_NUMBER
    as_number = {**seeded_record(sandbox), "IdentityDocumentNumber": int(NUMERIC_NUMBER)}
    numeric_error = {
        "Message": "rejected",
        "WasSuccessful": False,
        "Errors": [prop_error("Description", int(NUMERIC_NUMBER)), prop_error("Check", {"n": int(NUMERIC_NUMBER)})],
    }
    texts, bodies = await outputs_of(
        sandbox,
        [
            (
                "get_coworker_identity_check",
                {"Id": SEEDED_ID},
                Fault("status", route="get", status=200, body=as_number),
            ),
            ("get_coworker_identity_check", {"Id": SEEDED_ID}, None),
            (
                "update_coworker_identity_check",
                update_args(sandbox),
                Fault("status", route="update", status=400, body=numeric_error),
            ),
            ("find_coworker_identity_checks", {"CoworkerId": 2001}, None),
        ],
    )
    assert_no_variant([*texts, caplog.text], NUMERIC_NUMBER)
    assert str(bodies[0]["Record"]["IdentityDocumentNumber"]).startswith("«ID_DOC:")
    assert bodies[0]["Record"]["IdentityDocumentNumber"] == bodies[1]["Record"]["IdentityDocumentNumber"]


async def test_prompts_rendered_text_is_redacted(sandbox: Sandbox) -> None:
    from nexudus_identity_mcp.mcpserver.prompt_templates import load_prompts

    name, template = next(iter(load_prompts().items()))
    settings = settings_for()
    async with Client(build_server(settings, transport=sandbox.transport()), mode="legacy") as client:
        await client.call_tool("get_coworker_identity_check", {"Id": SEEDED_ID})
        args = {a.name: f"about {SEEDED_NUMBER.lower()}" for a in template.arguments}
        prompt = await client.get_prompt(name, args)
    assert_no_variant([prompt.model_dump_json()], SEEDED_NUMBER)


@pytest.mark.parametrize(
    ("form", "unchanged"),
    [
        ("{T}", True),  # upper-case hex
        ("<<{b}>>", True),  # ASCII brackets
        ("{b}", True),  # no guillemets
        ('"{t}"', True),  # quoted
        ("'{t}'", True),
        ("« ID_DOC : {h} »", True),  # extra spaces
        ("{t} (unchanged)", False),  # a suffix
        ("{t}.", False),
        ("«ID_DOC:{h}» «ID_DOC:{h}»", False),
        ("«ID_DOC:0000beef»", False),  # another value's token
        ("«NAME:{h}»", False),  # the wrong label
        ("<<NAME:{h}>>", False),
        ("ID_DOC", False),
        ("«PII:ID_DOC:7f3a…»", False),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
async def test_a_token_like_value_is_never_stored(sandbox: Sandbox, form: str, unchanged: bool, dry_run: bool) -> None:
    recorder = Recorder(sandbox)
    settings = settings_for()
    async with Client(build_server(settings, transport=recorder.transport), mode="legacy") as client:
        read = await client.call_tool("get_coworker_identity_check", {"Id": SEEDED_ID})
        record = (read.structured_content or {})["Record"]
        t = record["IdentityDocumentNumber"]
        given = form.format(t=t, T=t.upper(), b=t.strip("«»"), h=t[len("«ID_DOC:") : -1])
        args = {**required_from(record), "IdentityDocumentNumber": given, "Description": "changed", "DryRun": dry_run}
        result = await client.call_tool("update_coworker_identity_check", args)
    out = result.structured_content or {}
    stored = sandbox.state.records[SEEDED_ID]
    assert stored["IdentityDocumentNumber"] == SEEDED_NUMBER, "the real number is kept"
    assert all(body["IdentityDocumentNumber"] == SEEDED_NUMBER for body in recorder.bodies), "no PUT carried it"
    if unchanged:
        assert out["WasSuccessful"] is True, out
        assert [c["Field"] for c in out["Changes"]] == ["Description"]
        assert len(recorder.bodies) == (0 if dry_run else 1)
    else:
        assert out["WasSuccessful"] is False and out["ErrorKind"] == "validation", out
        assert [e["PropertyName"] for e in out["Errors"]] == ["IdentityDocumentNumber"]
        assert "token" in out["Errors"][0]["Message"]
        assert out["Errors"][0]["AttemptedValue"] == given, "shown back as sent, not as a new token"
        assert recorder.bodies == [] and stored["Description"] != "changed"


async def test_configuration_errors_never_show_a_secret(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Client-token and settings errors (and the not_configured answer that carries them over stdio)
    quote no token, password or key, even a misplaced one."""
    from nexudus_identity_mcp.mcpserver.http_app import ConfigError, create_app
    from nexudus_identity_mcp.settings import settings_or_problem

    client_token = "Client-LEAKCHECK-9f3e1d"
    messages: list[str] = []
    for raw in (client_token, f"{client_token}=desk", f"desk={client_token},ops={client_token}", f"a b={client_token}"):
        with pytest.raises(ConfigError) as refused:
            create_app(settings_for(mcp_client_tokens=raw), transport=sandbox.transport(), host="127.0.0.1")
        messages.append(str(refused.value))
    monkeypatch.setenv("NEXUDUS_TOKEN", TOKEN)
    monkeypatch.setenv("NEXUDUS_PASSWORD", PASSWORD)
    monkeypatch.setenv("NEXUDUS_MCP_SECRET", REDACTION_SECRET)
    monkeypatch.setenv("NEXUDUS_MCP_CLIENT_TOKENS", client_token)
    for variable, value in (
        ("NEXUDUS_BASE_URL", f"http://{TOKEN}.example/{PASSWORD}"),
        ("NEXUDUS_AUTH", TOKEN),
        ("NEXUDUS_MCP_REDACT", REDACTION_SECRET),
        ("NEXUDUS_USERNAME", ""),  # a password without a username
    ):
        monkeypatch.setenv(variable, value)
        settings, problem = settings_or_problem()
        assert problem is not None and isinstance(problem, str)
        messages.append(problem)
        async with Client(build_server(settings, problem=problem), mode="legacy") as client:
            result = await client.call_tool("get_coworker_identity_check", {"Id": 87654301})
        messages.append(result.model_dump_json())
        monkeypatch.delenv(variable)
    for secret in (client_token, TOKEN, PASSWORD, REDACTION_SECRET):
        for message in messages:
            assert secret not in message, f"{secret!r} leaked into {message!r}"


async def test_the_read_back_and_deadline_paths_leak_nothing(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A write overwritten by another writer (the conflict after the read-back, with the Changes this
    call made) and a write cut off by the call's deadline: neither shows a document number."""
    caplog.set_level(logging.DEBUG)
    check_id = 87654301
    real = sandbox.state.records[check_id]["IdentityDocumentNumber"]
    other = "OTHERDOC-LEAKCHECK-88"

    def second_writer(request: Any, response: Any) -> None:
        sandbox.state.records[check_id]["IdentityDocumentNumber"] = other

    outputs: list[str] = []
    arguments = {**required_from(sandbox.state.record(check_id)), "IdentityDocumentNumber": NEW_NUMBER}
    async with Client(build_server(settings_for(), transport=AfterPut(sandbox, second_writer))) as client:
        result = await client.call_tool("update_coworker_identity_check", arguments)
        outputs.append(result.model_dump_json())
        assert (result.structured_content or {}).get("ErrorKind") == "conflict"
    sandbox.state.inject(Fault("delay", route="update", delay=1.0))
    async with Client(build_server(settings_for(max_call_seconds=0.3), transport=sandbox.transport())) as client:
        result = await client.call_tool("update_coworker_identity_check", arguments)
        outputs.append(result.model_dump_json())
        assert "the outcome is unknown" in (result.structured_content or {}).get("Message", "")
    logs = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    for secret in (real, other, NEW_NUMBER):
        assert secret not in "\n".join(outputs) and secret not in logs, secret


async def test_runtime_tokens_totp_secret_and_token_errors_never_shown(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Password mode with 2FA: the access and refresh tokens obtained at run time, the TOTP secret and
    the password, echoed by API messages, error pages and the token endpoint's error text, reach no
    tool result and no log line; the token endpoint's text is capped."""
    from nexudus_identity_mcp.sandbox import TOTP_SECRET, TOTP_USER

    caplog.set_level(logging.DEBUG)
    for name in ("httpx2", "httpcore2", "mcp", "nexudus_identity_mcp"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    sandbox.state.users[TOTP_USER].password = PASSWORD
    settings = settings_for(
        token=None, username=TOTP_USER, password=PASSWORD, totp_secret=TOTP_SECRET, max_attempts=2, backoff_base=0
    )
    outputs: list[str] = []
    async with Client(build_server(settings, transport=sandbox.transport()), mode="legacy") as client:

        async def call(tool: str, args: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(tool, args)
            outputs.append(result.model_dump_json())
            return result.structured_content or {}

        record = (await call("get_coworker_identity_check", {"Id": 87654301}))["Record"]
        (access,) = sandbox.state.issued()
        (refresh,) = sandbox.state.issued("refresh")
        echo = f"token {access} has expired; refresh token {refresh} revoked; totp {TOTP_SECRET}; pw {PASSWORD}"
        for fault in (
            Fault("status", route="get", status=400, body={"Message": echo}),
            Fault("status", route="update", status=200, body={"Message": echo, "WasSuccessful": False}),
            Fault("html", route="get", status=200),
            Fault("status", route="get", status=502, body=f"<pre>{echo}</pre>", count=10),
            Fault("status", route="search", status=500, body=echo, count=10),
            Fault("status", route="update", status=429, body=f"Wait 1 seconds. {echo}", count=10),
        ):
            sandbox.state.inject(fault)
            await call("get_coworker_identity_check", {"Id": 87654301})
            await call("find_coworker_identity_checks", {"CoworkerId": record["CoworkerId"]})
            await call("update_coworker_identity_check", {**required_from(record), "Description": "leak check"})
            sandbox.state.faults.clear()
        # The token endpoint echoing the password, and one with a 200,000-character error.
        sandbox.state.forget_tokens()
        sandbox.state.inject(
            Fault(
                "status",
                route="token",
                status=400,
                body={"error": "invalid_grant", "error_description": echo},
                count=2,  # the refresh grant, then the password grant
            )
        )
        await call("get_coworker_identity_check", {"Id": 87654301})
        sandbox.state.inject(Fault("status", route="token", status=400, body={"error": "e" * 200_000}, count=2))
        capped = await call("get_coworker_identity_check", {"Id": 87654301})
    assert capped["ErrorKind"] == "unauthorized" and len(capped["Message"]) < 1000
    logs = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    for secret in (access, refresh, TOTP_SECRET, PASSWORD):
        for where, text in (("tool results", "\n".join(outputs)), ("logs", logs)):
            assert secret not in text, f"{secret[:6]}… leaked into {where}"


async def test_check_diagnoses_never_show_credentials(served_sandbox, captured_logs) -> None:  # type: ignore[no-untyped-def]
    """Every `check` outcome (refused login, refused token, unreachable, TLS, wrong path) leaves the
    password and token out of the lines it prints and out of the logs."""
    from nexudus_identity_mcp.cli.check import diagnose
    from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, free_port

    login = {"token": None, "username": "admin@sandbox.example", "password": PASSWORD}
    cases = [
        settings_for(served_sandbox.url, **login),
        settings_for(served_sandbox.url, token=TOKEN),
        settings_for(f"http://{LOOPBACK}:{free_port()}", token=TOKEN, max_attempts=1),
        settings_for(f"https://{LOOPBACK}:{served_sandbox.port}", max_attempts=1, **login),
        settings_for(f"{served_sandbox.url}/nexudus", token=TOKEN),
    ]
    for settings in cases:
        result = await diagnose(settings)
        printed = "\n".join(result.lines)
        assert not result.ok and printed
        assert PASSWORD not in printed and TOKEN not in printed, printed
    assert PASSWORD not in captured_logs.text and TOKEN not in captured_logs.text
