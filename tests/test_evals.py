"""The evaluation harness: the whole scenario suite with the scripted agent (as CI runs it), grading
that fails wrong outcomes, and the model agents' tool-use loops against a fake model API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest

from nexudus_identity_mcp.evaluation.agents.model import AnthropicAgent, OpenAIAgent
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
    """Plays a model that reads, makes a typo, corrects it from the error's Hint, and stops."""

    def __init__(self, style: str) -> None:
        self.style = style
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        payload = json.loads(request.content)
        self.requests.append(payload)
        turn = len(self.requests)
        base = {
            "Id": 87654303,
            "BusinessId": 1001,
            "CoworkerId": 2002,
            "Name": "ID card check",
            "IdentityCheckProvider": "Manual",
            "AddressDocumentType": "None",
        }
        if turn == 1:
            return self.tool_call("get_coworker_identity_check", {"Id": 87654303})
        if turn == 2:
            return self.tool_call("update_coworker_identity_check", {**base, "IdentityDocumentType": "Pasport"})
        if turn == 3:
            error = json.loads(self.last_tool_result(payload))
            hint = next(e["Hint"] for e in error["Errors"] if e["PropertyName"] == "IdentityDocumentType")
            return self.tool_call("update_coworker_identity_check", {**base, "IdentityDocumentType": hint})
        return self.text("Done: the check now records a passport.")

    def tool_call(self, name: str, arguments: dict[str, Any]) -> httpx2.Response:
        n = len(self.requests)
        if self.style == "anthropic":
            return httpx2.Response(
                200,
                json={
                    "content": [{"type": "tool_use", "id": f"tu_{n}", "name": name, "input": arguments}],
                    "stop_reason": "tool_use",
                },
            )
        return httpx2.Response(
            200,
            json={
                "choices": [
                    {
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": f"call_{n}",
                                    "type": "function",
                                    "function": {"name": name, "arguments": json.dumps(arguments)},
                                }
                            ],
                        }
                    }
                ]
            },
        )

    def text(self, text: str) -> httpx2.Response:
        if self.style == "anthropic":
            return httpx2.Response(200, json={"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"})
        return httpx2.Response(200, json={"choices": [{"message": {"role": "assistant", "content": text}}]})

    def last_tool_result(self, payload: dict[str, Any]) -> str:
        last = payload["messages"][-1]
        if self.style == "anthropic":
            block = last["content"][0]
            assert block["type"] == "tool_result" and block["is_error"] is True
            return block["content"]
        assert last["role"] == "tool"
        return last["content"]


@pytest.mark.parametrize("style", ["anthropic", "openai"])
async def test_model_agent_loop_with_a_fake_model(tmp_path: Path, style: str) -> None:
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
    fake = FakeModel(style)
    transport = httpx2.MockTransport(fake.handler)
    agent = (AnthropicAgent if style == "anthropic" else OpenAIAgent)(api_key="test-key", transport=transport)
    with open(os.devnull, "w") as quiet:
        [outcome] = await run_all([load_scenario(scenario)], agent, out=quiet)
    assert outcome.passed, outcome.failures
    assert outcome.tool_calls == 3 and outcome.error_results == 1 and outcome.recovered is True
    first = fake.requests[0]
    tools = first["tools"]
    if style == "anthropic":
        assert {t["name"] for t in tools} >= {"update_coworker_identity_check"} and "input_schema" in tools[0]
        assert "get_coworker_identity_check" in first["system"]
    else:
        assert tools[0]["type"] == "function" and "parameters" in tools[0]["function"]
        assert first["messages"][0]["role"] == "system"
