"""Logging for the server: stderr only (stdout is the protocol in stdio mode), one event per line:
plain text, or one JSON object a line with NEXUDUS_MCP_LOG_FORMAT=json (telemetry/jsonlog.py).

The HTTP libraries log every request URL at INFO (search URLs carry member names); they are held
at WARNING. Our own modules never log a header, token, password, body or query.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import get_args

from .record.redaction import RedactingLogFilter
from .settings import LogLevel
from .telemetry.jsonlog import JsonFormatter

QUIET_LOGGERS = ("httpx2", "httpcore2", "httpx", "httpcore", "mcp", "uvicorn.access")


def configure_logging(level: str | None = None, log_format: str | None = None) -> None:
    """A bad NEXUDUS_MCP_LOG_LEVEL (or _FORMAT) logs at INFO (as text) here; the settings name it (it
    is one of them), so `serve --http` and `check` stop with it and every stdio tool answers with it."""
    name = (level or os.environ.get("NEXUDUS_MCP_LOG_LEVEL") or "INFO").strip().upper()
    shape = (log_format or os.environ.get("NEXUDUS_MCP_LOG_FORMAT") or "text").strip().lower()
    handler = logging.StreamHandler(sys.stderr)
    if shape == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"))
    handler.addFilter(RedactingLogFilter())  # a log line written during a tool call gets its redaction pass
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(name if name in get_args(LogLevel) else logging.INFO)
    for quiet in QUIET_LOGGERS:
        logging.getLogger(quiet).setLevel(logging.WARNING)
