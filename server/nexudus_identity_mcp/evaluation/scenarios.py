"""Evaluation scenarios: TOML files (format in evals/README.md), each a staff request in plain words,
the sandbox's starting state, the expected final state and, for the scripted agent, the calls to
replay."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any


class ScenarioError(ValueError):
    """A scenario file that is missing or malformed; the message is one line naming the file."""


@dataclass
class Scenario:
    name: str
    request: str
    path: str
    description: str = ""
    read_only: bool = False
    confirm: str | None = None  # what the staff says if the agent stops to ask for confirmation
    # How the staff answer the server's confirmation question (MCP elicitation): accept, decline or
    # cancel. None: the client does not declare elicitation, as many do not.
    elicitation: str | None = None
    max_turns: int = 12
    patch: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    write_limit: int | None = 60
    profile: str = "documented"  # the sandbox profile: documented, or live (the API's observed habits)
    expect_records: dict[int, dict[str, Any]] = field(default_factory=dict)
    expect_writes: int | None = None
    expect_errors: list[str] = field(default_factory=list)  # error kinds the run must have met
    # What the server answered, for requests that change nothing: each {tool, field, value} (the last
    # successful call of the tool has that value) or {tool, ids} (its rows are exactly those Ids).
    expect_results: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    # Calls made before the request, through the same server and client, as earlier in the same
    # conversation (what "undo what you just did" refers to). Replayed as scripted steps for every
    # agent; not counted as the agent's calls, but their writes count in `writes`.
    earlier: list[dict[str, Any]] = field(default_factory=list)
    # The scenario's version in reports: the first 12 hex digits of the file's SHA-256, so two reports
    # say whether they ran the same scenario text.
    version: str = ""


def load_scenario(path: Path) -> Scenario:
    """One scenario file, or ScenarioError with one line saying what is wrong with it."""
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    sandbox = data.get("sandbox", {})
    expect = data.get("expect", {})
    if sandbox.get("profile", "documented") not in ("documented", "live"):
        raise ScenarioError(f"{path}: sandbox.profile must be documented or live, got {sandbox['profile']!r}")
    try:
        return Scenario(
            name=str(data.get("name") or path.stem),
            request=str(data["request"]).strip(),
            path=str(path),
            description=str(data.get("description", "")),
            read_only=bool(data.get("read_only", False)),
            confirm=data.get("confirm"),
            elicitation=_elicitation(data.get("elicitation")),
            max_turns=int(data.get("max_turns", 12)),
            patch={int(k): v for k, v in sandbox.get("patch", {}).items()},
            faults=list(sandbox.get("faults", [])),
            write_limit=sandbox.get("write_limit", 60),
            profile=str(sandbox.get("profile", "documented")),
            expect_records={int(k): v for k, v in expect.get("records", {}).items()},
            expect_writes=expect.get("writes"),
            expect_errors=list(expect.get("errors", [])),
            expect_results=[_expected_result(r) for r in expect.get("results", [])],
            steps=list(data.get("steps", [])),
            earlier=list(data.get("earlier", [])),
            version=hashlib.sha256(raw).hexdigest()[:12],
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ScenarioError(f"{path}: not a valid scenario ({exc})") from None


def _expected_result(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("tool"), str):
        raise ValueError(f"each expect.results entry needs a tool, got {entry!r}")
    if "ids" not in entry and not ("field" in entry and "value" in entry):
        raise ValueError(f"an expect.results entry needs ids, or field and value: {entry!r}")
    return dict(entry)


def _elicitation(value: Any) -> str | None:
    if value is None or value in ("accept", "decline", "cancel"):
        return None if value is None else str(value)
    raise ValueError(f"elicitation must be accept, decline or cancel, not {value!r}")


def scenarios_dir() -> Path:
    """The scenarios shipped in the wheel, or the source checkout's `evals/` (editable install),
    found the same way whatever the working directory: as the prompts are."""
    packaged = resources.files("nexudus_identity_mcp") / "evals"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "evals"  # a source checkout: <root>/server/<pkg>/evaluation/


def default_scenario_files() -> list[Path]:
    return sorted(scenarios_dir().glob("*.toml"))
