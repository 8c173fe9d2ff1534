"""The Nexudus REST API client for coworker identity checks, cut the way kept clients cut it:
`errors` (the one `ErrorKind` vocabulary and `NexudusError`), `auth` (an `httpx2.Auth` flow: the
Authorization header, the token lifecycle, the one re-authentication), `envelopes` (reading answers
within a size bound), `throttle` (409/429 and the daily cap), `sanitise` (upstream text made safe to
show) and `client` (routes, envelopes, retry policy)."""

from .client import NexudusClient, SearchPage
from .envelopes import parse_retry_after
from .errors import ErrorKind, NexudusError

__all__ = ["ErrorKind", "NexudusClient", "NexudusError", "SearchPage", "parse_retry_after"]
