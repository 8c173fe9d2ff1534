"""The scenarios as an Inspect AI task, run offline with Inspect's mock model: this server's tools
served to the model over MCP (Inspect's own client, with `mcp` 2.x), epochs, and the scorer grading
the final sandbox state as `eval` does."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import pytest

inspect_ai = pytest.importorskip(
    "inspect_ai", reason="the Inspect AI task needs the inspect extra: pip install -e '.[inspect]'"
)

from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.model import ChatMessageTool, ModelOutput, ModelUsage, get_model  # noqa: E402

BASE = {
    "Id": 87654303,
    "BusinessId": 1001,
    "CoworkerId": 2002,
    "Name": "ID card check",
    "IdentityCheckProvider": "Manual",
    "AddressDocumentType": "None",
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


class MockPlayer:
    """Inspect's mock model's outputs: read the check, update it with a typo, correct it from the
    error's Hint, then answer. Decided from the conversation alone, so samples and epochs can run at
    once; every output carries its usage (the mock would otherwise count tokens with a download)."""

    def __init__(self) -> None:
        self.tool_names: set[str] = set()

    def __call__(self, messages: list[Any], tools: list[Any], tool_choice: Any, config: Any) -> ModelOutput:
        self.tool_names |= {t.name for t in tools}
        results = [m for m in messages if isinstance(m, ChatMessageTool)]
        if not results:
            out = ModelOutput.for_tool_call("mockllm/model", "get_coworker_identity_check", {"Id": 87654303})
        elif len(results) == 1:
            arguments = {**BASE, "IdentityDocumentType": "Pasport"}
            out = ModelOutput.for_tool_call("mockllm/model", "update_coworker_identity_check", arguments)
        elif len(results) == 2 and results[-1].error is not None:
            # Inspect checks arguments against the tool's input schema before calling the server: its
            # refusal lists the allowed values; the nearest one is the fix.
            text = results[-1].error.message
            allowed = re.findall(r"'([^']+)'", text[text.index("one of") :])
            [fix] = difflib.get_close_matches("Pasport", allowed, 1)
            arguments = {**BASE, "IdentityDocumentType": fix}
            out = ModelOutput.for_tool_call("mockllm/model", "update_coworker_identity_check", arguments)
        else:
            out = ModelOutput.from_content("mockllm/model", "Done: the check records a passport.")
        out.usage = ModelUsage(input_tokens=100, output_tokens=10, total_tokens=110)
        return out


@pytest.mark.slow  # loopback sandboxes and a server process per sample and epoch
@pytest.mark.timeout(300)
def test_inspect_task_with_the_mock_model(tmp_path: Path) -> None:
    fixes = write(
        tmp_path,
        "fixes",
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
    wrong = write(
        tmp_path,
        "wrong",
        """
name = "wanted_a_licence"
request = "Tomás's check 87654303 was done with his driving licence."
[expect.records.87654303]
IdentityDocumentType = "DriversLicense"
[expect]
writes = 1
""",
    )
    player = MockPlayer()
    # By its registered name (the package's inspect_ai entry point), as `inspect eval` finds it.
    [log] = inspect_eval(
        "nexudus_identity_mcp/identity_checks",
        task_args={"scenarios": f"{fixes},{wrong}", "epochs": 2},
        model=get_model("mockllm/model", custom_outputs=player),
        display="none",
        log_dir=str(tmp_path / "logs"),
        max_samples=2,
    )
    assert log.status == "success", log.error
    assert {
        "find_coworker_identity_checks",
        "get_coworker_identity_check",
        "update_coworker_identity_check",
    } <= player.tool_names  # the server's tools, over MCP
    assert log.samples is not None and len(log.samples) == 4  # two scenarios, two epochs
    by_sample: dict[str, list[Any]] = {}
    for sample in log.samples:
        assert sample.scores is not None
        by_sample.setdefault(str(sample.id), []).append(sample.scores["final_state"])
    for score in by_sample["model_fixes_typo"]:
        assert score.value == "C", score.explanation
        assert score.metadata == {
            "tool_calls": 3,
            "error_results": 1,
            "recovered": True,
            "api_requests": score.metadata["api_requests"],
            "writes": 1,
            "scenario_version": score.metadata["scenario_version"],
        }
    for score in by_sample["wanted_a_licence"]:
        assert score.value == "I" and "IdentityDocumentType" in str(score.explanation)
    assert log.results is not None
    # Per reducer over the epochs: the mean (pass^1) and pass^n (every epoch passed): 1 for the
    # scenario the model gets right, 0 for the other, so 0.5 over the two.
    reduced = {s.reducer: s.metrics["accuracy"].value for s in log.results.scores}
    assert reduced == {"mean": 0.5, "pass_hat_n": 0.5}
    # The final states went from the solver to the scorer on the task's own Finals, of which Inspect's
    # log records nothing (the records before and after stay in this process).
    assert [step.params.get("finals", "absent") for step in log.plan.steps] == [None]
    assert [(s.options or {}).get("finals", "absent") for s in log.eval.scorers or []] == [None], log.eval.scorers
