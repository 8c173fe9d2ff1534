"""Scripted evaluations: scenarios, a harness that runs an agent against the real server, grading.

    nexudus-identity-mcp eval [SCENARIO_FILES...] [--agent scripted|anthropic|openai] [--report out.json]

A scenario is a TOML file (see evals/README.md): the staff request in plain words, the sandbox's
starting state (the seed, patched), the expected final state of the records it should touch, and
for the scripted agent the calls to replay. Each scenario starts from a fresh sandbox, served on
loopback, and the real server runs over stdio as a subprocess, as an assistant would start it.

Grading is by final state, as tau-bench does: the expected fields hold the expected values, and
nothing else changed anywhere, not by matching the calls an agent made. Per scenario and in total:
pass or fail, tool calls, error results, whether the agent recovered after an error result,
requests that reached the API, and writes.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import threading
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .fields import ENUM_FIELDS, BY_NAME
from .sandbox import SANDBOX_TOKEN, Fault, Sandbox
from .timefmt import parse_datetime

AUDIT_FIELDS = {"UpdatedOn", "UpdatedBy"}


# ------------------------------------------------------------------ scenarios
@dataclass
class Scenario:
    name: str
    request: str
    path: str
    description: str = ""
    read_only: bool = False
    confirm: str | None = None          # what the staff says if the agent stops to ask for confirmation
    max_turns: int = 12
    patch: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    write_limit: int | None = 60
    expect_records: dict[int, dict[str, Any]] = field(default_factory=dict)
    expect_writes: int | None = None
    expect_errors: list[str] = field(default_factory=list)   # error kinds the run must have met
    steps: list[dict[str, Any]] = field(default_factory=list)


def load_scenario(path: Path) -> Scenario:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    sandbox = data.get("sandbox", {})
    expect = data.get("expect", {})
    try:
        return Scenario(
            name=str(data.get("name") or path.stem), request=str(data["request"]).strip(), path=str(path),
            description=str(data.get("description", "")), read_only=bool(data.get("read_only", False)),
            confirm=data.get("confirm"), max_turns=int(data.get("max_turns", 12)),
            patch={int(k): v for k, v in sandbox.get("patch", {}).items()},
            faults=list(sandbox.get("faults", [])), write_limit=sandbox.get("write_limit", 60),
            expect_records={int(k): v for k, v in expect.get("records", {}).items()},
            expect_writes=expect.get("writes"), expect_errors=list(expect.get("errors", [])),
            steps=list(data.get("steps", [])),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a valid scenario ({exc})") from None


def default_scenario_files() -> list[Path]:
    here = Path.cwd() / "evals"
    folder = here if here.is_dir() else Path(__file__).parent / "evals"
    return sorted(folder.glob("*.toml"))


# ------------------------------------------------------------------ what an agent talks to
@dataclass
class Call:
    tool: str
    arguments: dict[str, Any]
    is_error: bool
    body: dict[str, Any]


class ToolSession:
    """The agent's side of the MCP connection, counting what happens."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[Call] = []
        self.tools: list[Any] = []

    async def list_tools(self) -> list[Any]:
        self.tools = (await self.client.list_tools()).tools
        return self.tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> Call:
        result = await self.client.call_tool(tool, arguments)
        call = Call(tool, copy.deepcopy(arguments), bool(result.is_error), result.structured_content or {})
        self.calls.append(call)
        return call

    def text_of(self, call: Call) -> str:
        return json.dumps(call.body, ensure_ascii=False)


class Agent(Protocol):
    name: str

    async def run(self, session: ToolSession, scenario: Scenario) -> None: ...


# ------------------------------------------------------------------ outcome and grading
@dataclass
class Outcome:
    name: str
    passed: bool
    failures: list[str]
    tool_calls: int
    error_results: int
    recovered: bool | None       # None: no error result to recover from
    api_requests: int
    writes: int
    seconds: float
    error_kinds: list[str] = field(default_factory=list)


def same_value(field_name: str, want: Any, got: Any) -> bool:
    if want == "" and got in (None, ""):  # TOML has no null: "" stands for a blank field
        return True
    enum = ENUM_FIELDS.get(field_name)
    if enum is not None and isinstance(want, str) and not want.isdigit():
        want = enum.code_of(want)
    f = BY_NAME.get(field_name)
    if f is not None and f.type == "datetime" and isinstance(want, str) and isinstance(got, str):
        return parse_datetime(want) == parse_datetime(got)
    return bool(want == got)


def grade(scenario: Scenario, before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]],
          calls: list[Call], writes: int) -> list[str]:
    failures = []
    for check_id, expected in scenario.expect_records.items():
        record = after.get(check_id)
        if record is None:
            failures.append(f"check {check_id} does not exist")
            continue
        for name, want in expected.items():
            if not same_value(name, want, record.get(name)):
                failures.append(f"check {check_id}: {name} is {record.get(name)!r}, expected {want!r}")
    for check_id, record in after.items():
        allowed = set(scenario.expect_records.get(check_id, {})) | AUDIT_FIELDS
        changed = sorted(k for k in record if record[k] != before.get(check_id, {}).get(k) and k not in allowed)
        if changed:
            failures.append(f"check {check_id}: fields changed that should not have: {', '.join(changed)}")
    if scenario.expect_writes is not None and writes != scenario.expect_writes:
        failures.append(f"{writes} write(s) reached the API, expected {scenario.expect_writes}")
    seen = {c.body.get("ErrorKind") for c in calls if c.is_error}
    for kind in scenario.expect_errors:
        if kind not in seen:
            failures.append(f"expected to meet a {kind} error result; met {sorted(k for k in seen if k) or 'none'}")
    return failures


def recovered(calls: list[Call], passed: bool, scenario: Scenario) -> bool | None:
    """After an error result, did the agent reach the goal (a later successful call, and a passing state)?
    None when there was no error, or when the error was the scenario's expected end (a refusal)."""
    first_error = next((i for i, c in enumerate(calls) if c.is_error), None)
    if first_error is None or scenario.expect_writes == 0:
        return None
    return passed and any(not c.is_error for c in calls[first_error + 1:])


# ------------------------------------------------------------------ the harness
class ServedSandbox:
    """One sandbox on 127.0.0.1 for the whole run; reset to the seed before every scenario."""

    def __init__(self) -> None:
        import socket

        import uvicorn

        self.sandbox = Sandbox()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.server = uvicorn.Server(uvicorn.Config(self.sandbox.app, host="127.0.0.1", port=self.port,
                                                    log_level="critical", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedSandbox:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start on loopback within 15 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self, scenario: Scenario) -> None:
        state = self.sandbox.state
        state.reset()
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
    env.update(NEXUDUS_BASE_URL=sandbox_url, NEXUDUS_TOKEN=SANDBOX_TOKEN, NEXUDUS_MCP_SECRET="eval-run",
               NEXUDUS_MAX_RETRY_AFTER="0.2", NEXUDUS_BACKOFF_BASE="0.05", NEXUDUS_MCP_LOG_LEVEL="WARNING")
    args = ["-m", "nexudus_identity_mcp", "serve"] + (["--read-only"] if read_only else [])
    return StdioServerParameters(command=sys.executable, args=args, env=env)


async def run_scenario(scenario: Scenario, agent: Agent, served: ServedSandbox) -> Outcome:
    from mcp import Client
    from mcp.client.stdio import stdio_client

    served.prepare(scenario)
    state = served.sandbox.state
    before = copy.deepcopy(state.records)
    started = time.monotonic()
    failures: list[str] = []
    with open(os.devnull, "w") as errlog:
        async with Client(stdio_client(server_parameters(served.url, scenario.read_only), errlog=errlog),
                          mode="legacy", read_timeout_seconds=60) as client:
            session = ToolSession(client)
            try:
                await agent.run(session, scenario)
            except ScriptError as exc:
                failures.append(str(exc))
    writes = sum(1 for r in state.requests if r.route == "update" and r.status == 200)
    failures += grade(scenario, before, copy.deepcopy(state.records), session.calls, writes)
    passed = not failures
    return Outcome(
        name=scenario.name, passed=passed, failures=failures, tool_calls=len(session.calls),
        error_results=sum(1 for c in session.calls if c.is_error), recovered=recovered(session.calls, passed, scenario),
        api_requests=len(state.requests), writes=writes, seconds=round(time.monotonic() - started, 2),
        error_kinds=[str(c.body.get("ErrorKind")) for c in session.calls if c.is_error],
    )


class ScriptError(Exception):
    """The scripted agent could not carry out its script (the server's answers did not allow it)."""


# ------------------------------------------------------------------ reporting
COLUMNS = ("scenario", "result", "calls", "errors", "recovered", "api", "writes", "secs")


def table(outcomes: list[Outcome]) -> str:
    rows = [COLUMNS] + [(o.name, "PASS" if o.passed else "FAIL", str(o.tool_calls), str(o.error_results),
                         {None: "-", True: "yes", False: "no"}[o.recovered], str(o.api_requests), str(o.writes),
                         f"{o.seconds:.1f}") for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def totals(outcomes: list[Outcome]) -> dict[str, Any]:
    with_errors = [o for o in outcomes if o.recovered is not None]
    return {
        "scenarios": len(outcomes), "passed": sum(o.passed for o in outcomes),
        "failed": sum(not o.passed for o in outcomes), "tool_calls": sum(o.tool_calls for o in outcomes),
        "error_results": sum(o.error_results for o in outcomes),
        "recovered": sum(1 for o in with_errors if o.recovered), "had_errors": len(with_errors),
        "api_requests": sum(o.api_requests for o in outcomes), "writes": sum(o.writes for o in outcomes),
        "seconds": round(sum(o.seconds for o in outcomes), 2),
    }


async def run_all(paths: list[Path], agent: Agent, *, out: Any = sys.stdout) -> list[Outcome]:
    scenarios = [load_scenario(p) for p in paths]
    outcomes: list[Outcome] = []
    with ServedSandbox() as served:
        for n, scenario in enumerate(scenarios, start=1):
            print(f"[{n}/{len(scenarios)}] {scenario.name} ...", end=" ", file=out, flush=True)
            outcome = await run_scenario(scenario, agent, served)
            outcomes.append(outcome)
            print(f"{'PASS' if outcome.passed else 'FAIL'} ({outcome.tool_calls} calls, {outcome.seconds:.1f}s)",
                  file=out, flush=True)
            for failure in outcome.failures:
                print(f"      - {failure}", file=out, flush=True)
    return outcomes


def report(outcomes: list[Outcome], agent: str) -> dict[str, Any]:
    return {"agent": agent, "totals": totals(outcomes), "scenarios": [asdict(o) for o in outcomes]}


def main(paths: list[str], agent_name: str, report_path: str | None, model: str | None) -> int:
    import anyio

    from .eval_agents import make_agent

    files = [Path(p) for p in paths] if paths else default_scenario_files()
    if not files:
        print("no scenario files given and no evals/ folder found", file=sys.stderr)
        return 2
    agent = make_agent(agent_name, model)
    outcomes = anyio.run(run_all, files, agent)
    print()
    print(table(outcomes))
    t = totals(outcomes)
    print(f"\n{t['passed']}/{t['scenarios']} scenarios passed; {t['tool_calls']} tool calls, {t['error_results']} error "
          f"results, recovered in {t['recovered']} of {t['had_errors']} scenarios with errors; {t['api_requests']} API "
          f"requests, {t['writes']} writes; {t['seconds']:.1f}s")
    print(f"{t['passed']} passed, {t['failed']} failed")
    if report_path:
        Path(report_path).write_text(json.dumps(report(outcomes, agent.name), indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
        print(f"report: {report_path}")
    return 0 if t["failed"] == 0 else 1
