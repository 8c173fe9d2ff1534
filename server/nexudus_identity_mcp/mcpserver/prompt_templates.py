"""MCP prompts from Markdown files: each `*.md` in the prompts folder is one prompt.

A file starts with TOML front matter between `+++` lines (TOML because the standard library reads
it), then the message text, where `{{argument}}` stands for an argument's value:

    +++
    name = "review_pending_checks"
    title = "Review pending and failed checks at a location"
    description = "…"
    [[arguments]]
    name = "location"
    description = "…"
    required = true
    +++
    Review the checks at {{location}} …

`{{today}}` is filled by the server with the current date (UTC, `YYYY-MM-DD`), so a prompt about a
window of days ("expiring within 30 days") starts from the right day; it is not an argument.

Adding a file adds a prompt; no code changes. The folder ships inside the wheel
(`nexudus_identity_mcp/prompts`); in a source checkout it is the top-level `prompts/`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_ARGUMENT = 4000
# Placeholders the server fills itself, at each render.
BUILT_INS: dict[str, Callable[[], str]] = {"today": lambda: datetime.now(UTC).date().isoformat()}


@dataclass(frozen=True)
class PromptArgument:
    name: str
    description: str
    required: bool


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    title: str
    description: str
    arguments: tuple[PromptArgument, ...]
    body: str
    source: str

    def render(self, values: dict[str, str] | None) -> str:
        """The message text, or PromptArgumentError naming what is missing or unknown."""
        values = dict(values or {})
        known = {a.name for a in self.arguments}
        missing = [a.name for a in self.arguments if a.required and not str(values.get(a.name) or "").strip()]
        unknown = sorted(set(values) - known)
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing required argument(s): {', '.join(missing)}")
            if unknown:
                parts.append(
                    f"unknown argument(s): {', '.join(unknown)} (this prompt takes: {', '.join(sorted(known))})"
                )
            raise PromptArgumentError(f"Prompt {self.name!r}: " + "; ".join(parts))
        filled = {name: make() for name, make in BUILT_INS.items() if name not in known}
        return PLACEHOLDER.sub(
            lambda m: filled.get(m.group(1)) or str(values.get(m.group(1)) or "")[:MAX_ARGUMENT] or "(not given)",
            self.body,
        )


class PromptArgumentError(ValueError):
    pass


def prompts_dir() -> Path:
    packaged = resources.files("nexudus_identity_mcp") / "prompts"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "prompts"  # a source checkout: <root>/server/<pkg>/mcpserver/


def parse(text: str, source: str) -> PromptTemplate:
    match = re.match(r"\A\+\+\+\s*\n(.*?)\n\+\+\+\s*\n(.*)\Z", text, re.S)
    if not match:
        raise ValueError(f"{source}: no +++ TOML front matter")
    meta: dict[str, Any] = tomllib.loads(match.group(1))
    arguments = tuple(
        PromptArgument(str(a["name"]), str(a.get("description", "")), bool(a.get("required", False)))
        for a in meta.get("arguments", [])
    )
    template = PromptTemplate(
        name=str(meta["name"]),
        title=str(meta.get("title", meta["name"])),
        description=str(meta.get("description", "")),
        arguments=arguments,
        body=match.group(2).strip() + "\n",
        source=source,
    )
    used = set(PLACEHOLDER.findall(template.body))
    undeclared = used - {a.name for a in arguments} - set(BUILT_INS)
    if undeclared:
        raise ValueError(f"{source}: placeholders without an argument: {sorted(undeclared)}")
    return template


def load_prompts(directory: Path | None = None) -> dict[str, PromptTemplate]:
    folder = directory or prompts_dir()
    templates: dict[str, PromptTemplate] = {}
    for path in sorted(folder.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        template = parse(path.read_text(encoding="utf-8"), path.name)
        if template.name in templates:
            raise ValueError(f"{path.name}: prompt name {template.name!r} is used twice")
        templates[template.name] = template
    return templates
