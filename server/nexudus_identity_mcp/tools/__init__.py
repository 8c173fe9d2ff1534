"""The MCP tools' behaviour, one module per job: `results` (ToolResult, failure, audit), `base` (what
the tools share: client, redactor, presentation of records and errors), `read` (get, find) and
`update` (read, merge, write), `commands` (list and run the API's commands) and `confirm` (asking the
user before a write). `IdentityCheckTools` is every tool together, as `app.py` serves them."""

from .commands import CommandTools
from .read import ReadTools
from .results import CALLER, ToolResult, audit, failure
from .update import UpdateTool


class IdentityCheckTools(ReadTools, UpdateTool, CommandTools):
    """Every tool of the server, sharing one API client and one redactor."""


__all__ = ["CALLER", "IdentityCheckTools", "ToolResult", "audit", "failure"]
