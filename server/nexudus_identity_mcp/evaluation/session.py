"""What an agent talks to during an evaluation: the MCP client session, counting every call."""

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


class ToolSession:
    """The agent's side of the MCP connection, counting what happens."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[Call] = []
        self.tools: list[Any] = []
        self.elicitations: list[str] = []  # the questions the server asked the staff through the client

    async def list_tools(self) -> list[Any]:
        self.tools = (await self.client.list_tools()).tools
        return self.tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> Call:
        result = await self.client.call_tool(tool, arguments)
        call = Call(tool, copy.deepcopy(arguments), bool(result.is_error), result.structured_content or {})
        self.calls.append(call)
        return call

    def text_of(self, call: Call) -> str:
        return json.dumps(call.body, ensure_ascii=False)


class ScriptError(Exception):
    """The scripted agent could not carry out its script (the server's answers did not allow it)."""


class Agent(Protocol):
    name: str

    async def run(self, session: ToolSession, scenario: Scenario) -> None: ...
