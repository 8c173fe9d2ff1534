"""Builds the MCP server: tool list, tool calls, instructions, and the lifespan that owns the one
API client.

It uses the SDK's low-level `Server` on purpose: the schemas a client sees are the hand-made,
portable ones in `schemas.py`, and the validator that enforces them is ours (`validation.py`), so
what is advertised and what is enforced are the same thing. Every tool outcome, error or not, is a
CallToolResult with structuredContent and the same JSON as text; only an unknown tool name is a
protocol error.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import mcp.types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from . import __version__
from .nexudus import NexudusClient
from .redaction import Redactor, parse_categories
from .schemas import GET_TOOL, UPDATE_TOOL, tool_definitions
from .settings import Settings
from .tools import IdentityCheckTools, ToolResult, failure

log = logging.getLogger(__name__)

SERVER_NAME = "nexudus-identity-mcp"

INSTRUCTIONS = """\
This server reads and updates Nexudus coworker identity checks (identity-verification records of \
coworking members). Work like this:
1. Read the check first with get_coworker_identity_check, so you know its current values and UpdatedOn.
2. Change only what the user asked for. Copy the required fields (Id, BusinessId, CoworkerId, Name, \
IdentityCheckProvider, IdentityDocumentType, AddressDocumentType) from the record you read; leave every \
other field out unless the user asked to change it. Left-out fields keep their values.
3. When the user has not confirmed the exact change, call update_coworker_identity_check with \
DryRun: true, show them the Changes, and apply it only after they agree.
4. Pass ExpectedUpdatedOn (the UpdatedOn you read) so a change made by someone else meanwhile is not \
overwritten.
5. On an error result, read Errors: each names the PropertyName to fix, with AllowedValues and a Hint. \
Retry only when Retryable is true (after RetryAfterSeconds when given).
Identity-document numbers appear as tokens like «ID_DOC:3f9a1c2b»; never ask the user to reveal one \
you do not need, and leave IdentityDocumentNumber out of an update unless it changes."""


@dataclass
class ServerState:
    tools: IdentityCheckTools


ToolHandler = Callable[[IdentityCheckTools, dict[str, Any] | None], Awaitable[ToolResult]]
HANDLERS: dict[str, ToolHandler] = {
    GET_TOOL: IdentityCheckTools.get,
    UPDATE_TOOL: IdentityCheckTools.update,
}


def to_call_result(result: ToolResult) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=result.text())],
                                structured_content=result.body, is_error=result.is_error)


def build_server(settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None) -> Server[ServerState]:
    """The MCP server. `transport` reaches the API some other way (the in-process sandbox)."""
    redactor = Redactor(parse_categories(settings.mcp_redact),
                        settings.mcp_secret.get_secret_value() if settings.mcp_secret else None)
    tool_list = tool_definitions()

    @asynccontextmanager
    async def lifespan(_server: Server[ServerState]) -> AsyncIterator[ServerState]:
        async with NexudusClient(settings, transport=transport) as client:
            yield ServerState(IdentityCheckTools(client, redactor))

    async def list_tools(ctx: ServerRequestContext[ServerState], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tool_list)

    async def call_tool(ctx: ServerRequestContext[ServerState], params: types.CallToolRequestParams
                        ) -> types.CallToolResult:
        handler = HANDLERS.get(params.name)
        if handler is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name!r}. Tools: {', '.join(HANDLERS)}")
        try:
            result = await handler(ctx.lifespan_context.tools, params.arguments)
        except Exception:  # a bug of ours must not take the connection down or hide as a protocol error
            log.exception("tool %s failed unexpectedly", params.name)
            result = failure("internal_error", "The server failed unexpectedly; nothing is known to have been "
                             "written. The failure was logged on the server.", source="local")
        return to_call_result(result)

    return Server(
        SERVER_NAME,
        version=__version__,
        title="Nexudus identity checks",
        description="Read and safely update Nexudus coworker identity checks.",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        get_tool_input_schema=lambda name: next((t.input_schema for t in tool_list if t.name == name), None),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
