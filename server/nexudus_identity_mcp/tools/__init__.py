"""The MCP tools: `catalog` declares each one (name, schemas, parser, handler), and the handlers live
one module per job: `results` (ToolResult, failure, audit), `base` (what the tools share: client,
redactor, presentation of records and errors), `read` (get, find), `members` (find members),
`update` (read, merge, write) with `reassign` (members named in a reassignment), `number_check`
(a document number compared without being seen),
`commands` (list and run the API's commands), `changes` (the journal: list changes, undo one; with
`history`, how an entry is shown and journaled) and `confirm` (asking the user before a write).
`IdentityCheckTools` is every handler together, as `app.py` serves them; `context` is what each call
carries (caller, credentials, confirmer, redaction scope)."""

from .changes import ChangeTools
from .commands import CommandTools
from .number_check import NumberCheckTools
from .results import ToolResult, audit, failure
from .update import UpdateTool


class IdentityCheckTools(ChangeTools, UpdateTool, CommandTools, NumberCheckTools):
    """Every tool of the server, sharing one API client and one redactor."""


__all__ = ["IdentityCheckTools", "ToolResult", "audit", "failure"]
