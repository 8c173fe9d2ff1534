"""The evaluation harness: each scenario gets a fresh sandbox state, served on loopback, and the real
server running over stdio as a subprocess, as an assistant would start it; an agent works through
it and the outcome is graded by final state. Per scenario: pass or fail, tool calls, error results,
whether the agent recovered after an error, requests that reached the API, and writes.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from typing import Any, Literal, TextIO

from ..sandbox import SANDBOX_TOKEN, Fault, Sandbox
from ..sandbox.loopback import ServedApp
from .grading import Outcome, grade, recovered
from .scenarios import Scenario
from .session import Agent, ScriptError, ToolSession


class ServedSandbox(ServedApp):
    """One sandbox on 127.0.0.1 for the whole run; reset to the seed before every scenario."""

    def __init__(self) -> None:
        self.sandbox = Sandbox()
        super().__init__(self.sandbox.app)

    def prepare(self, scenario: Scenario) -> None:
        state = self.sandbox.state
        state.use_profile(scenario.profile)
        state.write_limit = scenario.write_limit
        for check_id, values in scenario.patch.items():
            if check_id not in state.records:
                raise ValueError(f"{scenario.name}: patch names unknown check {check_id}")
            state.records[check_id].update(values)
        for fault in scenario.faults:
            state.inject(Fault(**fault))


def server_parameters(sandbox_url: str, read_only: bool) -> Any:
    from mcp import StdioServerParameters

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    env.update(
        NEXUDUS_BASE_URL=sandbox_url,
        NEXUDUS_TOKEN=SANDBOX_TOKEN,
        NEXUDUS_MCP_SECRET="eval-run",
        NEXUDUS_MAX_RETRY_AFTER="0.2",
        NEXUDUS_BACKOFF_BASE="0.05",
        NEXUDUS_MCP_LOG_LEVEL="WARNING",
    )
    args = ["-m", "nexudus_identity_mcp", "serve"] + (["--read-only"] if read_only else [])
    return StdioServerParameters(command=sys.executable, args=args, env=env)


WRITE_ROUTES = ("update", "run_command")


def staff_answer(scenario: Scenario, asked: list[str]) -> Any:
    """The client's elicitation handler: the staff answer the server's question as the scenario says
    (recording it). None when the scenario's client does not declare elicitation."""
    if scenario.elicitation is None:
        return None
    import mcp.types as types

    action: Literal["accept", "decline", "cancel"] = (
        "accept" if scenario.elicitation == "accept" else "decline" if scenario.elicitation == "decline" else "cancel"
    )

    async def answer(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action=action, content={"Confirm": True} if action == "accept" else None)

    return answer


async def run_scenario(scenario: Scenario, agent: Agent, served: ServedSandbox) -> Outcome:
    from mcp import Client
    from mcp.client.stdio import stdio_client

    served.prepare(scenario)
    state = served.sandbox.state
    before = copy.deepcopy(state.records)
    started = time.monotonic()
    failures: list[str] = []
    asked: list[str] = []
    with open(os.devnull, "w") as errlog:  # noqa: ASYNC230 — stdio_client needs a real file; instant
        async with Client(
            stdio_client(server_parameters(served.url, scenario.read_only), errlog=errlog),
            mode="legacy",
            read_timeout_seconds=60,
            elicitation_callback=staff_answer(scenario, asked),
        ) as client:
            session = ToolSession(client)
            session.elicitations = asked
            try:
                await agent.run(session, scenario)
            except ScriptError as exc:
                failures.append(str(exc))
    writes = sum(1 for r in state.requests if r.route in WRITE_ROUTES and r.status == 200)
    failures += grade(scenario, before, copy.deepcopy(state.records), session.calls, writes)
    passed = not failures
    return Outcome(
        name=scenario.name,
        passed=passed,
        failures=failures,
        tool_calls=len(session.calls),
        error_results=sum(1 for c in session.calls if c.is_error),
        recovered=recovered(session.calls, passed, scenario),
        api_requests=len(state.requests),
        writes=writes,
        seconds=round(time.monotonic() - started, 2),
        error_kinds=[str(c.body.get("ErrorKind")) for c in session.calls if c.is_error],
    )


async def run_all(scenarios: list[Scenario], agent: Agent, *, out: TextIO = sys.stdout) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with ServedSandbox() as served:
        for n, scenario in enumerate(scenarios, start=1):
            print(f"[{n}/{len(scenarios)}] {scenario.name} ...", end=" ", file=out, flush=True)
            outcome = await run_scenario(scenario, agent, served)
            outcomes.append(outcome)
            print(
                f"{'PASS' if outcome.passed else 'FAIL'} ({outcome.tool_calls} calls, {outcome.seconds:.1f}s)",
                file=out,
                flush=True,
            )
            for failure in outcome.failures:
                print(f"      - {failure}", file=out, flush=True)
    return outcomes
