"""What every tool returns: a `ToolResult` (a PascalCase body sent as structuredContent, and as text
after a one-line summary), `failure()` to build an error result of one `ErrorKind`, and the audit
line written for each attempted change (who, which check, which fields, what happened; never values).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..nexudus import ErrorKind

audit_log = logging.getLogger("nexudus_identity_mcp.audit")
MAX_SUMMARY_ERRORS = 7  # the seven required fields fit: one retry can be built from the first line

# Who is calling: "stdio", or the client name an HTTP bearer token maps to. Set per tool call by app.py.
CALLER: ContextVar[str] = ContextVar("nexudus_mcp_caller", default="local")


def audit(check_id: int, fields: list[str], outcome: str) -> None:
    """One line per update attempt: who, which check, which fields, what happened. Never values."""
    audit_log.info(
        "update client=%s check=%s fields=%s outcome=%s", CALLER.get(), check_id, ",".join(fields) or "-", outcome
    )


@dataclass
class ToolResult:
    body: dict[str, Any]
    is_error: bool
    summary: str

    def text(self) -> str:
        """The text content: a line a person can read, then the same JSON as structuredContent."""
        return f"{self.summary}\n{json.dumps(self.body, ensure_ascii=False)}"


def failure(
    kind: ErrorKind,
    message: str,
    *,
    source: str,
    errors: list[dict[str, Any]] | None = None,
    retryable: bool = False,
    **extra: Any,
) -> ToolResult:
    body: dict[str, Any] = {
        "WasSuccessful": False,
        "ErrorKind": kind.value,
        "Message": message,
        "Errors": errors or [],
        "Retryable": retryable,
        "Source": source,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    summary = f"Failed ({kind.value}): {message.splitlines()[0] if message else kind.value}"
    listed = [_problem_line(e) for e in body["Errors"]]
    if listed and kind == ErrorKind.VALIDATION:
        # The first line is all that some frameworks show a model: what failed, where, what to do.
        more = len(listed) - MAX_SUMMARY_ERRORS
        problems = "; ".join(listed[:MAX_SUMMARY_ERRORS]) + (f"; and {more} more" if more > 0 else "")
        summary = (
            f"Failed (validation, {source}): nothing was written. {len(listed)} problem(s): {problems}"
            + ("" if problems.endswith((".", "?")) else ".")
            + " Fix them and call again."
        )
    return ToolResult(body, True, summary)


def _problem_line(error: dict[str, Any]) -> str:
    line = f"{error.get('PropertyName') or '(body)'}: {error.get('Message')}"
    hint = error.get("Hint")
    if hint and f"did you mean {hint}" not in line:
        # A Hint may be a record's value: quoted as JSON (no raw newlines) and capped, never prose.
        shown = str(hint)
        line += f" (Hint: {json.dumps(shown if len(shown) <= 100 else shown[:99] + '…', ensure_ascii=False)})"
    return line
