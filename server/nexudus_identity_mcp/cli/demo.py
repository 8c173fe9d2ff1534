"""`nexudus-identity-mcp demo`: a realistic session, start to finish, against the sandbox.

It starts the real server over stdio as a subprocess (`serve --sandbox`), drives it with the MCP
client as an assistant would, and prints a short transcript: the tools on offer, reading a check,
an update with a typical mistake (a misspelt enum name and a missing required field), the
structured error, the corrected call built from the error's own Hint, the changes made, a dry
run, and a verification: the command's Key discovered, the staff's confirmation asked through the
client (elicitation), the status before and after. It exits 0 only when every step behaved as expected.
"""

from __future__ import annotations

import json
import sys
import tempfile
from typing import Any

from ..record.fields import REQUIRED
from ..tools.catalog import FIND_TOOL, GET_TOOL, LIST_COMMANDS_TOOL, RUN_COMMAND_TOOL, UPDATE_TOOL

CHECK_ID = 87654303  # Tomás Ferreira's ID card check at Harbour Works Lisbon, awaiting review


class Transcript:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def step(self, title: str) -> None:
        print(f"\n== {title}")

    def say(self, text: str) -> None:
        print(f"   {text}")

    def show(self, label: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        print(f"   {label}: {text}")

    def expect(self, ok: bool, what: str) -> None:
        print(f"   {'ok ' if ok else 'FAILED'} {what}")
        if not ok:
            self.failures.append(what)


def tool_line(tool: Any) -> str:
    """How the transcript lists a tool: its name, title and required arguments (if it has any)."""
    required = tool.input_schema.get("required") or []
    wants = f"required: {', '.join(required)}" if required else "no required arguments"
    return f"{tool.name}  ({tool.title}; {wants})"


async def _session(t: Transcript, errlog: Any) -> None:
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "nexudus_identity_mcp", "serve", "--sandbox"])
    questions: list[str] = []

    import mcp.types as types

    async def staff_confirms(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        """The client shows the server's question; the staff member accepts."""
        questions.append(params.message)
        return types.ElicitResult(action="accept", content={"Confirm": True})

    async with Client(
        stdio_client(params, errlog=errlog), read_timeout_seconds=60, elicitation_callback=staff_confirms
    ) as client:
        t.step("The assistant connects and lists the tools")
        tools = (await client.list_tools()).tools
        for tool in tools:
            t.say(tool_line(tool))
        t.expect(
            {FIND_TOOL, GET_TOOL, UPDATE_TOOL, LIST_COMMANDS_TOOL, RUN_COMMAND_TOOL} <= {x.name for x in tools},
            "find, read, update and the commands are offered",
        )

        t.step(f'Staff: "Tomás Ferreira showed his new passport, expiring 31 May 2034. Update check {CHECK_ID}."')
        t.say(f"{GET_TOOL} {{Id: {CHECK_ID}}}")
        read = await client.call_tool(GET_TOOL, {"Id": CHECK_ID})
        record = (read.structured_content or {}).get("Record", {})
        t.say(read.content[0].text.splitlines()[0])  # type: ignore[union-attr]
        for name in (
            "IdentityDocumentType",
            "IdentityDocumentNumber",
            "IdentityDocumentExpirationDate",
            "VerificationStatus",
            "UpdatedOn",
        ):
            t.show(name, record.get(name))
        t.expect(not read.is_error and record.get("Id") == CHECK_ID, "the check was read")
        t.expect(
            str(record.get("IdentityDocumentNumber", "")).startswith("«ID_DOC:"),
            "the document number is shown as a token, not as the number",
        )

        t.step("First try, with typical mistakes: 'Pasport', no Name, and a date as 31/05/2034")
        first = {
            "Id": CHECK_ID,
            "BusinessId": record["BusinessId"],
            "CoworkerId": record["CoworkerId"],
            "IdentityCheckProvider": record["IdentityCheckProvider"],
            "IdentityDocumentType": "Pasport",
            "AddressDocumentType": record["AddressDocumentType"],
            "IdentityDocumentExpirationDate": "31/05/2034",
            "ExpectedUpdatedOn": record["UpdatedOn"],
        }
        t.show(UPDATE_TOOL, first)
        failed = await client.call_tool(UPDATE_TOOL, first)
        body = failed.structured_content or {}
        t.say(failed.content[0].text.splitlines()[0])  # type: ignore[union-attr]
        for error in body.get("Errors", []):
            extra = f"  Hint: {error['Hint']}" if error.get("Hint") else ""
            t.show(f"  {error['PropertyName']}", f"{error['Message']}{extra}")
        props = {e["PropertyName"] for e in body.get("Errors", [])}
        t.expect(
            failed.is_error and body.get("ErrorKind") == "validation" and body.get("Source") == "local",
            "an error result (isError), found locally: nothing reached the API",
        )
        t.expect(
            props == {"IdentityDocumentType", "Name", "IdentityDocumentExpirationDate"},
            "every problem reported at once, by PropertyName",
        )

        t.step("The corrected call, built from the error's own Hint")
        hint = next(e.get("Hint") for e in body["Errors"] if e["PropertyName"] == "IdentityDocumentType")
        fixed = dict(first, IdentityDocumentType=hint, Name=record["Name"], IdentityDocumentExpirationDate="2034-05-31")
        t.show(UPDATE_TOOL, fixed)
        done = await client.call_tool(UPDATE_TOOL, fixed)
        result = done.structured_content or {}
        t.say(done.content[0].text.splitlines()[0])  # type: ignore[union-attr]
        for change in result.get("Changes", []):
            t.show(f"  {change['Field']}", f"{change['From']} -> {change['To']}")
        t.expect(not done.is_error and result.get("WasSuccessful") is True, "the update succeeded")
        t.expect(
            {c["Field"] for c in result.get("Changes", [])}
            == {"IdentityDocumentType", "IdentityDocumentExpirationDate"},
            "exactly the asked-for fields changed",
        )

        after = ((await client.call_tool(GET_TOOL, {"Id": CHECK_ID})).structured_content or {}).get("Record", {})
        kept = [
            n
            for n in ("IdentityDocumentNumber", "IdentityDocumentIssuedBy", "VerificationStatus", "Description")
            if after.get(n) == record.get(n)
        ]
        t.show("kept as they were", ", ".join(kept))
        t.expect(len(kept) == 4, "fields the call left out were kept (the PUT sent the full record)")

        t.step("A dry run: show the user a change before they confirm it")
        proposal = {k: after[k] for k in REQUIRED}
        proposal.update(Billed=True, Description="New passport seen at the front desk.", DryRun=True)
        t.show(UPDATE_TOOL, proposal)
        dry = await client.call_tool(UPDATE_TOOL, proposal)
        dry_body = dry.structured_content or {}
        t.say(dry.content[0].text.splitlines()[0])  # type: ignore[union-attr]
        sent = dry_body.get("Body", {})
        for change in dry_body.get("Changes", []):
            t.show(f"  {change['Field']}", f"{change['From']} -> {change['To']}")
        t.show(
            "body that would be sent",
            f"{len(sent)} fields, IdentityDocumentNumber={sent.get('IdentityDocumentNumber')}",
        )
        again = ((await client.call_tool(GET_TOOL, {"Id": CHECK_ID})).structured_content or {}).get("Record", {})
        t.expect(
            dry_body.get("DryRun") is True and again.get("UpdatedOn") == after.get("UpdatedOn"),
            "the dry run wrote nothing",
        )

        await _verification(t, client, questions)


async def _verification(t: Transcript, client: Any, questions: list[str]) -> None:
    t.step(f'Staff: "His ID card checks out: mark check {CHECK_ID} as verified."')
    t.say(f"{LIST_COMMANDS_TOOL} {{}}")
    listed = (await client.call_tool(LIST_COMMANDS_TOOL, {})).structured_content or {}
    commands = listed.get("Commands", [])
    for command in commands:
        t.show(f"  {command['Key']}", command["Name"])
    verify = next((c["Key"] for c in commands if c["Name"].lower() == "mark as verified"), None)
    t.expect(verify is not None, "the Key of 'Mark as verified' comes from the API's own list")
    arguments = {"Key": verify, "Ids": [CHECK_ID]}
    t.show(RUN_COMMAND_TOOL, arguments)
    ran = await client.call_tool(RUN_COMMAND_TOOL, arguments)
    result = ran.structured_content or {}
    for question in questions:
        t.show("the client asks the staff", question)
        t.say("the staff accept")
    t.say(ran.content[0].text.splitlines()[0])
    rows = result.get("Checks", [])
    for row in rows:
        t.show(f"  check {row['Id']}", f"{row['VerificationStatusBefore']} -> {row['VerificationStatus']}")
    t.expect(len(questions) == 1 and result.get("Confirmation") == "user_accepted", "the staff confirmed it first")
    t.expect(
        not ran.is_error and [r.get("VerificationStatus") for r in rows] == ["Successful"],
        "the check is verified (VerificationStatus Submitted -> Successful)",
    )


def run_demo() -> int:
    import anyio

    t = Transcript()
    print(
        "nexudus-identity-mcp demo: the real server over stdio, against the built-in sandbox "
        "(fictional data, no account needed)"
    )
    with tempfile.TemporaryFile("w+") as errlog:
        try:
            anyio.run(_session, t, errlog)
        except Exception as exc:  # the demo reports, it does not crash
            t.failures.append(f"the session broke off: {type(exc).__name__}: {exc}")
            errlog.seek(0)
            print(errlog.read()[-2000:], file=sys.stderr)
    if t.failures:
        print(f"\nDemo FAILED: {len(t.failures)} step(s) did not behave as expected:")
        for failure in t.failures:
            print(f"  - {failure}")
        return 1
    print("\nDemo passed: every step behaved as expected.")
    return 0
