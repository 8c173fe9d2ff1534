"""`check` explains what is wrong: the URL it tried, the cause (refused, DNS, TLS, wrong path) and the
fix; a user who can read but whose Edit role cannot be proved without a write is told which tools
work. Every test talks to 127.0.0.1 or to a name under .invalid, which never resolves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import pytest

from nexudus_identity_mcp.cli.check import Diagnosis, diagnose
from nexudus_identity_mcp.cli.main import ENVIRONMENT_HELP, build_parser
from nexudus_identity_mcp.sandbox import VIEWER_PASSWORD, VIEWER_USER, Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, free_port
from nexudus_identity_mcp.settings import Settings
from nexudus_identity_mcp.tools.catalog import FIND_TOOL, GET_TOOL, UPDATE_TOOL

from .conftest import ServedSandbox, settings_for


def run(settings: Settings, transport: Any = None) -> Diagnosis:
    async def bounded() -> Diagnosis:
        with anyio.fail_after(30):
            return await diagnose(settings, transport)

    return anyio.run(bounded)


def one_line(result: Diagnosis) -> str:
    assert not result.ok and len(result.lines) == 1
    return result.lines[0]


def quick(base_url: str, **overrides: Any) -> Settings:
    return settings_for(base_url, max_attempts=1, connect_timeout=5, read_timeout=5, **overrides)


def test_closed_port_names_the_url_and_the_refusal() -> None:
    url = f"http://{LOOPBACK}:{free_port()}"
    line = one_line(run(quick(url)))
    assert f"Tried GET {url}/api/spaces/coworkeridentitychecks?page=1&size=1" in line
    assert "connection refused" in line and "fix: check the port" in line


def test_dns_failure_is_named() -> None:
    line = one_line(run(quick("https://no-such-host.nexudus.invalid")))
    assert "https://no-such-host.nexudus.invalid/api/spaces" in line
    assert "DNS lookup failed" in line


def test_tls_to_a_plain_http_server_is_named(served_sandbox: ServedSandbox) -> None:
    line = one_line(run(quick(f"https://{LOOPBACK}:{served_sandbox.port}")))
    assert "TLS handshake failed" in line and "use http://" in line


def test_wrong_path_is_a_url_problem_not_a_missing_record(served_sandbox: ServedSandbox) -> None:
    line = one_line(run(quick(f"{served_sandbox.url}/nexudus")))
    assert "/nexudus/api/spaces/coworkeridentitychecks" in line
    assert "NEXUDUS_BASE_URL should be https://spaces.nexudus.com, without /api" in line
    assert line.startswith("wrong URL:") and "no such coworker identity check" not in line


def test_token_refused_says_which_role_find_needs(served_sandbox: ServedSandbox) -> None:
    line = one_line(run(quick(served_sandbox.url, token="wrong-token")))
    assert line.startswith("unauthorized") and "CoworkerIdentityCheck-List" in line
    assert "wrong-token" not in line


def test_viewer_passes_and_is_told_which_tools_it_can_use(sandbox: Sandbox) -> None:
    settings = settings_for(token=None, username=VIEWER_USER, password=VIEWER_PASSWORD)
    result = run(settings, sandbox.transport())
    assert result.ok, result.lines
    text = "\n".join(result.lines)
    assert result.lines[0].startswith("ok:") and "password credentials" in text
    assert f"{FIND_TOOL}: usable" in text and f"{GET_TOOL}: usable" in text
    update = next(line for line in result.lines if UPDATE_TOOL in line)
    assert "not tested" in update and "CoworkerIdentityCheck-Edit" in update and "--read-only" in update
    assert VIEWER_PASSWORD not in text


ROOT = Path(__file__).parent.parent
# Read by the Claude Desktop extension's entry point only (its form's sandbox switch, set by
# manifest.json), never by `serve`: docs/deployment.md describes it with the extension.
EXTENSION_ONLY = {"NEXUDUS_MCP_SANDBOX"}


def variables_the_server_reads() -> set[str]:
    """Every environment variable of ours: each setting, and every NEXUDUS_ name the code reads."""
    names = {f"NEXUDUS_{name.upper()}" for name in Settings.model_fields}
    for path in (ROOT / "server").rglob("*.py"):
        names |= set(re.findall(r"\b(NEXUDUS_[A-Z0-9]+(?:_[A-Z0-9]+)*)\b", path.read_text(encoding="utf-8")))
    return names - {"NEXUDUS_MCP"} - EXTENSION_ONLY


def readme_settings_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Configuration", 1)[1].split("\n## ", 1)[0]


def test_help_and_the_readme_table_name_every_variable_the_server_reads() -> None:
    help_text = build_parser().format_help()
    assert ENVIRONMENT_HELP.splitlines()[0] in help_text
    table = readme_settings_table()
    variables = variables_the_server_reads()
    assert {"NEXUDUS_TOKEN", "NEXUDUS_MCP_LOG_LEVEL", "NEXUDUS_BACKOFF_BASE"} <= variables
    for name in sorted(variables):
        assert name in help_text, f"{name} is read but `--help` does not list it"
        assert f"`{name}`" in table, f"{name} is read but the README's Configuration table does not list it"
    for name in sorted(set(re.findall(r"`(NEXUDUS_[A-Z0-9_]+)`", table)) - variables):
        pytest.fail(f"the README's Configuration table lists {name}, which nothing reads")
