"""Reading what the API answers: the answer itself (`Answer`), the size bound every answer is read
within (`BoundedTransport`, the one place it is enforced, for the API client and the sign-in pages
alike: `bounded_client`), the wait a throttled answer asks for (Retry-After or the body's text), the
daily write cap, the error list of an envelope, JSON that may not be JSON, and numbers that may not
be numbers."""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from ..record.operations import OPERATIONS, Operation
from ..record.validation import Problem
from ..settings import Settings
from .errors import ErrorKind, NexudusError

MAX_MESSAGE = 500
# The API's generic 500 ("Ooops! There was a problem while running this action") comes in bursts and
# usually succeeds on retry; GET and PUT (a full replace) are both safe to repeat.
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
# A wait longer than this (a day) is not a throttle but a misreading or a hostile answer: unknown.
MAX_SANE_WAIT = 86_400.0
# What a model is shown as RetryAfterSeconds, at most.
MAX_SHOWN_WAIT = 3600.0
# Only these are asked for, so only these need decoding (each with a bound on what it expands to).
ACCEPT_ENCODING = "gzip, deflate"

_WAIT_IN_TEXT = re.compile(r"\bwait\s+(\d{1,6}(?:\.\d{1,3})?)\s*(?:s\b|secs?\b|seconds?\b)", re.I)
_MUST_WAIT = re.compile(r"\bmust\s+wait\b|\btoo\s+many\s+requests\b", re.I)
_DAILY = re.compile(r"\b(?:daily|per[\s-]+day|a\s+day|each\s+day|24[\s-]*hours?|today)\b", re.I)
_RESETS = re.compile(r"\b(?:resets?|renews?|try again|available again)\b[^.\n<]{0,80}", re.I)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date. None when absent, unreadable, negative,
    not finite, or absurd (more than a day away): the caller then uses its default backoff."""
    if not value:
        return None
    value = value.strip()[:100]
    if re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", value):
        try:
            seconds = float(value)
        except (OverflowError, ValueError):
            return None
        return seconds if math.isfinite(seconds) and 0 <= seconds <= MAX_SANE_WAIT else None
    if not re.search(r"[A-Za-z]", value):
        return None  # "nan", "inf" and other float spellings are letters; anything else numeric-ish is junk
    try:
        when = email.utils.parsedate_to_datetime(value)
        seconds = when.timestamp() - time.time()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if not math.isfinite(seconds) or seconds > MAX_SANE_WAIT:
        return None
    return max(seconds, 0.0)


def wait_from_text(text: str) -> float | None:
    """The wait a throttled answer's text asks for: "Wait 3 seconds" → 3; "You must wait before
    accessing this url again" (no number) → 1; None when the text says nothing about waiting."""
    found = _WAIT_IN_TEXT.search(text)
    if found:
        seconds = float(found.group(1))
        return seconds if seconds <= MAX_SANE_WAIT else None
    return 1.0 if _MUST_WAIT.search(text) else None


def is_daily_cap(text: str) -> bool:
    """Whether a throttled answer's text speaks of the daily write cap (not a per-second throttle)."""
    return bool(_DAILY.search(text)) and bool(re.search(r"\b(?:limit|cap|quota|maximum|exceeded)", text, re.I))


def reset_phrase(text: str) -> str | None:
    """What the API says about when the daily cap resets ("resets at 00:00 UTC"), short, or None."""
    found = _RESETS.search(text)
    return " ".join(found.group(0).split())[:100] if found else None


@dataclass(frozen=True)
class Answer:
    """An API answer read in full (within the size bound): status, headers and decoded body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class TooLarge(Exception):
    """The answer grew past the size bound (`limit` bytes) while it was read; the read stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class UnsupportedEncoding(Exception):
    """The answer came in a content encoding that was not asked for."""


def transport_error(
    exc: BaseException, settings: Settings, *, operation: Operation | None = None, resend: bool = False
) -> NexudusError:
    """The one reading of a request that got no answer (a timeout, a failed or dropped connection, an
    answer too large or in an encoding not asked for), for the API client's requests and the token
    exchange alike. A connection that could not be made left the request unsent. A timeout or another
    HTTP failure is retried only when the request may be sent again whatever became of it (`resend`:
    the token request, which changes no record and comes before the call it serves); `operation`,
    when given, is named in the message."""
    the = f" the {OPERATIONS[operation].noun}" if operation else ""  # " the token request"
    for_the, to_the = (f" for{the}", f" to{the}") if the else ("", "")
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.ConnectError):
        in_time = (
            f" in time (connect timeout {settings.connect_timeout:g}s)"
            if isinstance(exc, httpx2.ConnectTimeout)
            else ""
        )
        return NexudusError(
            ErrorKind.UPSTREAM_UNAVAILABLE,
            f"Could not connect to Nexudus{for_the}{in_time}.",
            operation=operation,
            transient=True,
            unsent=True,
            cause=exc,
        )
    if isinstance(exc, (TimeoutError, httpx2.TimeoutException)):
        return NexudusError(
            ErrorKind.UPSTREAM_UNAVAILABLE,
            f"Nexudus did not answer{the} in time (read timeout {settings.read_timeout:g}s).",
            operation=operation,
            transient=resend,
            cause=exc,
        )
    if isinstance(exc, (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError)):
        return NexudusError(
            ErrorKind.UPSTREAM_UNAVAILABLE,
            f"The connection to Nexudus was dropped before a complete answer{to_the} arrived.",
            operation=operation,
            transient=True,
            cause=exc,
        )
    if isinstance(exc, TooLarge):
        setting = ", NEXUDUS_MAX_RESPONSE_BYTES" if exc.limit == settings.max_response_bytes else ""
        return NexudusError(
            ErrorKind.UPSTREAM_ERROR,
            f"Nexudus's answer{to_the} was too large (over {exc.limit:,} bytes{setting}); "
            "the read stopped there and nothing of it was used.",
            operation=operation,
        )
    if isinstance(exc, UnsupportedEncoding):
        return NexudusError(
            ErrorKind.UPSTREAM_ERROR,
            f"Nexudus answered{the} in a content encoding that was not asked for or could not be decoded ({exc}); "
            "nothing of it was used.",
            operation=operation,
        )
    return NexudusError(
        ErrorKind.UPSTREAM_UNAVAILABLE,
        f"HTTP failure talking to Nexudus{for_the} ({type(exc).__name__}).",
        operation=operation,
        transient=resend,
        cause=exc,
    )


#: What `transport_error` reads: the exceptions a request without an answer raises.
TRANSPORT_ERRORS = (TimeoutError, httpx2.HTTPError, TooLarge, UnsupportedEncoding)


class Inflater:
    """Decodes a body chunk by chunk (identity, gzip or deflate) and counts it, raw and decoded,
    raising TooLarge the moment either passes `limit`: zlib's `max_length` keeps even one small
    chunk that expands a thousandfold from being inflated past the bound."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.raw = 0
        self.size = 0
        encoding = encoding.strip().lower()
        self.encoding = encoding
        self._decoder: Any = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
        elif encoding not in ("", "identity"):
            raise UnsupportedEncoding(encoding[:40])

    def feed(self, chunk: bytes) -> list[bytes]:
        self.raw += len(chunk)
        if self.raw > self.limit:
            raise TooLarge(self.limit)
        if self._decoder is None:
            self.size += len(chunk)
            return [chunk]
        out: list[bytes] = []
        pending = chunk
        while pending:
            try:
                part = self._decoder.decompress(pending, self.limit - self.size + 1)
            except zlib.error:
                raise UnsupportedEncoding(self.encoding) from None
            out.append(part)
            self.size += len(part)
            if self.size > self.limit:
                raise TooLarge(self.limit)
            pending = self._decoder.unconsumed_tail
        return out

    def finish(self) -> bytes:
        if self._decoder is None:
            return b""
        try:
            tail: bytes = self._decoder.flush()
        except zlib.error:
            raise UnsupportedEncoding(self.encoding) from None
        self.size += len(tail)
        if self.size > self.limit:
            raise TooLarge(self.limit)
        return tail


class BoundedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, inflater: Inflater) -> None:
        self._inner = inner
        self._inflater = inflater

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            for part in self._inflater.feed(chunk):
                if part:
                    yield part
        tail = self._inflater.finish()
        if tail:
            yield tail

    async def aclose(self) -> None:
        await self._inner.aclose()


class BoundedTransport(httpx2.AsyncBaseTransport):
    """Wraps the transport so that every answer, including those httpx reads itself (a 401 before
    the auth flow's retry), is decoded here within the bound and reaches httpx as identity: a
    declared length over the bound is refused before a byte is read, and the read stops (TooLarge)
    the moment the raw or the decoded body passes it. The only place the bound is enforced."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        declared = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "")
        try:
            if declared.isdigit() and int(declared) > self._limit:
                raise TooLarge(self._limit)
            inflater = Inflater(encoding, self._limit)
        except BaseException:
            await response.aclose()
            raise
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() != "content-encoding" and not (encoding and k.lower() == "content-length")
        ]
        return httpx2.Response(
            response.status_code,
            headers=headers,
            stream=BoundedStream(response.stream, inflater),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def bounded_client(
    settings: Settings, transport: httpx2.AsyncBaseTransport | None, limit: int, **headers: str
) -> httpx2.AsyncClient:
    """An `httpx2.AsyncClient` to NEXUDUS_BASE_URL whose every answer is read within `limit` bytes
    (raw and decoded; `BoundedTransport`), asking only for the encodings it can decode within it,
    with the configured timeouts and no redirects followed."""
    return httpx2.AsyncClient(
        base_url=settings.base_url,
        transport=BoundedTransport(transport or httpx2.AsyncHTTPTransport(), limit),
        timeout=httpx2.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        headers={"Accept-Encoding": ACCEPT_ENCODING, **headers},
        follow_redirects=False,
    )


def errors_of(body: dict[str, Any]) -> list[Problem]:
    errors = body.get("Errors")
    if not isinstance(errors, list):
        return []
    out: list[Problem] = []
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


def json_or_none(response: httpx2.Response | Answer) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, RecursionError):
        return None


def loggable_path(path: str) -> str:
    return path.split("?", 1)[0]


def as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def as_float(value: Any, default: float) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return result if math.isfinite(result) else default
