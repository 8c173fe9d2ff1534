"""ISO 8601 dates and datetimes: lenient parsing, one normal form for the API.

Accepted: `2031-03-14`, `2031-03-14T10:30`, `2031-03-14T10:30:00`, with fractions, `Z` or an offset.
A date alone means midnight UTC; a datetime with no zone is taken as UTC. Sent as
`YYYY-MM-DDTHH:MM:SSZ`, the form of every documented example. Years outside 1900-2200 are refused:
no identity document expires then, and the API's date type cannot be assumed to hold them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

MIN_YEAR, MAX_YEAR = 1900, 2200


def parse_datetime(value: str) -> datetime | None:
    text = value.strip()
    if not text or len(text) > 40:
        return None
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        return None
    return parsed if MIN_YEAR <= parsed.year <= MAX_YEAR else None


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
    units = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "w": 7 * 86400.0}
    if raw[-1:] in units and raw[:-1].replace(".", "", 1).isdigit():
        return now - float(raw[:-1]) * units[raw[-1]]
    moment = parse_datetime(text)
    if moment is None:
        raise ValueError(f"{text!r} is not a time: use 7d, 12h, 30m, today, or a date such as 2026-12-01")
    return moment.timestamp()
