"""The server as clients launch it: a stdio subprocess, driven by the Python SDK client and by the
official TypeScript SDK client; and the command line (`check`, `demo`, configuration errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from .helpers import CHECK, required_from

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SERVER = [sys.executable, "-m", "nexudus_identity_mcp"]
NODE_DIR = Path(__file__).parent / "node"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    env.update(extra)
    return env


def stdio(*args: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(command=SERVER[0], args=[*SERVER[1:], *args], env=clean_env(**env))


async def test_stdio_sandbox_session(tmp_path: Path) -> None:
    with open(tmp_path / "stderr.txt", "w+") as errlog:
        async with Client(stdio_client(stdio("serve", "--sandbox"), errlog=errlog)) as client:
            assert client.server_info and client.server_info.name == "nexudus-identity-mcp"
            assert client.instructions and "DryRun" in client.instructions
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == {
                "find_coworker_identity_checks",
                "get_coworker_identity_check",
                "update_coworker_identity_check",
                "list_coworker_identity_check_commands",
                "run_coworker_identity_check_command",
                "find_coworkers",
                "compare_identity_document_number",
                "list_coworker_identity_check_changes",
                "undo_coworker_identity_check_update",
            }
            record = (await client.call_tool("get_coworker_identity_check", {"Id": CHECK})).structured_content["Record"]  # type: ignore[index]
            result = await client.call_tool(
                "update_coworker_identity_check", {**required_from(record), "Description": "via stdio"}
            )
            assert not result.is_error and result.structured_content["Changes"][0]["Field"] == "Description"  # type: ignore[index]
        errlog.seek(0)
        logged = errlog.read()
    assert logged.count("built-in sandbox") == 1, "serve --sandbox says so once on stderr"


async def test_stdio_without_credentials_answers_not_configured(tmp_path: Path) -> None:
    with open(tmp_path / "stderr.txt", "w+") as errlog:
        async with Client(stdio_client(stdio(), errlog=errlog)) as client:
            result = await client.call_tool("get_coworker_identity_check", {"Id": CHECK})
        errlog.seek(0)
        logged = errlog.read()
    assert result.is_error and result.structured_content["ErrorKind"] == "not_configured"  # type: ignore[index]
    assert "NEXUDUS_TOKEN" in logged


def run_cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SERVER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(**env),
        stdin=subprocess.DEVNULL,
    )


def test_check_against_the_sandbox() -> None:
    done = run_cli("check", "--sandbox")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok:") and "12 coworker identity check(s)" in done.stdout


def test_check_without_credentials_is_one_line() -> None:
    done = run_cli("check")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "NEXUDUS_TOKEN" in done.stderr


def test_check_with_bad_credentials_is_one_line(served_sandbox) -> None:  # type: ignore[no-untyped-def]
    done = run_cli("check", NEXUDUS_BASE_URL=served_sandbox.url, NEXUDUS_TOKEN="wrong-token")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "unauthorized" in done.stderr
    assert "wrong-token" not in done.stderr


def test_check_with_good_credentials_over_loopback(served_sandbox) -> None:  # type: ignore[no-untyped-def]
    done = run_cli(
        "check",
        NEXUDUS_BASE_URL=served_sandbox.url,
        NEXUDUS_USERNAME="admin@sandbox.example",
        NEXUDUS_PASSWORD="sandbox-password",
    )
    assert done.returncode == 0, done.stderr
    assert "password credentials" in done.stdout


def test_plain_http_base_url_is_refused_in_one_line() -> None:
    # `check` and `serve --http` stop; `serve` over stdio answers every tool with the message instead
    # (tests/test_serve_lifecycle.py).
    done = run_cli("check", NEXUDUS_BASE_URL="http://spaces.nexudus.com", NEXUDUS_TOKEN="t")
    assert done.returncode == 2 and "https" in done.stderr and "Traceback" not in done.stderr


def test_demo_passes() -> None:
    done = run_cli("demo", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Demo passed" in done.stdout and "FAILED" not in done.stdout
    assert "Hint: Passport" in done.stdout


def test_typescript_sdk_client_accepts_our_results(node_tools: Path) -> None:
    done = subprocess.run(
        ["node", str(node_tools / "client.mjs"), *SERVER, "serve", "--sandbox"],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert "error" not in out
    assert {t["name"] for t in out["tools"]} == {
        "find_coworker_identity_checks",
        "get_coworker_identity_check",
        "update_coworker_identity_check",
        "list_coworker_identity_check_commands",
        "run_coworker_identity_check_command",
        "find_coworkers",
        "compare_identity_document_number",
        "list_coworker_identity_check_changes",
        "undo_coworker_identity_check_update",
    }
    assert all(t["hasOutputSchema"] for t in out["tools"])
    assert out["read"]["number"].startswith("«ID_DOC:")
    assert out["failing"] == {
        "isError": True,
        "errorKind": "validation",
        "properties": ["IdentityDocumentExpiryDate", "IdentityDocumentType"],
        "hints": ["IdentityDocumentExpirationDate", "Passport"],
        "textStartsWithSummary": True,
    }
    assert out["succeeding"] == {"isError": False, "wasSuccessful": True, "changes": ["IdentityDocumentExpirationDate"]}
    # One command, confirmed by the TypeScript client's elicitation handler.
    assert out["command"] == {
        "isError": False,
        "confirmation": "user_accepted",
        "asked": 1,
        "statuses": [["Submitted", "Successful"]],
    }
