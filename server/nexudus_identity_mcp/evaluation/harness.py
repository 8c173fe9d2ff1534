"""The evaluation harness: each trial gets a fresh sandbox state, served on loopback, and the real
server running over stdio as a subprocess, as an assistant would start it; an agent works through
it and the outcome is graded by final state. Per trial: pass or fail, tool calls, error results,
whether the agent recovered after an error, requests that reached the API, writes, what a model
spent, and (with an output directory) the redacted transcript.

`run_all` runs every scenario `trials` times; `jobs` workers run trials side by side, each with its
own sandbox (one loopback server per worker, a fresh state per trial) and its own server process
per trial. A `Budget` stops a run that spends more tokens or money than it was given: trials not yet
started are not run, and the budget says why.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from .. import __version__
from ..record.operations import WRITES
from ..record.redaction import Redactor
from ..sandbox import SANDBOX_TOKEN, Fault, Sandbox, SandboxState
from ..sandbox.loopback import ServedApp
from .grading import Outcome, grade, recovered
from .scenarios import Scenario
from .session import Agent, ScriptError, ToolSession


class ServedSandbox(ServedApp):
    """One sandbox on 127.0.0.1 for a worker; a fresh state (the seed) before every trial."""

    def __init__(self) -> None:
        self.sandbox = Sandbox()
        super().__init__(self.sandbox.app)

    def prepare(self, scenario: Scenario) -> None:
        # A new state object: nothing (records, tokens, throttling windows, faults) carries over.
        state = SandboxState(write_limit=scenario.write_limit)
        state.use_profile(scenario.profile)
        for check_id, values in scenario.patch.items():
            if check_id not in state.records:
                raise ValueError(f"{scenario.name}: patch names unknown check {check_id}")
            state.records[check_id].update(values)
        for fault in scenario.faults:
            state.inject(Fault(**fault))
        self.sandbox.state = state


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


@dataclass
class Budget:
    """A run's spending limits (None: none) and what it has spent so far. `stopped` says why the run
    stopped early; trials not started after that are not run."""

    max_tokens: int | None = None
    max_cost_usd: float | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    stopped: str | None = None
    not_run: int = 0

    def remaining_tokens(self) -> int | None:
        return None if self.max_tokens is None else max(self.max_tokens - self.tokens, 0)

    def spend(self, outcome: Outcome, agent: str) -> None:
        self.tokens += outcome.input_tokens + outcome.output_tokens
        if outcome.cost_usd is not None:
            self.cost_usd += outcome.cost_usd
        if self.stopped:
            return
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            self.stopped = f"the token budget (--max-tokens {self.max_tokens}) was used up: {self.tokens} tokens spent"
        elif self.max_cost_usd is not None and outcome.cost_usd is None:
            self.stopped = (
                f"the cost budget (--max-cost {self.max_cost_usd:g}) cannot be kept: no price is known for {agent} "
                "(give --price-per-mtok IN,OUT)"
            )
        elif self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd:
            self.stopped = f"the cost budget (--max-cost {self.max_cost_usd:g}) was used up: ${self.cost_usd:.4f} spent"


def records_diff(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every field that changed, on every record: {Id, Field, Before, After}."""
    changes = []
    for check_id in sorted(set(before) | set(after)):
        old, new = before.get(check_id, {}), after.get(check_id, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                changes.append({"Id": check_id, "Field": name, "Before": old.get(name), "After": new.get(name)})
    return changes


def trial_redactor(scenario: Scenario, *records: dict[int, dict[str, Any]], calls: list[Any]) -> tuple[Redactor, Any]:
    """A redactor (identity documents, as the server's default) that knows every sensitive value the
    trial met: in the records before and after, the scenario's patch and expected values, and the
    arguments the agent sent."""
    redactor = Redactor()
    with redactor.scope() as scope:
        for state in records:
            for record in state.values():
                redactor.note_record(record, scope)
        given = [*scenario.patch.values(), *scenario.expect_records.values(), *(c.arguments for c in calls)]
        for values in given:
            for name, value in values.items():
                category = redactor.fields.get(name)
                if category:
                    scope.note(category, value)
    return redactor, scope


async def earlier_work(session: ToolSession, scenario: Scenario) -> None:
    """The scenario's `earlier` calls, replayed as scripted steps through the trial's own server and
    client before the agent hears the request (the journal then holds them, as it would after an
    earlier turn of the same conversation); set aside so they do not count as the agent's calls."""
    from .agents.scripted import ScriptedAgent

    try:
        await ScriptedAgent().replay(session, scenario.earlier)
    except ScriptError as exc:
        raise ScriptError(f"earlier: {exc}") from None
    session.set_aside_earlier()


def transcript_name(scenario: Scenario, trial: int) -> str:
    return f"{scenario.name}.trial{trial}.jsonl"


async def run_scenario(
    scenario: Scenario,
    agent: Agent,
    served: ServedSandbox,
    *,
    trial: int = 1,
    out_dir: Path | None = None,
    token_budget: int | None = None,
) -> Outcome:
    import anyio
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
            session.token_budget = token_budget
            try:
                if scenario.earlier:
                    await earlier_work(session, scenario)
                await agent.run(session, scenario)
            except ScriptError as exc:
                failures.append(str(exc))
    after = copy.deepcopy(state.records)
    writes = sum(1 for r in state.requests if r.route in WRITES and r.status == 200)
    failures += grade(scenario, before, after, session.calls, writes)
    if session.budget_hit:
        failures.append(session.budget_hit)
    redactor, scope = trial_redactor(scenario, before, after, calls=session.calls)
    failures = [str(redactor.scrub(f, scope)) for f in failures]  # a failure may quote a document number
    passed = not failures
    usage = session.usage
    outcome = Outcome(
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
        trial=trial,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        model_requests=usage.requests,
        cost_usd=None if usage.cost_usd is None else round(usage.cost_usd, 6),
        budget_hit=session.budget_hit,
    )
    if out_dir is not None:
        outcome.transcript = transcript_name(scenario, trial)
        events = [
            {
                "event": "start",
                "scenario": scenario.name,
                "scenario_version": scenario.version,
                "trial": trial,
                "agent": agent.name,
                "server_version": __version__,
                "request": scenario.request,
                "confirm": scenario.confirm,
            },
            *session.events,
            *({"event": "elicitation", "message": m} for m in asked),
            {"event": "diff", "changes": records_diff(before, after)},
            {
                "event": "outcome",
                "passed": passed,
                "failures": failures,
                "writes": writes,
                "api_requests": outcome.api_requests,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
            },
        ]
        lines = [json.dumps(redactor.scrub(e, scope), ensure_ascii=False, default=str) for e in events]
        await anyio.Path(out_dir / outcome.transcript).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return outcome


def _label(scenario: Scenario, trial: int, trials: int) -> str:
    return scenario.name if trials == 1 else f"{scenario.name} #{trial}"


async def run_all(
    scenarios: list[Scenario],
    agent: Agent,
    *,
    trials: int = 1,
    jobs: int = 1,
    out_dir: Path | None = None,
    budget: Budget | None = None,
    out: TextIO = sys.stdout,
) -> list[Outcome]:
    """Every scenario `trials` times, `jobs` at a time; the outcomes in scenario then trial order
    (trials the budget stopped are missing)."""
    import anyio

    if trials < 1 or jobs < 1:
        raise ValueError("trials and jobs must be at least 1")
    budget = budget or Budget()
    if out_dir is not None:
        await anyio.Path(out_dir).mkdir(parents=True, exist_ok=True)
    work = [(s, t) for s in scenarios for t in range(1, trials + 1)]
    results: dict[int, Outcome] = {}
    queue: Iterator[tuple[int, tuple[Scenario, int]]] = iter(enumerate(work))
    done = 0

    def report_line(outcome: Outcome) -> str:
        return f"{'PASS' if outcome.passed else 'FAIL'} ({outcome.tool_calls} calls, {outcome.seconds:.1f}s)"

    async def worker() -> None:
        nonlocal done
        with ServedSandbox() as served:
            for index, (scenario, trial) in queue:
                if budget.stopped:
                    budget.not_run += 1
                    continue
                label = _label(scenario, trial, trials)
                if jobs == 1:
                    print(f"[{index + 1}/{len(work)}] {label} ...", end=" ", file=out, flush=True)
                outcome = await run_scenario(
                    scenario, agent, served, trial=trial, out_dir=out_dir, token_budget=budget.remaining_tokens()
                )
                results[index] = outcome
                budget.spend(outcome, agent.name)
                done += 1
                line = report_line(outcome)
                print(line if jobs == 1 else f"[{done}/{len(work)}] {label} ... {line}", file=out, flush=True)
                for failure in outcome.failures:
                    print(f"      - {failure}", file=out, flush=True)

    async with anyio.create_task_group() as group:
        for _ in range(min(jobs, len(work))):
            group.start_soon(worker)
    if budget.stopped:
        print(f"stopped: {budget.stopped}; {budget.not_run} trial(s) not run", file=out, flush=True)
    return [results[i] for i in sorted(results)]
