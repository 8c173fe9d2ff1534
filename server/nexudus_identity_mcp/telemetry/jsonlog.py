"""`NEXUDUS_MCP_LOG_FORMAT=json`: one JSON object a line on stderr, for a log shipper.

Each line has `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `pid` and `message` (the
same text as the plain format, after the same redaction filter), `exception` when there is one, and
the fields a line carries as data: an audit line adds `audit` with what it says today (`action`,
`client`, `check` or `key` and `checks`, `fields`, `outcome`). Those fields pass through the same
scrubber as the message (the call's redaction scope), so the JSON says no more than the text does.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from ..record.redaction import scrub_log_text

# The attribute a log call's `extra` sets to attach fields to its line (tools/results.py's audit()).
EVENT_ATTRIBUTE = "event_fields"


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_log_text(value)
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _scrubbed(v) for k, v in value.items()}
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        fields = getattr(record, EVENT_ATTRIBUTE, None)
        if isinstance(fields, dict):
            key = "audit" if record.name.endswith(".audit") else "fields"
            line[key] = _scrubbed(fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub_log_text(self.formatException(record.exc_info))
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)
