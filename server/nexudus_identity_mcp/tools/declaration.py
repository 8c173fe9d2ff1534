"""What a tool is, said once: name, title, annotations, input model, result schema and handler.
`catalog.py` declares every tool with this; the tool list a client sees, the parser that checks a
call's arguments and the dispatch in `mcpserver/app.py` are all derived from the declarations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import mcp.types as types

from ..nexudus import ErrorKind
from ..record.validation import ArgumentErrors, Problem
from .arguments import InputModel
from .context import CallContext
from .results import ToolResult, failure

if TYPE_CHECKING:
    from . import IdentityCheckTools

R = TypeVar("R")
Handler = Callable[["IdentityCheckTools", R, CallContext], Awaitable[ToolResult]]
InvalidHints = Callable[["IdentityCheckTools", ArgumentErrors, CallContext], Awaitable[list[Problem]]]


@dataclass(frozen=True)
class Tool(Generic[R]):
    """One tool. Annotations follow from `writes` and `idempotent`: a read tool is read-only; a
    writing tool is destructive (the update replaces the record) and idempotent unless it says not
    (a command run may email the member each time). All reach Nexudus (open world). `refused` ends
    the message of an argument failure ("nothing was read"); `hint_invalid` may add to its problems
    (the update gives a missing required field's current value)."""

    name: str
    title: str
    description: str
    input: InputModel[R]
    output: dict[str, Any]
    handler: Handler[R]
    writes: bool = False
    idempotent: bool = True
    refused: str = "nothing was read."
    hint_invalid: InvalidHints | None = None

    def definition(self) -> types.Tool:
        """The tool as a client lists it."""
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input.schema(),
            output_schema=self.output,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=not self.writes,
                destructive_hint=self.writes,
                idempotent_hint=self.idempotent,
                open_world_hint=True,
            ),
        )

    async def call(
        self, tools: IdentityCheckTools, arguments: Mapping[str, Any] | None, ctx: CallContext
    ) -> ToolResult:
        """Parse the arguments by the input model and run the handler; every argument problem at once
        as a validation result, before anything reaches Nexudus."""
        try:
            request = self.input.parse(arguments)
        except ArgumentErrors as invalid:
            errors = invalid.errors if self.hint_invalid is None else await self.hint_invalid(tools, invalid, ctx)
            return self.refuse(errors)
        return await self.handler(tools, request, ctx)

    def refuse(self, errors: list[Problem]) -> ToolResult:
        """The validation failure of this tool's arguments: every problem, and what was not done. Also
        for a handler's own argument problems (those that need the call's state)."""
        return failure(
            ErrorKind.VALIDATION, f"The arguments are not valid; {self.refused}", source="local", errors=errors
        )
