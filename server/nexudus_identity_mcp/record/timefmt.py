"""ISO 8601 dates and datetimes: lenient parsing, one normal form for the API.

Accepted: `2031-03-14`, `2031-03-14T10:30`, `2031-03-14T10:30:00`, with fractions, `Z` or an offset.
Years outside 1900-2200 are refused: no identity document expires then, and the API's date type
cannot be assumed to hold them.

Two kinds of value (record/fields.py says which field is which):
- a moment (`datetime`: UpdatedOn, an ExpectedUpdatedOn): a datetime with no zone is taken as UTC,
  and compared and written as UTC (`YYYY-MM-DDTHH:MM:SSZ`);
- a calendar date (`date`: IdentityDocumentExpirationDate): the date as written is the value, whatever
  time or offset follows it (`2032-03-14T00:00:00+02:00` is 14 March, never 13 March 22:00 UTC).
  Nexudus stores a datetime as the space's wall clock, often with a literal `Z`, and silently converts
  one that carries an offset (docs/development.md, "What is known of the Nexudus API"), so a date
  is sent as midnight with no offset, in the form the record itself uses (`midnight`): with the `Z`
  when its GET had one, without when not.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

# Time units as written after a number, in seconds: the one table, read by the request budgets'
# windows (NEXUDUS_MCP_WRITE_BUDGET=60/min) and by the history's --since (7d).
UNIT_SECONDS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "w": 7 * 86400.0,
    "week": 7 * 86400.0,
}

MIN_YEAR, MAX_YEAR = 1900, 2200


def _wall_clock(value: str) -> datetime | None:
    """The datetime as written (its offset kept, none added), or None."""
    text = value.strip()
    if not text or len(text) > 40:
        return None
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            return None


def parse_datetime(value: str) -> datetime | None:
    parsed = _wall_clock(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        return None
    return parsed if MIN_YEAR <= parsed.year <= MAX_YEAR else None


def calendar_date(value: Any) -> date | None:
    """The calendar date an ISO date or date-time means, as written: the date part, whatever time or
    offset follows, never moved through UTC. None for anything else, or a year outside 1900-2200."""
    parsed = _wall_clock(value) if isinstance(value, str) else None
    if parsed is None or not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    return parsed.date()


def has_z(value: Any) -> bool:
    """Whether a date-time the API wrote ends with the literal `Z`."""
    return isinstance(value, str) and value.strip()[-1:] in ("z", "Z")


def midnight(day: date, *, z: bool = True) -> str:
    """A calendar date as the API takes it: midnight, no offset, with the literal `Z` or without
    (the form of the record it is written to)."""
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}T00:00:00" + ("Z" if z else "")


def format_utc(moment: datetime, *, millis: bool = False) -> str:
    m = moment.astimezone(UTC)
    text = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    return text + (f".{m.microsecond // 1000:03d}Z" if millis else "Z")


def parse_since(text: str, now: float) -> float:
    """`7d`, `12h`, `30m`, `90s`, `today` (since midnight UTC), or an ISO date/datetime -> seconds since
    the epoch."""
    raw = text.strip().lower()
    if raw == "today":
        return datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    ago = re.fullmatch(r"(\d+\.?\d*|\.\d+)\s*([a-z]+)", raw)
    if ago is not None and ago.group(2) in UNIT_SECONDS:
        return now - float(ago.group(1)) * UNIT_SECONDS[ago.group(2)]
    moment = parse_datetime(text)
    if moment is None:
        raise ValueError(f"{text!r} is not a time: use 7d, 12h, 30m, today, or a date such as 2026-12-01")
    return moment.timestamp()
