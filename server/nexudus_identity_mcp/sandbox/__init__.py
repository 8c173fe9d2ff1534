"""The built-in stand-in for the Nexudus API: `state` (records, users, tokens, faults, the PUT
rules), `data` (the fictional seed), `app` (the ASGI app and an in-process transport to it)."""

from .app import Sandbox, SandboxTransport, serve
from .state import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    CHECKS_ONLY_PASSWORD,
    CHECKS_ONLY_USER,
    OOPS_TEXT,
    SANDBOX_TOKEN,
    TOTP_PASSWORD,
    TOTP_SECRET,
    TOTP_USER,
    VIEWER_PASSWORD,
    VIEWER_USER,
    Fault,
    IssuedToken,
    RequestRecord,
    SandboxState,
    validate_put,
    with_derived_fields,
)

__all__ = [
    "ADMIN_PASSWORD",
    "ADMIN_USER",
    "CHECKS_ONLY_PASSWORD",
    "CHECKS_ONLY_USER",
    "OOPS_TEXT",
    "SANDBOX_TOKEN",
    "TOTP_PASSWORD",
    "TOTP_SECRET",
    "TOTP_USER",
    "VIEWER_PASSWORD",
    "VIEWER_USER",
    "Fault",
    "IssuedToken",
    "RequestRecord",
    "Sandbox",
    "SandboxState",
    "SandboxTransport",
    "serve",
    "validate_put",
    "with_derived_fields",
]
