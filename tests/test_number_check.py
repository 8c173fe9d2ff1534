"""Checking a number without seeing it: the comparison (case, spaces and dashes normalised; nothing
else forgiven; constant-time over digests)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from nexudus_identity_mcp.record.document_number import compare_number, normalise_number
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.tools.catalog import COMPARE_NUMBER, COMPARE_NUMBER_TOOL, MAX_NUMBER
from nexudus_identity_mcp.tools.number_check import PER_CHECK

from .helpers import ERAS, body, server_for

ON_FILE = "CB7734129"


@pytest.mark.parametrize(
    "given",
    ["CB7734129", "cb7734129", "CB 773 4129", "cb-773-4129", " CB–7734129 ", "ＣＢ７７３４１２９", "CB\u00a07734129"],
)
def test_the_same_number_written_another_way_matches(given: str) -> None:
    assert compare_number(given, ON_FILE) == "matches"


@pytest.mark.parametrize("given", ["CB7734128", "CB773412", "CB77341299", "C87734129", "CB7734I29", "CB.7734129", ""])
def test_a_near_miss_does_not_match(given: str) -> None:
    assert compare_number(given, ON_FILE) == "does_not_match"


@pytest.mark.parametrize("on_file", [None, "", "  ", "-"])
def test_no_number_on_file(on_file: str | None) -> None:
    assert compare_number("CB7734129", on_file) == "no_number_on_file"


def test_normalising_keeps_letters_and_digits_as_they_are() -> None:
    assert normalise_number("Ab-12 3") == "ab123"
    assert normalise_number("NR5K8L2P7") == "nr5k8l2p7"


# ------------------------------------------------------------------ the tool
NUMBER_ARG = "IdentityDocumentNumber"


async def compare(sandbox: Sandbox, arguments: dict[str, Any], era: str = "legacy", **overrides: Any) -> Any:
    async with Client(server_for(sandbox, **overrides), mode=era) as client:
        result = await client.call_tool(COMPARE_NUMBER_TOOL, arguments)
    return result, body(result, COMPARE_NUMBER_TOOL)


def leaked(text: str, *numbers: str) -> list[str]:
    flat = normalise_number(text)
    return [n for n in numbers if normalise_number(n) in flat]


@pytest.mark.anyio
@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("check_id", "given", "verdict"),
    [
        (87654301, "cb 773-4129", "matches"),
        (87654309, "NR5K8L2P1", "does_not_match"),  # one character off
        (87654305, "533 380 1187", "no_number_on_file"),
    ],
)
async def test_answers_only_the_verdict_never_a_number(check_id: int, given: str, verdict: str, era: str) -> None:
    sandbox = Sandbox()
    result, out = await compare(sandbox, {"Id": check_id, NUMBER_ARG: given}, era)
    assert not result.is_error and out["Match"] == verdict and out["Id"] == check_id
    on_file = sandbox.state.records[check_id].get("IdentityDocumentNumber") or ""
    text = result.content[0].text  # type: ignore[union-attr]
    assert leaked(text, *(n for n in (given, on_file) if n)) == []


@pytest.mark.anyio
async def test_an_unknown_check_and_bad_arguments() -> None:
    sandbox = Sandbox()
    result, out = await compare(sandbox, {"Id": 999, NUMBER_ARG: "X1234567"})
    assert result.is_error and out["ErrorKind"] == "not_found"
    result, out = await compare(sandbox, {"Id": 87654301})
    assert result.is_error and [e["PropertyName"] for e in out["Errors"]] == [NUMBER_ARG]
    result, out = await compare(sandbox, {"Id": 87654301, NUMBER_ARG: "«ID_DOC:3f9a1c2b»"})
    assert result.is_error and out["ErrorKind"] == "validation" and "redaction token" in out["Errors"][0]["Message"]


@pytest.mark.anyio
async def test_a_number_too_long_is_refused_by_the_parser_with_the_other_problems() -> None:
    """The length limit is the argument's rule (catalog), so it is listed beside a bad Id in one
    answer, worded by the declaration, never echoing the number: the rule gives its length, and reads
    as written (the final redaction pass once took "must be at most 100" for a number)."""
    sandbox = Sandbox()
    number = "Q7" * (MAX_NUMBER // 2) + "Z"
    result, out = await compare(sandbox, {"Id": "not an id", NUMBER_ARG: number})
    assert result.is_error and out["ErrorKind"] == "validation"
    assert out["Message"].endswith(COMPARE_NUMBER.refused)
    [too_long] = [e for e in out["Errors"] if e["PropertyName"] == NUMBER_ARG]
    assert too_long["AttemptedValue"] is None
    assert (
        too_long["Message"]
        == f"is longer than this server takes for it: {len(number)} characters, at most {MAX_NUMBER}"
    )
    assert {e["PropertyName"] for e in out["Errors"]} == {"Id", NUMBER_ARG}
    assert "Q7Q7" not in result.content[0].text  # type: ignore[union-attr]
    assert sandbox.state.count("get") == 0
    result, out = await compare(sandbox, {"Id": 87654301, NUMBER_ARG: " " * 3 + "CB7734129" * 11})  # 99, stripped
    assert not result.is_error and out["Match"] == "does_not_match"


@pytest.mark.anyio
async def test_tries_are_limited_per_check_then_per_caller() -> None:
    sandbox = Sandbox()
    async with Client(server_for(sandbox), mode="legacy") as client:
        tries = ["CB7734120", "CB7734121", "CB7734122", "CB7734123", "cb 773 4129", "CB7734129"]
        answers = [
            body(await client.call_tool(COMPARE_NUMBER_TOOL, {"Id": 87654301, NUMBER_ARG: n}), COMPARE_NUMBER_TOOL)
            for n in tries
        ]
        assert [a.get("Match") for a in answers[:PER_CHECK]] == ["does_not_match"] * 4 + ["matches"]
        limited = answers[PER_CHECK]
        assert limited["ErrorKind"] == "rate_limited" and 0 < limited["RetryAfterSeconds"] <= 600
        assert "this check" in limited["Message"]
        others = [87654303, 87654304, 87654306, 87654309, 87654303, 87654304]
        rest = [
            body(await client.call_tool(COMPARE_NUMBER_TOOL, {"Id": i, NUMBER_ARG: "X0000000"}), COMPARE_NUMBER_TOOL)
            for i in others
        ]
    assert [r.get("Match") for r in rest[:5]] == ["does_not_match"] * 5  # 10 per caller: 5 used on 87654301
    assert rest[5]["ErrorKind"] == "rate_limited" and "you" in rest[5]["Message"]
    assert sandbox.state.count("get") == PER_CHECK + 5  # a refused try never reads the record


async def a_dozen_tries_at_once(*clients: Client) -> list[str]:
    """Twelve comparisons on one check at the same moment, spread over the clients; each one's answer
    (Match, or ErrorKind). Bounded: twelve calls, 60 s."""
    outcomes: list[str] = []

    async def attempt(n: int) -> None:
        client = clients[n % len(clients)]
        result = await client.call_tool(COMPARE_NUMBER_TOOL, {"Id": 87654309, NUMBER_ARG: f"NR5K8L2P{n % 10}"})
        out = body(result, COMPARE_NUMBER_TOOL)
        outcomes.append(str(out.get("Match") or out.get("ErrorKind")))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for n in range(12):
                tg.start_soon(attempt, n)
    return outcomes


@pytest.mark.anyio
async def test_a_dozen_tries_at_once_get_exactly_the_limit() -> None:
    async with Client(server_for(Sandbox()), mode="legacy") as client:
        outcomes = await a_dozen_tries_at_once(client)
    assert outcomes.count("rate_limited") == 12 - PER_CHECK
    assert len([o for o in outcomes if o in ("matches", "does_not_match")]) == PER_CHECK


@pytest.mark.anyio
async def test_audited_with_the_verdict_and_never_the_number(captured_logs: pytest.LogCaptureFixture) -> None:
    sandbox = Sandbox()
    await compare(sandbox, {"Id": 87654301, NUMBER_ARG: "CB7734129"})
    await compare(sandbox, {"Id": 87654301, NUMBER_ARG: "CB7734128"})
    audit = [r.getMessage() for r in captured_logs.records if r.name == "nexudus_identity_mcp.audit"]
    assert audit == [
        "number_check client=stdio check=87654301 fields=- outcome=matches",
        "number_check client=stdio check=87654301 fields=- outcome=does_not_match",
    ]
    every_line = "\n".join(r.getMessage() for r in captured_logs.records)
    assert leaked(every_line, "CB7734129", "CB7734128") == []


@pytest.mark.anyio
async def test_served_in_read_only_mode_and_refused_when_the_store_is_down(tmp_path: Any) -> None:
    sandbox = Sandbox()
    async with Client(server_for(sandbox, mcp_read_only=True), mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert COMPARE_NUMBER_TOOL in names
    result, out = await compare(
        sandbox, {"Id": 87654301, NUMBER_ARG: "CB7734129"}, mcp_redis_url="redis://127.0.0.1:1/0"
    )
    assert result.is_error and out["ErrorKind"] == "upstream_unavailable" and "limit" in out["Message"]
    assert sandbox.state.count("get") == 0


@pytest.mark.anyio
@pytest.mark.slow  # a Redis server for one case
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_dozen_tries_at_once_through_two_workers_get_exactly_the_limit(backend: str, tmp_path: Any) -> None:
    """The per-check limit is one atomic step in the shared store: twelve tries at the same moment, six
    through each of two workers sharing it, get exactly the limit's answers between them."""
    from contextlib import ExitStack

    from .redis_server import running_redis

    sandbox = Sandbox()
    with ExitStack() as stack:
        if backend == "redis":
            shared: dict[str, Any] = {"mcp_redis_url": stack.enter_context(running_redis(tmp_path)).url}
        else:
            shared = {"mcp_state_dir": str(tmp_path)}
        async with (
            Client(server_for(sandbox, **shared), mode="legacy") as one,
            Client(server_for(sandbox, **shared), mode="legacy") as two,
        ):
            outcomes = await a_dozen_tries_at_once(one, two)
    assert outcomes.count("rate_limited") == 12 - PER_CHECK, outcomes
    assert len([o for o in outcomes if o in ("matches", "does_not_match")]) == PER_CHECK
