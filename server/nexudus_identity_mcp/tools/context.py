"""Who is calling and what one tool call carries, passed explicitly: `app.py` builds a `CallContext`
for each tool call and hands it to the tool's handler, which passes the caller's credentials to the
API client per request. Nothing here is ambient: code that calls a tool or the client outside a
client's tool call (probe, check, tests) builds its own context and behaves exactly as it says."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..nexudus.caller import Caller
from ..record.redaction import RedactionScope
from .confirm import CannotAsk, Confirmer

__all__ = ["CallContext", "Caller", "CallerResolver"]

# Resolves the caller from the HTTP request's ASGI scope; None: their sign-in is no longer valid.
CallerResolver = Callable[[Mapping[str, Any]], Awaitable[Caller | None]]


@dataclass(frozen=True)
class CallContext:
    """One tool call: who calls (and with which Nexudus credentials), how to ask the user before a
    write, and the redaction scope the call registers every record it reads or writes into (the final
    redaction pass of the result reads it). `redaction` None: records are remembered, not scoped."""

    caller: Caller = field(default_factory=Caller)
    confirmer: Confirmer = field(default_factory=CannotAsk)
    redaction: RedactionScope | None = None
