"""The MCP tools: `catalog` declares each one (name, schemas, parser, handler), and the handlers live
one module per job: `results` (ToolResult, failure, audit), `base` (what the tools share: client,
redactor, presentation of records and errors), `read` (get, find) and `update` (read, merge, write),
`commands` (list and run the API's commands) and `confirm` (asking the user before a write).
`IdentityCheckTools` is every handler together, as `app.py` serves them; `context` is what each call
carries (caller, credentials, confirmer, redaction scope)."""

from .commands import CommandTools
from .read import ReadTools
from .results import ToolResult, audit, failure
from .update import UpdateTool


class IdentityCheckTools(ReadTools, UpdateTool, CommandTools):
    """Every tool of the server, sharing one API client and one redactor."""


__all__ = ["IdentityCheckTools", "ToolResult", "audit", "failure"]
