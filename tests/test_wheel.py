"""The built wheel ships the prompts, and a server run from the installed wheel serves them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    wheel = next(dist.glob("nexudus_identity_mcp-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for prompt in (ROOT / "prompts").glob("*.md"):
        assert f"nexudus_identity_mcp/prompts/{prompt.name}" in names
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return target


async def test_installed_wheel_serves_the_prompts(installed_wheel: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    env["PYTHONPATH"] = str(installed_wheel)
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import nexudus_identity_mcp.mcpserver.prompt_templates as p; print(p.__file__); print(p.prompts_dir())",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    module_file, folder = where.stdout.split()
    assert module_file.startswith(str(installed_wheel)) and folder.startswith(str(installed_wheel))

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "nexudus_identity_mcp", "serve", "--sandbox"], env=env, cwd=str(tmp_path)
    )
    with open(tmp_path / "stderr.txt", "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            rendered = await client.get_prompt("review_pending_checks", {"location": "1002"})
    expected = {p.stem for p in (ROOT / "prompts").glob("*.md") if p.name != "README.md"}
    assert len(prompts) == len(expected) >= 3
    assert "1002" in rendered.messages[0].content.text  # type: ignore[union-attr]
