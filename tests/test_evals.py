"""The evaluation harness: the whole scenario suite with the scripted agent (as CI runs it), grading
that fails wrong outcomes, and the model agents' tool-use loops against a fake model API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import jsonschema
import pytest
import xmlschema
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from nexudus_identity_mcp.cli.main import main, make_agent
from nexudus_identity_mcp.evaluation.agents.model import AgentConfigError, ModelAgent, parse_compat
from nexudus_identity_mcp.evaluation.agents.scripted import ScriptedAgent
from nexudus_identity_mcp.evaluation.grading import Outcome
from nexudus_identity_mcp.evaluation.harness import Budget, run_all
from nexudus_identity_mcp.evaluation.report import compare, junit, pass_hat_k, report, schema, table
from nexudus_identity_mcp.evaluation.scenarios import Scenario, load_scenario
from nexudus_identity_mcp.evaluation.session import ToolSession
from nexudus_identity_mcp.sandbox.data import seed_checks

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).parent.parent
EVALS = sorted((ROOT / "evals").glob("*.toml"))
JUNIT_XSD = Path(__file__).parent / "schemas" / "junit.xsd"
DOCUMENT_NUMBERS = [r["IdentityDocumentNumber"] for r in seed_checks() if r.get("IdentityDocumentNumber")]


def test_the_suite_has_the_scenarios_the_issue_names() -> None:
    assert len(EVALS) >= 25
    names = {load_scenario(p).name for p in EVALS}
    for needed in (
        "enum_by_name",
        "enum_by_code",
        "enum_typo_repaired",
        "date_plain",
        "date_with_offset",
        "clear_description",
        "missing_required_repaired",
        "unknown_property_repaired",
        "unknown_id",
        "find_by_member_and_location",
        "conflict_reread",
        "dry_run_then_confirm",
        "throttled_then_retry",
        "read_only_refused",
        "status_not_writable",
        "status_error_not_followed",
        "wrong_required_copy",
        "reassign_refused",
        "reassign_explicit",
        "null_as_keep",
        "verify_by_member_name",
        "reject_with_notes",
        "unknown_command_key_repaired",
        "user_declines_confirmation",
        "find_member_similar_names",
        "find_active_member_live",
        "find_member_by_email",
        "expiring_before_a_date",
        "expiry_window_ignored_by_api",
        "number_matches",
        "number_near_miss",
        "number_not_on_file",
        "reassign_other_location_warned",
        "undo_what_you_just_did",
        "what_did_you_change_today",
    ):
        assert needed in names


def test_expected_results_grade_the_last_answer_of_a_tool(tmp_path: Path) -> None:
    """A request that changes nothing is graded by what the server answered: the last successful call
    of the tool holds the value (a model that retries a near-miss number until it matches fails)."""
    from nexudus_identity_mcp.evaluation.grading import grade
    from nexudus_identity_mcp.evaluation.session import Call

    scenario = load_scenario(
        write(
            tmp_path,
            "answers",
            'request = "x"\n[[expect.results]]\ntool = "compare"\nfield = "Match"\nvalue = "does_not_match"\n'
            '[[expect.results]]\ntool = "find"\nids = [2, 1]\n',
        )
    )
    near = Call("compare", {}, False, {"Match": "does_not_match"})
    retried = Call("compare", {}, False, {"Match": "matches"})
    rows = Call("find", {}, False, {"Members": [{"Id": 2}, {"Id": 1}]})
    assert grade(scenario, {}, {}, [near, rows], 0) == []
    assert grade(scenario, {}, {}, [near, retried, rows], 0) == [
        "the last compare answered Match 'matches', expected 'does_not_match'"
    ]
    assert grade(scenario, {}, {}, [near], 0) == ["no successful find call"]
    unsorted = Call("find", {}, False, {"Checks": [{"Id": 1}, {"Id": 2}]})
    assert grade(scenario, {}, {}, [near, unsorted], 0) == ["the last find listed [1, 2], expected [2, 1]"]


@pytest.mark.slow
@pytest.mark.timeout(900)  # 38 scenarios, each a server process; slow on a loaded 2-core machine
def test_full_suite_with_the_scripted_agent(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    junit_path = tmp_path / "junit.xml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nexudus_identity_mcp",
            "eval",
            "--report",
            str(report_path),
            "--junit",
            str(junit_path),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    report = json.loads(report_path.read_text())
    assert report["agent"] == "scripted"
    assert report["totals"]["scenarios"] == len(EVALS) == report["totals"]["passed"]
    assert report["totals"]["recovered"] == report["totals"]["had_errors"] > 0
    assert "[1/" in done.stdout and "scenario" in done.stdout and "PASS" in done.stdout
    jsonschema.validate(report, schema("report"))
    assert report["trials"] == 1 and report["totals"]["pass_hat_k"] == {"1": 1.0}
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(junit_path))
    transcripts = sorted((tmp_path / "out").glob("*.jsonl"))
    assert len(transcripts) == len(EVALS)
    for path in transcripts:
        text = path.read_text(encoding="utf-8")
        assert not [n for n in [*DOCUMENT_NUMBERS, "301558442ZY1"] if n in text], path.name


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_grading_fails_wrong_outcomes(tmp_path: Path) -> None:
    extra_change = write(
        tmp_path,
        "extra",
        """
name = "extra_change"
request = "Change the issuer on check 87654304 to 'DVA'."
[expect.records.87654304]
IdentityDocumentIssuedBy = "DVA"
[[steps]]
call = "get_coworker_identity_check"
arguments = { Id = 87654304 }
[[steps]]
call = "update_coworker_identity_check"
copy_required = true
arguments = { IdentityDocumentIssuedBy = "DVA", Description = "not asked for" }
""",
    )
    wrong_value = write(
        tmp_path,
        "wrong",
        """
name = "wrong_value"
request = "Set the issuer of 87654304 to 'DVA'."
[expect.records.87654304]
IdentityDocumentIssuedBy = "DVA"
[expect]
writes = 1
[[steps]]
call = "get_coworker_identity_check"
arguments = { Id = 87654304 }
""",
    )
    unrepairable = write(
        tmp_path,
        "unrepairable",
        """
name = "unrepairable"
request = "x"
[[steps]]
call = "get_coworker_identity_check"
arguments = { Id = 87654304 }
[[steps]]
call = "update_coworker_identity_check"
copy_required = true
arguments = { IdentityDocumentExpirationDate = "next spring" }
expect_error = "validation"
[[steps]]
repair = true
""",
    )
    with open(os.devnull, "w") as quiet:
        outcomes = await run_all(
            [load_scenario(p) for p in (extra_change, wrong_value, unrepairable)], ScriptedAgent(), out=quiet
        )
    by_name = {o.name: o for o in outcomes}
    assert not by_name["extra_change"].passed
    assert any("Description" in f for f in by_name["extra_change"].failures)
    assert not by_name["wrong_value"].passed
    assert any("expected 'DVA'" in f for f in by_name["wrong_value"].failures)
    assert any("0 write(s)" in f for f in by_name["wrong_value"].failures)
    assert not by_name["unrepairable"].passed and "cannot read" in by_name["unrepairable"].failures[0]


async def test_earlier_calls_are_the_conversation_before_the_request(tmp_path: Path) -> None:
    """`[[earlier]]` calls go through the trial's own server (its journal holds them) before the agent
    starts; they are not the agent's calls, but their writes count. An agent that does nothing after an
    earlier change fails: the change is still there."""
    earlier = """
[[earlier]]
call = "get_coworker_identity_check"
arguments = { Id = 87654304 }
[[earlier]]
call = "update_coworker_identity_check"
copy_required = true
arguments = { IdentityDocumentIssuedBy = "DVA", ExpectedUpdatedOn = "{{read.UpdatedOn}}" }
"""
    idle = write(tmp_path, "idle", 'name = "idle"\nrequest = "Undo that."\n' + earlier)
    undo = write(
        tmp_path,
        "undo",
        'name = "undo"\nrequest = "Undo that."\n[expect]\nwrites = 2\n'
        + earlier
        + """
[[steps]]
call = "list_coworker_identity_check_changes"
arguments = { CheckId = 87654304 }
[[steps]]
select = { CheckId = "87654304" }
[[steps]]
call = "undo_coworker_identity_check_update"
arguments = { EntryId = "{{selected.EntryId}}" }
""",
    )
    broken = write(
        tmp_path,
        "broken",
        'name = "broken"\nrequest = "x"\n[[earlier]]\ncall = "get_coworker_identity_check"\narguments = { Id = 1 }\n',
    )
    with open(os.devnull, "w") as quiet:
        outcomes = await run_all(
            [load_scenario(p) for p in (idle, undo, broken)], ScriptedAgent(), out=quiet, out_dir=tmp_path / "runs"
        )
    by_name = {o.name: o for o in outcomes}
    assert not by_name["idle"].passed and by_name["idle"].tool_calls == 0
    assert any("IdentityDocumentIssuedBy" in f for f in by_name["idle"].failures)
    assert by_name["undo"].passed, by_name["undo"].failures
    assert by_name["undo"].tool_calls == 2 and by_name["undo"].writes == 2
    assert by_name["broken"].failures[0].startswith("earlier: step 1: unexpected not_found error")
    events = [json.loads(line) for line in (tmp_path / "runs" / "undo.trial1.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("earlier_call") == 2 and kinds.count("tool_call") == 2
    assert kinds.index("earlier_call") < kinds.index("tool_call")


# ------------------------------------------------------------------ model agents against a fake model API
class FakeModel:
    """Plays a model (a pydantic-ai FunctionModel) that reads, makes a typo, corrects it from the
    error's Hint, and stops."""

    def __init__(self) -> None:
        self.infos: list[AgentInfo] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.infos.append(info)
        turn = len(self.infos)
        base = {
            "Id": 87654303,
            "BusinessId": 1001,
            "CoworkerId": 2002,
            "Name": "ID card check",
            "IdentityCheckProvider": "Manual",
            "AddressDocumentType": "None",
        }
        if turn == 1:
            return ModelResponse(parts=[ToolCallPart("get_coworker_identity_check", {"Id": 87654303})])
        if turn == 2:
            arguments = {**base, "IdentityDocumentType": "Pasport"}
            return ModelResponse(parts=[ToolCallPart("update_coworker_identity_check", arguments)])
        if turn == 3:
            [returned] = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
            error = json.loads(returned.content)
            hint = next(e["Hint"] for e in error["Errors"] if e["PropertyName"] == "IdentityDocumentType")
            arguments = {**base, "IdentityDocumentType": hint}
            return ModelResponse(parts=[ToolCallPart("update_coworker_identity_check", arguments)])
        return ModelResponse(parts=[TextPart("Done: the check now records a passport.")])


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_model_agent_loop_with_a_function_model(tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        "model",
        """
name = "model_fixes_typo"
request = "Tomás's check 87654303 was done with his passport."
[expect.records.87654303]
IdentityDocumentType = "Passport"
[expect]
writes = 1
errors = ["validation"]
""",
    )
    fake = FakeModel()
    agent = ModelAgent(FunctionModel(fake), price_per_mtok=(3.0, 15.0))
    with open(os.devnull, "w") as quiet:
        [outcome] = await run_all([load_scenario(scenario)], agent, out=quiet, out_dir=tmp_path / "out")
    assert outcome.passed, outcome.failures
    assert outcome.tool_calls == 3 and outcome.error_results == 1 and outcome.recovered is True
    # What it cost, as pydantic-ai's usage object counts it: four model requests, their tokens, the price.
    assert outcome.model_requests == 4 == len(fake.infos)
    assert outcome.input_tokens > 0 and outcome.output_tokens > 0
    assert outcome.cost_usd == round((outcome.input_tokens * 3.0 + outcome.output_tokens * 15.0) / 1e6, 6)
    # The transcript: the model's messages (its tool calls with arguments, the results as it saw them).
    assert outcome.transcript is not None
    events = [json.loads(line) for line in (tmp_path / "out" / outcome.transcript).read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-2:] == ["diff", "outcome"] and kinds.count("tool_call") == 3
    messages = [e["message"] for e in events if e["event"] == "message"]
    parts = [p for m in messages for p in m["parts"]]
    typo = [p for p in parts if p["part_kind"] == "tool-call" and p["args"].get("IdentityDocumentType") == "Pasport"]
    assert typo, "the model's first update, with its typo, is in the transcript"
    returned = [p for p in parts if p["part_kind"] == "tool-return"]
    assert len(returned) == 3 and "Hint" in returned[1]["content"]
    diff = next(e for e in events if e["event"] == "diff")["changes"]
    assert {"Id": 87654303, "Field": "IdentityDocumentType", "Before": 4, "After": 1} in diff or any(
        c["Field"] == "IdentityDocumentType" for c in diff
    )
    first = fake.infos[0]
    schemas = {tool.name: tool.parameters_json_schema for tool in first.function_tools}
    assert "update_coworker_identity_check" in schemas and "properties" in schemas["update_coworker_identity_check"]
    assert first.instructions is not None and "get_coworker_identity_check" in first.instructions


def test_model_names_and_their_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_compat("openai-compat:http://localhost:11434/v1:llama3.1:8b") == (
        "http://localhost:11434/v1",
        "llama3.1:8b",
    )
    assert parse_compat("openai-compat:https://llm.example/v1:qwen") == ("https://llm.example/v1", "qwen")
    assert parse_compat("openai:gpt-4.1") is None
    assert isinstance(make_agent("scripted", None), ScriptedAgent)
    assert isinstance(make_agent("test", None), ModelAgent)  # pydantic-ai's TestModel by name
    for variable in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    for spec in ("nonsense-provider:x", "openai-compat:localhost:llama", "anthropic:claude-sonnet-4-5"):
        with pytest.raises(AgentConfigError) as caught:
            make_agent(spec, None)
        assert "\n" not in str(caught.value) and spec.split(":")[0] in str(caught.value)


# ------------------------------------------------------------------ trials, pass^k, reports
def outcome(name: str, passed: bool, trial: int, **counts: int) -> Outcome:
    base = dict(tool_calls=2, error_results=0, api_requests=3, writes=1, input_tokens=0, output_tokens=0)
    base.update(counts)
    return Outcome(
        name=name,
        passed=passed,
        failures=[] if passed else ["check 87654304: IdentityDocumentIssuedBy is 'x', expected 'DVA'"],
        recovered=None,
        seconds=0.5,
        trial=trial,
        **base,  # type: ignore[arg-type]
    )


def scenario_named(name: str, version: str = "0123456789ab") -> Scenario:
    return Scenario(name=name, request="x", path=f"{name}.toml", version=version)


def test_pass_hat_k_against_hand_computed_values() -> None:
    # n = 4 trials, c = 3 passes: C(3,1)/C(4,1) = 3/4, C(3,2)/C(4,2) = 3/6, C(3,3)/C(4,3) = 1/4, C(3,4) = 0.
    assert [pass_hat_k(4, 3, k) for k in (1, 2, 3, 4)] == [0.75, 0.5, 0.25, 0.0]
    # n = 5, c = 2: 2/5, C(2,2)/C(5,2) = 1/10, then 0.
    assert [pass_hat_k(5, 2, k) for k in (1, 2, 3)] == [0.4, 0.1, 0.0]
    assert pass_hat_k(3, 3, 3) == 1.0 and pass_hat_k(3, 0, 1) == 0.0
    with pytest.raises(ValueError):
        pass_hat_k(3, 1, 4)
    # A report: "flaky" passes 3 of 4, "steady" 4 of 4. Totals average over scenarios (tau-bench):
    # pass^1 = (3/4 + 1)/2, pass^2 = (1/2 + 1)/2, pass^3 = (1/4 + 1)/2, pass^4 = (0 + 1)/2.
    runs = [outcome("flaky", t != 2, t) for t in range(1, 5)] + [outcome("steady", True, t) for t in range(1, 5)]
    data = report([scenario_named("flaky"), scenario_named("steady")], runs, "scripted", trials=4)
    jsonschema.validate(data, schema("report"))
    flaky = data["scenarios"][0]
    assert (flaky["trials_run"], flaky["trials_passed"], flaky["passed"]) == (4, 3, False)
    assert flaky["pass_hat_k"] == {"1": 0.75, "2": 0.5, "3": 0.25, "4": 0.0}
    assert data["totals"]["pass_hat_k"] == {"1": 0.875, "2": 0.75, "3": 0.625, "4": 0.5}
    assert data["totals"]["passed"] == 1 and data["totals"]["failed"] == 1 and data["totals"]["trials_passed"] == 7
    assert data["totals"]["tool_calls"] == 16 and data["totals"]["writes"] == 8
    assert "3/4 pass^4=0.00" in table(data) and "4/4 pass^4=1.00" in table(data)


def test_compare_and_junit_follow_their_schemas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenarios = [scenario_named("change_issuer"), scenario_named("conflict_reread"), scenario_named("only_in_a")]
    a_runs = [outcome("change_issuer", True, t, input_tokens=900, output_tokens=100) for t in (1, 2)]
    a_runs += [outcome("conflict_reread", t == 1, t, tool_calls=4) for t in (1, 2)]
    a_runs += [outcome("only_in_a", True, t) for t in (1, 2)]
    b_scenarios = [scenario_named("change_issuer"), scenario_named("conflict_reread", "ba9876543210")]
    b_runs = [outcome("change_issuer", True, t, input_tokens=1800, output_tokens=200) for t in (1, 2)]
    b_runs += [outcome("conflict_reread", True, t, tool_calls=3) for t in (1, 2)]
    a = report(scenarios, a_runs, "model:function:a", trials=2)
    budget = Budget(max_tokens=4000)
    budget.stopped, budget.not_run = "the token budget (--max-tokens 4000) was used up: 4000 tokens spent", 2
    b = report([*b_scenarios, scenario_named("stopped")], b_runs, "model:function:b", trials=2, budget=budget)
    for data in (a, b):
        jsonschema.validate(data, schema("report"))
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))

    a_file, b_file = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    main(["eval", "--compare", a_file, b_file, "--report", str(tmp_path / "c.json")])
    printed = capsys.readouterr().out
    written = json.loads((tmp_path / "c.json").read_text())
    jsonschema.validate(written, schema("compare"))
    assert written == compare(a, b, a_file, b_file)
    rows = {r["name"]: r for r in written["scenarios"]}
    assert rows["change_issuer"]["delta"] == {"pass_rate": 0.0, "calls": 0.0, "tokens": 1000.0, "seconds": 0.0}
    assert rows["conflict_reread"]["delta"]["pass_rate"] == 0.5 and rows["conflict_reread"]["delta"]["calls"] == -1
    assert rows["conflict_reread"]["same_version"] is False and rows["only_in_a"]["b"] is None
    lines = {line.split()[0]: line.split() for line in printed.splitlines() if line and line.split()[0] in rows}
    assert lines["change_issuer"][1:] == ["100%", "100%", "0", "2.0", "2.0", "0", "1000", "2000", "+1000"]
    assert lines["only_in_a"][1:4] == ["100%", "-", "-"]
    assert "conflict_reread*" in printed and "TOTAL" in printed

    xsd = xmlschema.XMLSchema(str(JUNIT_XSD))
    for data in (a, b):
        xsd.validate(junit(data))
    suite = xmlschema.XMLSchema(str(JUNIT_XSD)).to_dict(junit(b))["testsuite"][0]
    cases = {c["@name"]: c for c in suite["testcase"]}
    assert suite["@tests"] == 3 and suite["@failures"] == 0 and suite["@skipped"] == 1
    assert "--max-tokens 4000" in cases["stopped"]["skipped"]["@message"]
    failed = xsd.to_dict(junit(a))["testsuite"][0]["testcase"][1]
    assert failed["@name"] == "conflict_reread" and failed["failure"]["@message"] == "1/2 trials passed"

    (tmp_path / "bad.json").write_text(json.dumps({"agent": "x"}))
    with pytest.raises(SystemExit) as stopped:
        main(["eval", "--compare", str(tmp_path / "a.json"), str(tmp_path / "bad.json")])
    assert stopped.value.code == 2 and "not an eval report" in capsys.readouterr().err


def overwrite_scenarios(tmp_path: Path, count: int) -> list[Scenario]:
    """`count` scenarios that each write their own note on the same check: on a shared sandbox they
    would see each other's write (one write each, and nothing else changed, fails)."""
    paths = [
        write(
            tmp_path,
            f"note{n}",
            f"""
name = "note{n}"
request = "Note on check 87654312: 'note {n}'."
[expect.records.87654312]
Description = "note {n}"
[expect]
writes = 1
[[steps]]
call = "get_coworker_identity_check"
arguments = {{ Id = 87654312 }}
[[steps]]
call = "update_coworker_identity_check"
copy_required = true
arguments = {{ Description = "note {n}", ExpectedUpdatedOn = "{{{{read.UpdatedOn}}}}" }}
""",
        )
        for n in range(count)
    ]
    return [load_scenario(p) for p in paths]


class TogetherAgent(ScriptedAgent):
    """The scripted agent, but the first `width` trials wait for each other inside the run (bounded),
    so the test proves that `width` trials were under way at once."""

    def __init__(self, width: int) -> None:
        self.width, self.inside, self.most = width, 0, 0
        self.all_in = anyio.Event()

    async def run(self, session: ToolSession, scenario: Scenario) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        if self.inside >= self.width:
            self.all_in.set()
        with anyio.fail_after(60):
            await self.all_in.wait()
        try:
            await super().run(session, scenario)
        finally:
            self.inside -= 1


@pytest.mark.slow  # a dozen server processes
@pytest.mark.timeout(300)
async def test_parallel_jobs_have_independent_sandboxes(tmp_path: Path) -> None:
    scenarios = overwrite_scenarios(tmp_path, 4)
    agent = TogetherAgent(width=4)
    with open(os.devnull, "w") as quiet:
        [alone] = await run_all(scenarios[:1], ScriptedAgent(), out=quiet)
        outcomes = await run_all(scenarios, agent, trials=3, jobs=4, out=quiet)
    assert agent.most == 4  # four trials inside the agent at once, each on its own worker's sandbox
    assert [(o.name, o.trial) for o in outcomes] == [(s.name, t) for s in scenarios for t in (1, 2, 3)]
    for o in outcomes:
        assert o.passed, (o.name, o.trial, o.failures)
        # What each trial's sandbox saw is what one trial alone sees: no other trial's requests.
        assert (o.writes, o.api_requests, o.tool_calls) == (1, alone.api_requests, 2), (o.name, o.trial)
    data = report(scenarios, outcomes, agent.name, trials=3, jobs=4)
    assert data["totals"]["pass_hat_k"] == {"1": 1.0, "2": 1.0, "3": 1.0}


@pytest.mark.slow  # a loopback server and server processes
async def test_transcripts_and_report_hold_no_document_number(tmp_path: Path) -> None:
    wrong = write(
        tmp_path,
        "wrong_number",
        """
name = "wrong_number"
request = "Tomás showed a new ID card: its number is 301558442ZY1. Update check 87654303."
[expect.records.87654303]
IdentityDocumentNumber = "301558442ZY2"
[[steps]]
call = "get_coworker_identity_check"
arguments = { Id = 87654303 }
[[steps]]
call = "update_coworker_identity_check"
copy_required = true
arguments = { IdentityDocumentNumber = "301558442ZY1" }
""",
    )
    scenarios = [load_scenario(ROOT / "evals" / "27_new_document_number.toml"), load_scenario(wrong)]
    out_dir = tmp_path / "out"
    with open(os.devnull, "w") as quiet:
        outcomes = await run_all(scenarios, ScriptedAgent(), out_dir=out_dir, out=quiet)
    assert [o.passed for o in outcomes] == [True, False]
    assert "IdentityDocumentNumber is '«ID_DOC:" in outcomes[1].failures[0]  # graded, said without the number
    data = report(scenarios, outcomes, "scripted", transcripts=str(out_dir))
    jsonschema.validate(data, schema("report"))
    secrets = [*DOCUMENT_NUMBERS, "301558442ZY1", "301558442ZY2"]
    texts = {"report": json.dumps(data, ensure_ascii=False)}
    for entry in data["scenarios"]:
        [trial] = entry["trials"]
        path = out_dir / trial["transcript"]  # the report links the trial's transcript
        texts[path.name] = path.read_text(encoding="utf-8")
        events = [json.loads(line) for line in texts[path.name].splitlines()]
        assert [e["event"] for e in events][:2] == ["start", "tools"]
        calls = [e for e in events if e["event"] == "tool_call"]
        assert [c["tool"] for c in calls] == ["get_coworker_identity_check", "update_coworker_identity_check"]
        assert calls[1]["arguments"]["IdentityDocumentNumber"].startswith("«ID_DOC:")
        diff = next(e for e in events if e["event"] == "diff")["changes"]
        changed = next(c for c in diff if c["Field"] == "IdentityDocumentNumber")
        assert changed["Before"] != changed["After"] and changed["After"].startswith("«ID_DOC:")
    for name, text in texts.items():
        for secret in secrets:
            for form in (secret, secret.lower(), " ".join(secret)):
                assert form not in text, (name, form)


@pytest.mark.slow  # a loopback server and server processes
async def test_token_budget_stops_the_run(tmp_path: Path) -> None:
    scenarios = overwrite_scenarios(tmp_path, 3)
    agent = ModelAgent(FunctionModel(FakeModel()))
    budget = Budget(max_tokens=50)
    with open(os.devnull, "w") as quiet:
        outcomes = await run_all(scenarios, agent, budget=budget, out=quiet)
    [first] = outcomes  # the budget was spent in the first trial; the others were not started
    assert first.budget_hit and "total_tokens_limit of 50" in first.budget_hit and not first.passed
    assert first.model_requests == 1 and first.input_tokens + first.output_tokens > 50
    assert budget.stopped and "--max-tokens 50" in budget.stopped and budget.not_run == 2
    data = report(scenarios, outcomes, agent.name, budget=budget)
    jsonschema.validate(data, schema("report"))
    assert data["budget"]["stopped"] == budget.stopped and data["totals"]["not_run"] == 2
    assert [e["trials_run"] for e in data["scenarios"]] == [1, 0, 0]
