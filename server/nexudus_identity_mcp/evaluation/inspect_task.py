"""The evaluation scenarios as an Inspect AI task (the optional `inspect` extra).

    inspect eval nexudus_identity_mcp/identity_checks --model anthropic/claude-sonnet-4-5 --epochs 4
    inspect eval nexudus_identity_mcp/identity_checks -T scenarios=evals/17_conflict_reread.toml ...

Each sample is one scenario: its own sandbox on loopback prepared as the scenario says, and this
server over stdio served to the model as MCP tools through Inspect's own MCP client
(`mcp_server_stdio`). The model works until it answers without a tool call (once more after the
scenario's `confirm` reply). The scorer grades the sandbox's final state with `grading.grade`, the
function `eval` uses: the expected fields hold, nothing else changed, the expected writes and error
kinds. Epochs are Inspect's; the reducers give the mean (pass^1) and `pass_hat_n`, tau-bench's pass^k
at k = the number of epochs (1 only when every epoch passed).

Inspect checks a tool call's arguments against the tool's input schema before it calls the server
(an enum value outside the list, a wrong type), so the model meets Inspect's refusal there instead of
the server's error with its Hint; the grading counts it as the `validation` error result it is.

The records before and after stay in this process (never in Inspect's log). Inspect's log holds the
conversation as Inspect records it: the tools' results are redacted by the server, but the staff
request and the model's arguments are as they were (a scenario that gives a new document number
has it there). Inspect's MCP client does not declare elicitation, so a scenario's `elicitation`
answer is not given (the server falls back to its confirmation without elicitation).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageAssistant, ChatMessageTool, ChatMessageUser
from inspect_ai.scorer import (
    CORRECT,
    INCORRECT,
    Score,
    Scorer,
    ScoreReducer,
    Target,
    ValueToFloat,
    accuracy,
    mean_score,
    score_reducer,
    scorer,
    stderr,
    value_to_float,
)
from inspect_ai.solver import Generate, Solver, TaskState, solver, use_tools
from inspect_ai.tool import mcp_server_stdio

from ..record.operations import WRITES
from .grading import grade, recovered
from .harness import ServedSandbox, server_parameters, trial_redactor
from .report import pass_hat_k
from .scenarios import Scenario, default_scenario_files, load_scenario
from .session import Call


class Finals:
    """What each sample's sandbox ended with, by sample uuid: kept by the task's solver, taken by its
    scorer. One per task (`identity_checks` makes it), in this process only: Inspect's log records a
    solver's and a scorer's arguments, and of this one it records nothing (`_repr_params_`)."""

    def __init__(self) -> None:
        self._by_sample: dict[str, dict[str, Any]] = {}

    def keep(self, sample: str, final: dict[str, Any]) -> None:
        self._by_sample[sample] = final

    def take(self, sample: str) -> dict[str, Any] | None:
        return self._by_sample.pop(sample, None)

    def _repr_params_(self) -> None:
        """What Inspect writes in its log for this argument: nothing (the records stay here)."""
        return


def scenario_samples(scenarios: str | None = None) -> list[Sample]:
    """One sample per scenario file (`scenarios`: comma-separated paths; default: every shipped one).

    Scenarios with `earlier` calls are left out: those calls must go through the very server process
    the model then talks to (its journal), and Inspect's MCP client starts and owns that process."""
    files = [Path(p.strip()) for p in scenarios.split(",") if p.strip()] if scenarios else default_scenario_files()
    out = []
    for path in files:
        s = load_scenario(path)
        if s.earlier:
            continue
        out.append(Sample(id=s.name, input=s.request, metadata={"path": str(path), "scenario_version": s.version}))
    return out


@score_reducer(name="pass_hat_n")
def pass_hat_n(to_float: ValueToFloat | None = None) -> ScoreReducer:
    """tau-bench's pass^k over a sample's epochs, at k = n (the number of epochs): C(c, n) / C(n, n)."""
    to_float = to_float or value_to_float()

    def reduce(scores: list[Score]) -> Score:
        n = len(scores)
        c = sum(1 for s in scores if to_float(s.value) == 1.0)
        return Score(value=pass_hat_k(n, c, n) if n else 0.0, explanation=f"{c}/{n} epochs passed")

    return reduce


def _body(text: str) -> dict[str, Any]:
    """The JSON body in a tool result's text (the server writes a summary line, then the JSON)."""
    start = text.find("{")
    if start < 0:
        return {}
    try:
        body = json.loads(text[start:])
    except json.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def calls_of(messages: list[Any]) -> list[Call]:
    """The tool calls of an Inspect conversation, as the grading reads them (tool, arguments, error, body)."""
    arguments: dict[str, dict[str, Any]] = {}
    calls = []
    for message in messages:
        if isinstance(message, ChatMessageAssistant):
            for tc in message.tool_calls or []:
                arguments[tc.id] = dict(tc.arguments)
        elif isinstance(message, ChatMessageTool):
            error = message.error
            body = _body(error.message if error is not None else message.text)
            if error is not None and error.type == "parsing" and not body:
                # Inspect checks the arguments against the tool's input schema before calling the
                # server; its refusal is the validation error result the model sees.
                body = {"WasSuccessful": False, "ErrorKind": "validation", "Message": error.message}
            sent = arguments.get(message.tool_call_id or "", {})
            calls.append(Call(message.function or "", sent, error is not None, body))
    return calls


@solver
def scenario_solver(finals: Finals) -> Solver:
    """Prepare the sample's scenario in a sandbox of its own, serve the server to the model over MCP,
    let it work (and answer the scenario's confirmation once), keep the final state for the scorer."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        scenario = load_scenario(Path(state.metadata["path"]))
        with ServedSandbox() as served:
            served.prepare(scenario)
            before = copy.deepcopy(served.sandbox.state.records)
            params = server_parameters(served.url, scenario.read_only)
            server = mcp_server_stdio(
                name="nexudus-identity-mcp", command=params.command, args=params.args, env=params.env
            )
            try:
                async with server:
                    state = await use_tools(server)(state, generate)
                    state = await generate(state)
                    if scenario.confirm and not state.completed:
                        state.messages.append(ChatMessageUser(content=scenario.confirm))
                        state = await generate(state)
            finally:
                sandbox = served.sandbox.state
                finals.keep(
                    state.uuid,
                    {
                        "scenario": scenario,
                        "before": before,
                        "after": copy.deepcopy(sandbox.records),
                        "writes": sum(1 for r in sandbox.requests if r.route in WRITES and r.status == 200),
                        "api_requests": len(sandbox.requests),
                    },
                )
        return state

    return solve


@scorer(metrics=[accuracy(), stderr()])
def final_state(finals: Finals | None = None) -> Scorer:
    """Pass when the sandbox's final state is what the scenario expects (grading.grade, as `eval`).
    None (a scorer Inspect made again from its log, to score anew): no sample ran in this process."""

    async def score(state: TaskState, target: Target) -> Score:
        final = finals.take(state.uuid) if finals is not None else None
        if final is None:
            return Score(value=INCORRECT, explanation="the scenario did not run (no final sandbox state)")
        scenario: Scenario = final["scenario"]
        calls = calls_of(state.messages)
        failures = grade(scenario, final["before"], final["after"], calls, final["writes"])
        redactor, scope = trial_redactor(scenario, final["before"], final["after"], calls=calls)
        failures = [str(redactor.scrub(f, scope)) for f in failures]
        passed = not failures
        return Score(
            value=CORRECT if passed else INCORRECT,
            explanation="; ".join(failures) or "the final state is as expected",
            metadata={
                "tool_calls": len(calls),
                "error_results": sum(1 for c in calls if c.is_error),
                "recovered": recovered(calls, passed, scenario),
                "api_requests": final["api_requests"],
                "writes": final["writes"],
                "scenario_version": scenario.version,
            },
        )

    return score


@task
def identity_checks(scenarios: str | None = None, epochs: int = 1) -> Task:
    """The evaluation scenarios (every file in evals/, or `scenarios`: comma-separated paths)."""
    finals = Finals()
    return Task(
        dataset=MemoryDataset(scenario_samples(scenarios), name="nexudus-identity-checks"),
        solver=scenario_solver(finals),
        scorer=final_state(finals),
        epochs=Epochs(epochs, [mean_score(), pass_hat_n()]),
    )
