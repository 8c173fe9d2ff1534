"""Secrets at rest for the sign-in mode: Nexudus tokens are stored encrypted (Fernet: AES-128-CBC +
HMAC-SHA256, from the `cryptography` package) under a key derived from NEXUDUS_MCP_SECRET; tokens
this server issues are stored only as SHA-256 digests, so a copy of the state store grants nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.fernet import InvalidToken

from ..state.keys import fernet_for


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Vault:
    def __init__(self, secret: str) -> None:
        self._fernet = fernet_for(secret, "signin")

    def seal(self, value: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(value).encode())

    def open(self, sealed: bytes, *, ttl: int | None = None) -> dict[str, Any] | None:
        """The sealed value, or None when it was tampered with, sealed under another key, or older than ttl."""
        try:
            value = json.loads(self._fernet.decrypt(sealed, ttl=ttl))
        except (InvalidToken, ValueError):
            return None
        return value if isinstance(value, dict) else None
