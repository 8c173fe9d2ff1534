"""Logging for the server: stderr only (stdout is the protocol in stdio mode), one event per line.

The HTTP libraries log every request URL at INFO (search URLs carry member names); they are held
at WARNING. Our own modules never log a header, token, password, body or query.
"""

from __future__ import annotations

import logging
import os
import sys

from .record.redaction import RedactingLogFilter

QUIET_LOGGERS = ("httpx2", "httpcore2", "httpx", "httpcore", "mcp", "uvicorn.access")


def configure_logging(level: str | None = None) -> None:
    name = (level or os.environ.get("NEXUDUS_MCP_LOG_LEVEL") or "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"))
    handler.addFilter(RedactingLogFilter())  # a log line written during a tool call gets its redaction pass
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, name, logging.INFO))
    for quiet in QUIET_LOGGERS:
        logging.getLogger(quiet).setLevel(logging.WARNING)
