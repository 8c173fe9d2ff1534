"""Reading what the API answers: the Retry-After header, the error list of an envelope, JSON that
may not be JSON, and numbers that may not be numbers."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx2

MAX_MESSAGE = 500
TRANSIENT_STATUSES = frozenset({502, 503, 504})


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def errors_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors = body.get("Errors")
    if not isinstance(errors, list):
        return []
    out = []
    for item in errors:
        if isinstance(item, dict):
            out.append(
                {
                    "PropertyName": str(item.get("PropertyName") or "")[:200],
                    "Message": str(item.get("Message") or "")[:MAX_MESSAGE],
                    "AttemptedValue": item.get("AttemptedValue"),
                }
            )
        elif item is not None:
            out.append({"PropertyName": "", "Message": str(item)[:MAX_MESSAGE], "AttemptedValue": None})
    return out


def json_or_none(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def loggable_path(path: str) -> str:
    return path.split("?", 1)[0]


def as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def as_float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
