"""ISO 8601 dates and datetimes: lenient parsing, one normal form for the API.

Accepted: `2031-03-14`, `2031-03-14T10:30`, `2031-03-14T10:30:00`, with fractions, `Z` or an offset.
A date alone means midnight UTC; a datetime with no zone is taken as UTC. Sent as
`YYYY-MM-DDTHH:MM:SSZ`, the form of every documented example.
"""

from __future__ import annotations

from datetime import date, datetime, timezone


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
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_utc(moment: datetime, *, millis: bool = False) -> str:
    moment = moment.astimezone(timezone.utc)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
