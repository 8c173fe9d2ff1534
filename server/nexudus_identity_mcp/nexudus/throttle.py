"""A throttled answer (HTTP 409, the API's legacy form, or 429) read into an error a caller can act
on: how long to wait (the Retry-After header, seconds or an HTTP date, else the body's "wait N
seconds", else 1 s for "You must wait before accessing this url again"), or, when the text speaks
of the daily write cap, a `rate_limited` error that no retry helps, saying when it resets if the
API says so. Odd waits (nan, inf, 1e400, a date in year 9999, negative) count as unknown."""

from __future__ import annotations

from collections.abc import Callable

from .envelopes import MAX_SHOWN_WAIT, Answer, is_daily_cap, parse_retry_after, reset_phrase, wait_from_text
from .errors import ErrorKind, NexudusError, Operation
from .sanitise import sanitise_excerpt

THROTTLE_STATUSES = frozenset({409, 429})
_SCAN = 4000  # how much of a throttled answer's text is looked at


def throttle_error(op: Operation, answer: Answer, scrub: Callable[[str], str]) -> NexudusError:
    status = answer.status_code
    text = sanitise_excerpt(answer.content[:_SCAN].decode("utf-8", errors="replace"), [], limit=_SCAN) or ""
    header = answer.headers.get("retry-after")
    if is_daily_cap(text):
        resets_in = parse_retry_after(header)
        phrase = reset_phrase(text)
        if resets_in:
            when = f" Nexudus says it resets in about {_duration(resets_in)}."
        elif phrase:
            when = f' Nexudus says: "{scrub(phrase)}".'
        else:
            when = " It resets once a day; Nexudus did not say when."
        return NexudusError(
            ErrorKind.RATE_LIMITED,
            f"Nexudus's daily {'write' if op == 'update' else 'request'} limit for this account is used up "
            f"(HTTP {status}); nothing was {'written' if op == 'update' else 'read'} and retrying will not help "
            f"until it resets.{when} Tell the user; do not retry today.",
            status=status,
            operation=op,
            daily_cap=True,
        )
    wait = parse_retry_after(header)
    if wait is None:
        wait = wait_from_text(text)
    shown = None if wait is None else min(wait, MAX_SHOWN_WAIT)
    after = f"; it asks to wait {shown:g} s" if shown is not None else ""
    return NexudusError(
        ErrorKind.RATE_LIMITED,
        f"Nexudus is throttling requests (HTTP {status}: you must wait before accessing this url again{after}).",
        status=status,
        retry_after=shown,
        operation=op,
    )


def _duration(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 90:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"
