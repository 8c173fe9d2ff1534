"""What a newcomer met in a real run (#29, items 5 and 6): each bad setting named, each message
leading with its real cause and naming the thing to do."""

from __future__ import annotations

from typing import Any

import mcp.types as types
import pytest
from mcp import Client

from nexudus_identity_mcp.cli.check import diagnose
from nexudus_identity_mcp.cli.demo import tool_line
from nexudus_identity_mcp.cli.main import main
from nexudus_identity_mcp.evaluation.agents.model import AgentConfigError, build_model
from nexudus_identity_mcp.mcpserver.http_app import ConfigError, create_app
from nexudus_identity_mcp.nexudus import NexudusError
from nexudus_identity_mcp.record.timefmt import UNIT_SECONDS
from nexudus_identity_mcp.sandbox import ADMIN_USER, Sandbox
from nexudus_identity_mcp.settings import SettingsError, read_settings
from nexudus_identity_mcp.tools.catalog import FIND_TOOL, GET_TOOL

from .conftest import ServedSandbox, settings_for
from .helpers import server_for


def settings_problem(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as bad:
        read_settings()
    message = str(bad.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------ item 5: settings
def test_a_bad_log_level_is_named_not_taken_as_info(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_problem(monkeypatch, NEXUDUS_MCP_LOG_LEVEL="verbose")
    assert message == "NEXUDUS_MCP_LOG_LEVEL: 'VERBOSE' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    monkeypatch.setenv("NEXUDUS_MCP_LOG_LEVEL", " debug ")
    assert read_settings().mcp_log_level == "DEBUG"


@pytest.mark.parametrize("variable", ["NEXUDUS_MCP_WRITE_BUDGET", "NEXUDUS_MCP_READ_BUDGET"])
def test_a_bad_budget_names_its_variable_and_every_unit(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    message = settings_problem(monkeypatch, **{variable: "60/fortnight"})
    assert message.startswith(f"{variable}: '60/fortnight' is not a rate"), message
    other = {"NEXUDUS_MCP_WRITE_BUDGET", "NEXUDUS_MCP_READ_BUDGET"} - {variable}
    assert other.pop() not in message
    units = message.split("UNIT one of ")[1]
    for unit in UNIT_SECONDS:
        assert unit in units.split(" (")[0].split(", "), (unit, message)
    assert "day" in UNIT_SECONDS
    monkeypatch.setenv(variable, "60/minute")  # what the newcomer wrote first
    assert read_settings().request_budgets() != (None, None)


def test_a_short_client_token_does_not_scrub_the_client_name_as_a_secret(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    monkeypatch.setenv("NEXUDUS_MCP_CLIENT_TOKENS", "short=abc")
    with pytest.raises(ConfigError) as refused:
        create_app(read_settings(), transport=sandbox.transport(), host="127.0.0.1")
    message = str(refused.value)
    assert "has a token shorter than 16 characters" in message and "«secret»" not in message
    # written the wrong way round, the token (where the name goes) is still never shown
    token = "f3a9c2e8b7d14a6e"
    monkeypatch.setenv("NEXUDUS_MCP_CLIENT_TOKENS", f"{token}=desk")
    with pytest.raises(ConfigError) as reversed_entry:
        create_app(read_settings(), transport=sandbox.transport(), host="127.0.0.1")
    assert token not in str(reversed_entry.value)


@pytest.mark.parametrize(
    "argv",
    [["serve", "--http", "--port", "99999"], ["sandbox", "--port", "99999"], ["serve", "--http", "--port", "-1"]],
)
def test_a_port_out_of_range_is_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"nexudus-identity-mcp: --port {argv[-1]}: a TCP port is a number from 1 to 65535")


@pytest.mark.parametrize("argv", [["serve", "--port", "8000"], ["serve", "--sandbox", "--host", "0.0.0.0"]])
def test_port_or_host_without_http_is_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1 and "--http" in err and "stdio" in err


@pytest.mark.parametrize("mode", ["oauth", "oauth-external"])
def test_client_tokens_in_a_sign_in_mode_are_refused_not_ignored(sandbox: Sandbox, mode: str) -> None:
    settings = settings_for(
        mcp_auth=mode,
        mcp_client_tokens="script=0123456789abcdef0123",
        mcp_public_url="http://127.0.0.1:8000",
        mcp_oauth_issuer="https://idp.example",
        mcp_oauth_audience="nexudus-identity-mcp",
    )
    with pytest.raises(ConfigError) as refused:
        create_app(settings, transport=sandbox.transport(), host="127.0.0.1")
    message = str(refused.value)
    assert message.startswith(f"NEXUDUS_MCP_CLIENT_TOKENS is not used with NEXUDUS_MCP_AUTH={mode}")
    assert "NEXUDUS_MCP_AUTH=tokens" in message and "0123456789abcdef0123" not in message


# ------------------------------------------------------------------ item 6: messages
def test_a_base_url_ending_in_api_is_named_as_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_problem(monkeypatch, NEXUDUS_BASE_URL="https://spaces.nexudus.com/api/")
    assert message.startswith("NEXUDUS_BASE_URL must not end in /api")
    assert "'https://spaces.nexudus.com'" in message and "not_found" not in message


@pytest.mark.anyio
async def test_a_wrong_path_leads_with_the_url_not_a_missing_check(served_sandbox: ServedSandbox) -> None:
    result = await diagnose(settings_for(f"{served_sandbox.url}/nexudus", max_attempts=1))
    (line,) = result.lines
    assert not result.ok and line.startswith("wrong URL: NEXUDUS_BASE_URL is not the Nexudus API (HTTP 404")
    assert "no such coworker identity check" not in line


@pytest.mark.anyio
async def test_not_found_names_the_find_tool(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox)) as client:
        result = await client.call_tool(GET_TOOL, {"Id": 5})
    assert result.is_error and result.structured_content is not None
    message = result.structured_content["Message"]
    assert f"Use an Id that {FIND_TOOL} lists" in message and "from get_coworker" not in message


@pytest.mark.anyio
async def test_a_refused_sign_in_reads_as_one_sentence_then_the_likely_cause(client_for: Any) -> None:
    client = client_for(token=None, username=ADMIN_USER, password="not-the-password")
    with pytest.raises(NexudusError) as refused:
        await client.search_checks(page=1, size=1)
    message = refused.value.message
    assert "incorrect. Most likely wrong credentials" in message and ".." not in message


def test_a_missing_client_library_is_named_even_without_a_module_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import pydantic_ai.models

    def no_library(spec: str) -> Any:
        raise ImportError("Please install `anthropic` to use the Anthropic model")

    monkeypatch.setattr(pydantic_ai.models, "infer_model", no_library)
    with pytest.raises(AgentConfigError) as caught:
        build_model("anthropic:claude-sonnet-4-5")
    message = str(caught.value)
    assert "(None)" not in message and "missing (Please install `anthropic`" in message


def test_the_demo_says_when_a_tool_requires_nothing() -> None:
    def tool(required: list[str] | None) -> types.Tool:
        schema: dict[str, Any] = {"type": "object", "properties": {}}
        if required is not None:
            schema["required"] = required
        return types.Tool(name="t", title="T", input_schema=schema)

    assert tool_line(tool(None)) == "t  (T; no required arguments)"
    assert tool_line(tool([])) == "t  (T; no required arguments)"
    assert tool_line(tool(["Key", "Ids"])) == "t  (T; required: Key, Ids)"
