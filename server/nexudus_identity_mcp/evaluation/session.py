"""What an agent talks to during an evaluation: the MCP client session, counting every call, keeping
the trial's transcript events and the model usage an agent reports."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Protocol

from .scenarios import Scenario


@dataclass
class Call:
    tool: str
    arguments: dict[str, Any]
    is_error: bool
    body: dict[str, Any]


@dataclass
class Usage:
    """What a model agent spent in one trial, as pydantic-ai's usage object reports it. `cost_usd` is
    None when no price is known for the model (genai-prices has none and no --price-per-mtok)."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    cost_usd: float | None = 0.0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class ToolSession:
    """The agent's side of the MCP connection, counting what happens.

    `token_budget`: tokens this trial may still spend (None: no limit); a model agent passes it on to
    its framework's usage limits and sets `budget_hit` when the limit stopped it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[Call] = []
        self.earlier_calls: list[Call] = []  # the scenario's `earlier` calls, made before the request
        self.tools: list[Any] = []
        self.elicitations: list[str] = []  # the questions the server asked the staff through the client
        self.events: list[dict[str, Any]] = []  # the transcript, in order (redacted when written)
        self.usage = Usage()
        self.token_budget: int | None = None
        self.budget_hit: str | None = None

    async def list_tools(self) -> list[Any]:
        self.tools = (await self.client.list_tools()).tools
        self.events.append({"event": "tools", "names": [t.name for t in self.tools]})
        return self.tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> Call:
        result = await self.client.call_tool(tool, arguments)
        call = Call(tool, copy.deepcopy(arguments), bool(result.is_error), result.structured_content or {})
        self.calls.append(call)
        self.events.append(
            {
                "event": "tool_call",
                "tool": tool,
                "arguments": call.arguments,
                "is_error": call.is_error,
                "error_kind": call.body.get("ErrorKind") if call.is_error else None,
                "result": self.text_of(call),
            }
        )
        return call

    def set_aside_earlier(self) -> None:
        """The calls made so far were the scenario's `earlier` ones (before the request): keep them in
        the transcript as such, and start the agent's count from nothing."""
        self.earlier_calls, self.calls = self.calls, []
        self.events = [{**e, "event": "earlier_call"} if e["event"] == "tool_call" else e for e in self.events]

    def text_of(self, call: Call) -> str:
        return json.dumps(call.body, ensure_ascii=False)


class ScriptError(Exception):
    """The scripted agent could not carry out its script (the server's answers did not allow it)."""


class Agent(Protocol):
    name: str

    async def run(self, session: ToolSession, scenario: Scenario) -> None: ...
