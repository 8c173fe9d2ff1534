"""The MCP tools' behaviour, one module per job: `results` (ToolResult, failure, audit), `base` (what
the tools share: client, redactor, presentation of records and errors), `read` (get, find) and
`update` (read, merge, write). `IdentityCheckTools` is every tool together, as `app.py` serves them."""

from .read import ReadTools
from .results import CALLER, ToolResult, audit, failure
from .update import UpdateTool


class IdentityCheckTools(ReadTools, UpdateTool):
    """Every tool of the server, sharing one API client and one redactor."""


__all__ = ["CALLER", "IdentityCheckTools", "ToolResult", "audit", "failure"]
