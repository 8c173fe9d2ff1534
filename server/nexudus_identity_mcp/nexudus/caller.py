"""Who an API request is made for, given per request by whoever calls the client (the tools pass
their call context's caller; probe, check and tests pass none: the configured credentials)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """Who is calling: a name for the audit line and the request budget's fair share ("stdio", or the
    client an HTTP token maps to, or the signed-in staff member), and their own Nexudus token when
    they signed in with it (sign-in mode); None means the server's configured credentials."""

    label: str = "local"
    nexudus_bearer: str | None = None
