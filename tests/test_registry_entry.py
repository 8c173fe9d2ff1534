"""`server.json`, the MCP registry entry, validates against the registry's published schema (a copy in
tests/schemas/, see its README) and agrees with the package: name, version, the variables it reads."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema

from nexudus_identity_mcp import __version__
from nexudus_identity_mcp.cli.main import ENVIRONMENT_HELP

ROOT = Path(__file__).parent.parent
ENTRY = json.loads((ROOT / "server.json").read_text())
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "server.schema.json").read_text())


def test_server_json_validates_against_the_published_schema() -> None:
    assert ENTRY["$schema"] == SCHEMA["$id"]
    jsonschema.validate(ENTRY, SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_server_json_describes_this_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (package,) = ENTRY["packages"]
    assert package["registryType"] == "pypi" and package["identifier"] == project["name"]
    assert package["version"] == ENTRY["version"] == __version__
    assert package["transport"] == {"type": "stdio"}
    for variable in package["environmentVariables"]:
        assert variable["name"] in ENVIRONMENT_HELP, variable["name"]
        secret = re.search(r"TOKEN|PASSWORD|SECRET", variable["name"]) is not None
        assert variable.get("isSecret", False) is secret, variable["name"]


def test_readme_carries_the_registry_name() -> None:
    # The registry checks that the PyPI package's README names the server: `mcp-name: <name>`.
    assert f"mcp-name: {ENTRY['name']}" in (ROOT / "README.md").read_text()
