"""The Claude Desktop extension: `manifest.json` passes `mcpb validate` (Anthropic's own tool), the
built `.mcpb` carries the project and the entry script, and that entry script serves the sandbox when
the sandbox switch is on, ignoring the empty or unexpanded values Claude Desktop passes for blanks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from nexudus_identity_mcp import __version__
from nexudus_identity_mcp.cli.bundle import ENTRY_NAME, build_bundle
from nexudus_identity_mcp.cli.bundle_entry import server_arguments
from nexudus_identity_mcp.tools.catalog import FIND_TOOL, TOOLS

ROOT = Path(__file__).parent.parent


def test_manifest_matches_the_package() -> None:
    manifest = json.loads((ROOT / "manifest.json").read_text())
    assert manifest["version"] == __version__
    assert {tool["name"] for tool in manifest["tools"]} == {t.name for t in TOOLS}
    config = manifest["user_config"]
    for secret in ("token", "password", "totp_secret"):
        assert config[secret]["sensitive"] is True
    assert config["sandbox"]["type"] == "boolean"
    for value in manifest["server"]["mcp_config"]["env"].values():
        assert value.removeprefix("${user_config.").removesuffix("}") in config


def test_blank_and_unexpanded_settings_are_dropped_and_the_switch_picks_the_sandbox() -> None:
    environ = {
        "NEXUDUS_TOKEN": "",
        "NEXUDUS_USERNAME": "${user_config.username}",
        "NEXUDUS_BASE_URL": "https://spaces.nexudus.com",
        "NEXUDUS_MCP_SANDBOX": "true",
        "PATH": "/bin",
    }
    assert server_arguments(environ) == ["serve", "--sandbox"]
    assert environ == {"NEXUDUS_BASE_URL": "https://spaces.nexudus.com", "PATH": "/bin"}
    assert server_arguments({"NEXUDUS_MCP_SANDBOX": "false"}) == ["serve"]


def test_bundle_holds_manifest_entry_and_project(tmp_path: Path) -> None:
    out = build_bundle(out=tmp_path / "x.mcpb")
    names = set(zipfile.ZipFile(out).namelist())
    assert {"manifest.json", ENTRY_NAME, "pyproject.toml", "README.md", "LICENSE"} <= names
    assert "server/nexudus_identity_mcp/cli/main.py" in names and "prompts/README.md" in names
    assert not any("__pycache__" in name or name.startswith(("tests/", ".venv/")) for name in names)


@pytest.mark.slow
def test_mcpb_validate_accepts_the_built_manifest(node_tools: Path, tmp_path: Path) -> None:
    out = build_bundle(out=tmp_path / "nexudus-identity-mcp.mcpb")
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(out).extractall(unpacked)
    mcpb = node_tools / "node_modules" / ".bin" / "mcpb"
    done = subprocess.run(
        [str(mcpb), "validate", str(unpacked / "manifest.json")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validation passes" in done.stdout
    info = subprocess.run([str(mcpb), "info", str(out)], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stdout + info.stderr


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_unpacked_bundle_serves_the_sandbox(tmp_path: Path) -> None:
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(build_bundle(out=tmp_path / "b.mcpb")).extractall(unpacked)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    env |= {
        "PYTHONPATH": str(unpacked / "server"),
        "NEXUDUS_MCP_SANDBOX": "true",
        "NEXUDUS_TOKEN": "",
        "NEXUDUS_PASSWORD": "${user_config.password}",
    }
    params = StdioServerParameters(
        command=sys.executable, args=[str(unpacked / ENTRY_NAME)], env=env, cwd=str(unpacked)
    )
    with open(tmp_path / "stderr.txt", "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            found = await client.call_tool(FIND_TOOL, {})
    assert tools == {t.name for t in TOOLS}
    assert not found.is_error, found.structured_content
