"""The evaluation harness: the whole scenario suite with the scripted agent (as CI runs it), grading
that fails wrong outcomes, and the model agents' tool-use loops against a fake model API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from nexudus_identity_mcp.cli.main import make_agent
from nexudus_identity_mcp.evaluation.agents.model import AgentConfigError, ModelAgent, parse_compat
from nexudus_identity_mcp.evaluation.agents.scripted import ScriptedAgent
from nexudus_identity_mcp.evaluation.harness import run_all
from nexudus_identity_mcp.evaluation.scenarios import load_scenario

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).parent.parent
EVALS = sorted((ROOT / "evals").glob("*.toml"))


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
    ):
        assert needed in names


@pytest.mark.slow
@pytest.mark.timeout(900)  # 38 scenarios, each a server process; slow on a loaded 2-core machine
def test_full_suite_with_the_scripted_agent(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    done = subprocess.run(
        [sys.executable, "-m", "nexudus_identity_mcp", "eval", "--report", str(report_path)],
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
    agent = ModelAgent(FunctionModel(fake))
    with open(os.devnull, "w") as quiet:
        [outcome] = await run_all([load_scenario(scenario)], agent, out=quiet)
    assert outcome.passed, outcome.failures
    assert outcome.tool_calls == 3 and outcome.error_results == 1 and outcome.recovered is True
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
