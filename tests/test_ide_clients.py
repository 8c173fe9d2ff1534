"""The IDE agents' own command-line clients, installed from npm, add this server the way the README
says and see it: Claude Code (`claude mcp add`, then `claude mcp list` reports it Connected: it
started the server over stdio and completed the handshake, offline and with no login), Gemini CLI
(`gemini mcp add` in a trusted folder, then `gemini mcp list` reports it Connected) and Codex CLI
(`codex mcp add`, then `codex mcp list` shows the command it will run; Codex lists without
connecting, so only the configuration is checked). Each test has its own HOME and project folder.

The three packages are large (about 900 MB) and live apart from tests/node's, in tests/node/clients,
installed once (under a lock, for parallel workers) on the first run of these tests. When npm
cannot reach its registry the tests are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import NODE_DIR, npm_ci

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
CLIENTS_DIR = NODE_DIR / "clients"
# The venv's console script, as the README's entries name it.
SERVER = str(Path(sys.executable).parent / "nexudus-identity-mcp")
NAME = "nexudus-identity"


@pytest.fixture(scope="session")
def clients_bin() -> Path:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node/npm not installed: the IDE clients come from npm")
    done = npm_ci(npm, CLIENTS_DIR)
    if done is not None and done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        pytest.skip(f"npm could not install the IDE clients (registry unreachable?): {tail}")
    return CLIENTS_DIR / "node_modules" / ".bin"


def run(argv: list[str], home: Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        # No telemetry, no update check, no browser: nothing leaves the machine but npm's install.
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "NO_BROWSER": "1",
        "CI": "1",
    }
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    return home, project


def test_claude_code_adds_the_sandbox_server_and_reports_it_connected(
    clients_bin: Path, dirs: tuple[Path, Path]
) -> None:
    home, project = dirs
    claude = str(clients_bin / "claude")
    run([claude, "mcp", "add", NAME, "--", SERVER, "serve", "--sandbox"], home, project)
    listed = run([claude, "mcp", "list"], home, project).stdout
    line = next(line for line in listed.splitlines() if line.startswith(f"{NAME}:"))
    assert f"{SERVER} serve --sandbox" in line and "Connected" in line, listed
    assert "Failed" not in line


def test_gemini_cli_lists_the_server_connected_once_the_folder_is_trusted(
    clients_bin: Path, dirs: tuple[Path, Path]
) -> None:
    home, project = dirs
    gemini = str(clients_bin / "gemini")
    run([gemini, "mcp", "add", NAME, SERVER, "serve", "--sandbox"], home, project)
    settings = json.loads((project / ".gemini" / "settings.json").read_text())
    assert settings["mcpServers"][NAME] == {"command": SERVER, "args": ["serve", "--sandbox"]}
    untrusted = run([gemini, "mcp", "list"], home, project)
    untrusted_text = untrusted.stdout + untrusted.stderr
    assert "Disabled" in untrusted_text and "Connected" not in untrusted_text  # what the README warns about
    (home / ".gemini").mkdir(exist_ok=True)
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(project): "TRUST_FOLDER"}))
    done = run([gemini, "mcp", "list"], home, project, timeout=300)
    listed = done.stdout + done.stderr
    line = next(line for line in listed.splitlines() if f"{NAME}:" in line)
    assert "Connected" in line and "Disconnected" not in line, listed


def test_codex_cli_adds_the_server_to_its_config(clients_bin: Path, dirs: tuple[Path, Path]) -> None:
    home, project = dirs
    codex = str(clients_bin / "codex")
    run(
        [codex, "mcp", "add", NAME, "--env", "NEXUDUS_MCP_READ_ONLY=true", "--", SERVER, "serve", "--sandbox"],
        home,
        project,
    )
    listed = run([codex, "mcp", "list", "--json"], home, project).stdout
    (entry,) = [e for e in json.loads(listed) if e["name"] == NAME]
    transport = entry["transport"]
    assert transport["command"] == SERVER and transport["args"] == ["serve", "--sandbox"], entry
    assert transport["env"] == {"NEXUDUS_MCP_READ_ONLY": "true"}
    assert entry["enabled"] is True
