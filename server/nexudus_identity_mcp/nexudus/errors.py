"""What can go wrong, as one vocabulary: `ErrorKind` names every kind of failure a tool result can
carry (the API client raises the first seven; the tools add the rest), and `NexudusError` is the one
exception the API client raises, classified so that a caller can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..record.operations import Operation as Operation  # the table of operations is in record/
from ..record.validation import Problem


class ErrorKind(StrEnum):
    """Every `ErrorKind` a tool result can carry; the output schemas list these values."""

    VALIDATION = "validation"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    UPSTREAM_ERROR = "upstream_error"
    NOT_CONFIGURED = "not_configured"
    # Found by the tools rather than the API client.
    CONFLICT = "conflict"
    BUSY = "busy"
    READ_ONLY = "read_only"
    INTERNAL_ERROR = "internal_error"
    # The user said no (or dismissed the question) when the server asked them to confirm a write.
    DECLINED = "declined"
    # NEXUDUS_MCP_CONFIRM=always and the client cannot ask the user.
    CONFIRMATION_REQUIRED = "confirmation_required"


RETRYABLE_KINDS: frozenset[ErrorKind] = frozenset(
    {ErrorKind.RATE_LIMITED, ErrorKind.UPSTREAM_UNAVAILABLE, ErrorKind.BUSY}
)


@dataclass
class NexudusError(Exception):
    """A failed API call, classified so that the caller (and the model) can act on it."""

    kind: ErrorKind
    message: str
    status: int | None = None
    errors: list[Problem] = field(default_factory=list)
    retry_after: float | None = None
    operation: Operation | None = None
    # Set when the server answered with something other than the envelope (HTML, bad JSON).
    excerpt: str | None = None
    # Retried in here before giving up.
    transient: bool = False
    # True when the request never reached the server (the connection could not be made).
    unsent: bool = False
    # The daily write cap: rate_limited, but no retry helps until the cap resets.
    daily_cap: bool = False
    # The transport exception behind a connection failure (refused, DNS, TLS, timeout), kept for
    # `check` to explain; never shown to the model (its text can name hosts, not secrets).
    cause: BaseException | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.kind = ErrorKind(self.kind)
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS and not self.daily_cap

    def __str__(self) -> str:
        return self.message
