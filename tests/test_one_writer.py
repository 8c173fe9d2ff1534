"""Issue 22: one check, one writer. Updates and commands never undo each other, a write whose outcome
is unknown keeps the check's lock, waiting for a person holds no lock and spends no deadline, and a
confirmation binds exactly what runs (shown in full or cut with a marker, quoted, redacted, bound to
the exact write, single use, and only a true Confirm is a yes).

Real parallel calls through `mcp.Client(server)` against the sandbox, bounded in count and time; the
lock tests run on each state backend (memory: two clients of one server; SQLite and Redis: two
servers sharing the store, as two workers do). Nothing here asserts on timings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from nexudus_identity_mcp.sandbox import Fault, Sandbox
from nexudus_identity_mcp.sandbox.commands import FAILED
from nexudus_identity_mcp.tools import confirm as policy
from nexudus_identity_mcp.tools import elicitation
from nexudus_identity_mcp.tools.catalog import GET_TOOL, RUN_COMMAND_TOOL, UPDATE_TOOL

from .helpers import CHECK, ERAS, body, required_from, server_for
from .redis_server import running_redis

pytestmark = pytest.mark.anyio
REJECT = "IDENTITYCHECK_MARK_AS_REJECTED"
VERIFY = "IDENTITYCHECK_MARK_AS_VERIFIED"
GRACE = 87654306  # Grace Okafor's residence permit (ZU4471093), Cancelled in the seed


@pytest.fixture(params=["memory", "sqlite", "redis"])
def shared_state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The settings of the state store two writers share."""
    if request.param == "memory":
        yield {}
    elif request.param == "sqlite":
        yield {"mcp_state_dir": str(tmp_path)}
    else:
        with running_redis(tmp_path) as redis:
            yield {"mcp_redis_url": redis.url}


@asynccontextmanager
async def writers(
    sandbox: Sandbox, state: dict[str, Any], *, elicit: Any = None, **overrides: Any
) -> AsyncIterator[tuple[Client, Client]]:
    """Two writers: on memory, one client's parallel calls (one process, one store: each in-process
    client runs the server's lifespan, so two clients would be two processes); on SQLite and Redis,
    two servers with stores of their own over the shared file or Redis, as two workers are."""
    settings = {"mcp_read_budget": "off", "mcp_write_budget": "off", **state, **overrides}
    async with Client(server_for(sandbox, **settings), mode="legacy", elicitation_callback=elicit) as first:
        if not state:
            yield first, first
            return
        async with Client(server_for(sandbox, **settings), mode="legacy") as second:
            yield first, second


def outcome(result: types.CallToolResult, tool: str) -> dict[str, Any]:
    return body(result, tool)


# ------------------------------------------------------------------ item 1: a command and an update
async def test_a_command_run_during_a_slow_update_is_not_undone(sandbox: Sandbox, shared_state: dict[str, Any]) -> None:
    """The update's PUT is slow; "Mark as rejected" is called while it is in flight. Before: both
    answered success and the record ended Successful with no LastError (the PUT carried back the
    status it had read). Now the command waits for the check's lock, and runs after the PUT."""
    sandbox.state.inject(Fault("delay", route="update", delay=0.8))
    record = sandbox.state.record(CHECK)
    answers: dict[str, dict[str, Any]] = {}
    async with writers(sandbox, shared_state) as (updater, staff):

        async def update() -> None:
            answers["update"] = outcome(
                await updater.call_tool(UPDATE_TOOL, {**required_from(record), "Description": "Seen at the desk."}),
                UPDATE_TOOL,
            )

        async def reject() -> None:
            await anyio.sleep(0.3)  # the update has read the record and its PUT is on its way
            answers["reject"] = outcome(
                await staff.call_tool(
                    RUN_COMMAND_TOOL,
                    {"Key": REJECT, "Ids": [CHECK], "Parameters": [{"Name": "RejectionNotes", "Value": "Expired."}]},
                ),
                RUN_COMMAND_TOOL,
            )

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(update)
                tg.start_soon(reject)
    final = sandbox.state.record(CHECK)
    print(
        f"\n[{next(iter(shared_state), 'memory')}] update: {answers['update'].get('ErrorKind', 'success')}, "
        f"command: {answers['reject'].get('ErrorKind', 'success')}; final VerificationStatus "
        f"{final['VerificationStatus']}, LastError {final['LastError']!r}"
    )
    assert answers["update"]["WasSuccessful"] and answers["reject"]["WasSuccessful"], answers
    assert [route for route, _ in sandbox.state.carried] == ["update", "run_command"]
    assert final["VerificationStatus"] == FAILED and final["LastError"] == "Expired."
    assert final["Description"] == "Seen at the desk."
    assert answers["reject"]["Checks"][0]["VerificationStatusBefore"] == "Successful"


async def test_an_update_waits_for_a_command_in_flight(sandbox: Sandbox, shared_state: dict[str, Any]) -> None:
    """The other order: a slow command holds the check, so the update reads after it ran and its PUT
    carries the command's status, not the one from before."""
    sandbox.state.inject(Fault("delay", route="run_command", delay=0.8))
    record = sandbox.state.record(CHECK)
    answers: dict[str, dict[str, Any]] = {}
    async with writers(sandbox, shared_state) as (staff, updater):

        async def reject() -> None:
            answers["reject"] = outcome(
                await staff.call_tool(
                    RUN_COMMAND_TOOL,
                    {"Key": REJECT, "Ids": [CHECK], "Parameters": [{"Name": "RejectionNotes", "Value": "Expired."}]},
                ),
                RUN_COMMAND_TOOL,
            )

        async def update() -> None:
            await anyio.sleep(0.4)
            answers["update"] = outcome(
                await updater.call_tool(UPDATE_TOOL, {**required_from(record), "Description": "Seen at the desk."}),
                UPDATE_TOOL,
            )

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(reject)
                tg.start_soon(update)
    assert answers["update"]["WasSuccessful"] and answers["reject"]["WasSuccessful"], answers
    (_, put), *_ = [c for c in sandbox.state.carried if c[0] == "update"]
    assert put["VerificationStatus"] == FAILED and put["LastError"] == "Expired."
    assert sandbox.state.record(CHECK)["VerificationStatus"] == FAILED


# ------------------------------------------------------------------ item 2: a PUT whose outcome is unknown
async def test_a_put_that_lands_late_cannot_undo_a_later_write(sandbox: Sandbox, shared_state: dict[str, Any]) -> None:
    """Writer A's PUT is applied 3.5 s after it arrived, past A's 1 s limit: A is told the outcome is
    unknown. Before: writer B then got the lock, wrote, read back "every field holds the value sent",
    and A's late PUT erased B's change. Now A's lease is kept; B is told `busy` and writes nothing.
    (B must read before A's PUT lands, else B rightly sees it landed and writes: 2.5 s of room for a
    loaded machine; the hold lasts NEXUDUS_READ_TIMEOUT + 5 s, longer than the delay.)"""
    sandbox.state.inject(Fault("late", route="update", delay=3.5))
    record = sandbox.state.record(CHECK)
    async with writers(sandbox, shared_state, max_call_seconds=1.0) as (a_client, b_client):
        with anyio.fail_after(30):
            a = outcome(
                await a_client.call_tool(UPDATE_TOOL, {**required_from(record), "Description": "Writer A."}),
                UPDATE_TOOL,
            )
            b = outcome(
                await b_client.call_tool(UPDATE_TOOL, {**required_from(record), "Description1": "Writer B."}),
                UPDATE_TOOL,
            )
            await sandbox.settle()  # A's PUT lands
    final = sandbox.state.record(CHECK)
    assert final["Description"] == "Writer A."
    print(
        f"\n[{next(iter(shared_state), 'memory')}] A: {a.get('ErrorKind')}, B: {b.get('ErrorKind', 'success')}; "
        f"B told success and then lost its change to A's late PUT: "
        f"{bool(b.get('WasSuccessful')) and final['Description1'] != 'Writer B.'}"
    )
    assert a["ErrorKind"] == "upstream_unavailable" and "outcome is unknown" in a["Message"]
    assert "holds further writes" in a["Message"]
    assert b["WasSuccessful"] is False and b["ErrorKind"] == "busy", b
    assert "outcome is not known yet" in b["Message"] and b["RetryAfterSeconds"] > 1
    assert sandbox.state.count("update") == 1, "B sent nothing"


async def test_a_read_showing_the_late_put_landed_ends_the_hold(sandbox: Sandbox, shared_state: dict[str, Any]) -> None:
    """Once A's late PUT has landed, nothing more can arrive: B's update reads the check, sees every
    value A sent, ends the hold and writes (instead of waiting out the hold)."""
    # Both writers get the limit A runs out of: 1.5 s leaves B room for its read, PUT and read-back on
    # a loaded machine (0.5 s did not, once).
    sandbox.state.inject(Fault("late", route="update", delay=2.0))
    record = sandbox.state.record(CHECK)
    async with writers(sandbox, shared_state, max_call_seconds=1.5, mcp_secret="shared-secret") as (a_client, b_client):
        with anyio.fail_after(30):
            a = outcome(
                await a_client.call_tool(UPDATE_TOOL, {**required_from(record), "Description": "Writer A."}),
                UPDATE_TOOL,
            )
            assert "outcome is unknown" in a["Message"]
            await sandbox.settle()
            b = outcome(
                await b_client.call_tool(UPDATE_TOOL, {**required_from(record), "Description1": "Writer B."}),
                UPDATE_TOOL,
            )
    assert b["WasSuccessful"] is True, b
    final = sandbox.state.record(CHECK)
    assert (final["Description"], final["Description1"]) == ("Writer A.", "Writer B.")


# ------------------------------------------------------------------ item 3: waiting for a person
class SlowYes:
    """A person who answers after `seconds`; `meanwhile` runs while they think."""

    def __init__(self, seconds: float, content: Any = True) -> None:
        self.seconds = seconds
        self.content = content
        self.questions: list[str] = []

    async def __call__(self, ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.questions.append(params.message)
        await anyio.sleep(self.seconds)
        return types.ElicitResult(action="accept", content={"Confirm": self.content})


def reassigning(sandbox: Sandbox, **more: Any) -> dict[str, Any]:
    return {**required_from(sandbox.state.record(CHECK)), "CoworkerId": 2002, "Reassign": True, **more}


@pytest.mark.parametrize("era", ERAS)
async def test_an_answer_after_the_deadline_is_written_then_not_reported_unknown(sandbox: Sandbox, era: str) -> None:
    """The person answers after the call's whole upstream budget (1 s). Before: "The write was sent…
    outcome unknown" with nothing sent. Now the deadline starts after the answer: the write is made."""
    asked = SlowYes(1.5)
    server = server_for(sandbox, max_call_seconds=1.0)
    async with Client(server, mode=era, elicitation_callback=asked) as client:
        with anyio.fail_after(30):
            out = outcome(await client.call_tool(UPDATE_TOOL, reassigning(sandbox)), UPDATE_TOOL)
    assert out["WasSuccessful"] is True, out
    assert asked.questions and sandbox.state.records[CHECK]["CoworkerId"] == 2002


async def test_no_lock_is_held_while_the_person_thinks(sandbox: Sandbox, shared_state: dict[str, Any]) -> None:
    """Another writer's update goes through while the question is open (before: it waited for the
    lock and answered `busy`); the confirmed write then finds the record changed and writes nothing."""
    asked = SlowYes(1.5)
    answers: dict[str, dict[str, Any]] = {}
    async with writers(sandbox, shared_state, elicit=asked, max_call_seconds=1.0) as (asking, other):

        async def move() -> None:
            answers["move"] = outcome(await asking.call_tool(UPDATE_TOOL, reassigning(sandbox)), UPDATE_TOOL)

        async def meanwhile() -> None:
            await anyio.sleep(0.5)
            record = sandbox.state.record(CHECK)
            answers["other"] = outcome(
                await other.call_tool(UPDATE_TOOL, {**required_from(record), "Description": "Meanwhile."}),
                UPDATE_TOOL,
            )

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(move)
                tg.start_soon(meanwhile)
    assert answers["other"]["WasSuccessful"] is True, answers["other"]
    assert answers["move"]["ErrorKind"] == "conflict" and "while the user was answering" in answers["move"]["Message"]
    assert "Nothing was written" in answers["move"]["Message"]
    assert sandbox.state.records[CHECK]["CoworkerId"] == 2001 and sandbox.state.count("update") == 1


async def test_no_answer_within_the_wait_says_nothing_was_sent(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy, "ANSWER_WAIT_SECONDS", 0.3)
    async with Client(server_for(sandbox), mode="legacy", elicitation_callback=SlowYes(2.0)) as client:
        with anyio.fail_after(30):
            out = outcome(await client.call_tool(RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]}), RUN_COMMAND_TOOL)
    assert out["ErrorKind"] == "confirmation_required" and out["Confirmation"] == "timeout"
    assert "did not answer" in out["Message"] and "nothing was sent" in out["Message"]
    assert sandbox.state.count("run_command") == 0


# ------------------------------------------------------------------ item 4: the question binds what runs
class Recorder:
    def __init__(self, content: Any = True, action: str = "accept") -> None:
        self.content = content
        self.action = action
        self.questions: list[str] = []

    async def __call__(self, ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.questions.append(params.message)
        return types.ElicitResult(action=self.action, content={"Confirm": self.content})  # type: ignore[arg-type]


def reject_with(notes: str) -> dict[str, Any]:
    return {"Key": REJECT, "Ids": [GRACE], "Parameters": [{"Name": "RejectionNotes", "Value": notes}]}


@pytest.mark.parametrize("era", ERAS)
async def test_a_long_parameter_is_shown_in_full_or_cut_with_a_marker(sandbox: Sandbox, era: str) -> None:
    notes = "Photo unreadable. " + "x" * 1200 + " END"
    asked = Recorder()
    async with Client(server_for(sandbox), mode=era, elicitation_callback=asked) as client:
        await client.call_tool(RUN_COMMAND_TOOL, reject_with(notes))
    [question] = asked.questions
    assert f"… ({len(notes) - policy.MAX_SHOWN} more characters)" in question
    assert question.count("x") >= policy.MAX_SHOWN - 30  # not cut at 200 characters any more
    short = Recorder()
    async with Client(server_for(sandbox), mode=era, elicitation_callback=short) as client:
        await client.call_tool(RUN_COMMAND_TOOL, reject_with("Photo unreadable; " + "y" * 400 + " END"))
    assert '"Photo unreadable; ' + "y" * 400 + ' END"' in short.questions[0]


async def test_an_answer_counts_only_for_the_exact_write_it_was_asked_about(sandbox: Sandbox) -> None:
    """2026-07-28: the benign question is answered, and the answer is sent back with another payload
    that differs after character 200 (before: one digest of the displayed text, so it ran)."""
    benign = "A" * 200 + " photo unreadable"
    other = "A" * 200 + " and also delete the member"
    accepted = types.ElicitResult(action="accept", content={"Confirm": True})
    async with Client(server_for(sandbox), mode="2026-07-28", elicitation_callback=Recorder()) as client:
        asked = await client.session.call_tool(RUN_COMMAND_TOOL, reject_with(benign), allow_input_required=True)
        assert isinstance(asked, types.InputRequiredResult) and asked.request_state
        swapped = await client.session.call_tool(
            RUN_COMMAND_TOOL,
            reject_with(other),
            input_responses={"confirm": accepted},
            request_state=asked.request_state,
            allow_input_required=True,
        )
        assert isinstance(swapped, types.InputRequiredResult), "an answer for another payload ran it"
        assert sandbox.state.count("run_command") == 0
        ran = await client.session.call_tool(
            RUN_COMMAND_TOOL,
            reject_with(other),
            input_responses={"confirm": accepted},
            request_state=swapped.request_state,
            allow_input_required=True,
        )
        assert isinstance(ran, types.CallToolResult) and not ran.is_error
        replayed = await client.session.call_tool(  # the same answer again: single use
            RUN_COMMAND_TOOL,
            reject_with(other),
            input_responses={"confirm": accepted},
            request_state=swapped.request_state,
            allow_input_required=True,
        )
        assert isinstance(replayed, types.InputRequiredResult)
    assert sandbox.state.count("run_command") == 1
    assert [body["Parameters"][0]["Value"] for _, body in sandbox.state.carried] == [other]


async def test_an_update_answer_is_bound_to_its_changes_and_the_records_updated_on(sandbox: Sandbox) -> None:
    accepted = types.ElicitResult(action="accept", content={"Confirm": True})
    async with Client(server_for(sandbox), mode="2026-07-28", elicitation_callback=Recorder()) as client:
        asked = await client.session.call_tool(UPDATE_TOOL, reassigning(sandbox), allow_input_required=True)
        assert isinstance(asked, types.InputRequiredResult)
        sandbox.state.records[CHECK]["UpdatedOn"] = "2030-01-01T00:00:00.000Z"  # someone edited it meanwhile
        again = await client.session.call_tool(
            UPDATE_TOOL,
            reassigning(sandbox),
            input_responses={"confirm": accepted},
            request_state=asked.request_state,
            allow_input_required=True,
        )
        assert isinstance(again, types.InputRequiredResult), "asked again: the record is not what was shown"
        moved_elsewhere = await client.session.call_tool(
            UPDATE_TOOL,
            reassigning(sandbox, CoworkerId=2003),
            input_responses={"confirm": accepted},
            request_state=again.request_state,
            allow_input_required=True,
        )
        assert isinstance(moved_elsewhere, types.InputRequiredResult), "asked again: other changes"
    assert sandbox.state.count("update") == 0


async def test_an_answer_past_the_states_lifetime_is_asked_again(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(elicitation, "STATE_SECONDS", 0.2)
    accepted = types.ElicitResult(action="accept", content={"Confirm": True})
    async with Client(server_for(sandbox), mode="2026-07-28", elicitation_callback=Recorder()) as client:
        asked = await client.session.call_tool(RUN_COMMAND_TOOL, reject_with("Late."), allow_input_required=True)
        assert isinstance(asked, types.InputRequiredResult)
        await anyio.sleep(0.4)
        late = await client.session.call_tool(
            RUN_COMMAND_TOOL,
            reject_with("Late."),
            input_responses={"confirm": accepted},
            request_state=asked.request_state,
            allow_input_required=True,
        )
    assert isinstance(late, types.InputRequiredResult) and sandbox.state.count("run_command") == 0


@pytest.mark.parametrize("era", ERAS)
async def test_values_are_quoted_and_cannot_rewrite_the_dialog(sandbox: Sandbox, era: str) -> None:
    payload = '"\n\n[Server note] This is a harmless preview; nothing will be sent. Press Accept.\u202e'
    asked = Recorder(action="decline")
    async with Client(server_for(sandbox), mode=era, elicitation_callback=asked) as client:
        await client.call_tool(RUN_COMMAND_TOOL, reject_with(payload))
    [question] = asked.questions
    assert "\n" not in question and "\u202e" not in question
    assert '"RejectionNotes" "\\"  [Server note] This is a harmless preview' in question
    assert '"Mark as rejected"' in question and '"Grace Okafor"' in question


# ------------------------------------------------------------------ item 5: questions are redacted
@pytest.mark.parametrize("era", ERAS)
async def test_questions_pass_the_redaction_of_every_output(sandbox: Sandbox, era: str) -> None:
    number = sandbox.state.records[GRACE]["IdentityDocumentNumber"]
    sandbox.state.records[GRACE]["Name"] = f"Residence permit {number}"
    long_notes = "Checked: " + "n" * 190 + f" {number} (from the permit)"  # the number straddled the old cut
    asked = Recorder(action="decline")
    server = server_for(sandbox, mcp_redact="id_document,name")
    async with Client(server, mode=era, elicitation_callback=asked) as client:
        await client.call_tool(RUN_COMMAND_TOOL, reject_with(long_notes))
        await client.call_tool(UPDATE_TOOL, reassigning(sandbox))
        read = outcome(await client.call_tool(GET_TOOL, {"Id": CHECK}), GET_TOOL)["Record"]
    command_question, update_question = asked.questions
    for question in asked.questions:
        assert number not in question and number[:5] not in question, question
        for name in ("Grace Okafor", "Ana Ribeiro"):  # the `name` category: members' names
            assert name not in question, (name, question)
    assert "«ID_DOC:" in command_question and "«NAME:" in command_question and "«NAME:" in update_question
    # The same pass as every result: what a read shows of the record, the question shows.
    assert read["CoworkerFullName"].startswith("«NAME:") and read["CoworkerFullName"] in update_question
    assert f'"{read["BusinessName"]}"' in update_question


# ------------------------------------------------------------------ item 6: only a yes is a yes
@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("given", ["false", 0, "no", None, "true", 1])
async def test_only_a_true_boolean_confirms(sandbox: Sandbox, era: str, given: Any) -> None:
    async with Client(server_for(sandbox), mode=era, elicitation_callback=Recorder(content=given)) as client:
        out = outcome(await client.call_tool(RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]}), RUN_COMMAND_TOOL)
    assert out["ErrorKind"] == "declined" and "did not confirm" in out["Message"], out
    assert "Confirm was" in out["Message"] and sandbox.state.count("run_command") == 0


async def test_reading_a_check_is_never_blocked_by_a_held_lock(sandbox: Sandbox) -> None:
    """A kept lease blocks writes only: reads of the check go on."""
    sandbox.state.inject(Fault("late", route="update", delay=1.2))
    record = sandbox.state.record(CHECK)
    async with Client(server_for(sandbox, max_call_seconds=0.5), mode="legacy") as client:
        with anyio.fail_after(30):
            await client.call_tool(UPDATE_TOOL, {**required_from(record), "Description": "Late."})
            read = await client.call_tool(GET_TOOL, {"Id": CHECK})
            assert not read.is_error
            await sandbox.settle()
        assert sandbox.state.records[CHECK]["Description"] == "Late."
