"""Secrets at rest for the sign-in mode: Nexudus tokens are stored encrypted (Fernet: AES-128-CBC +
HMAC-SHA256, from the `cryptography` package) under a key derived from the server's secret; tokens
and client secrets this server issues are stored only as keyed digests (HMAC-SHA256 under another
key derived from the same secret), so a row written into the store without the secret never
authenticates, and a copy of the store without the secret grants nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import InvalidToken

from ..state.keys import fernet_for


class Vault:
    def __init__(self, secret: str) -> None:
        self._fernet = fernet_for(secret, "signin")
        self._digest_key = hashlib.sha256(b"nexudus-identity-mcp/signin-digest/v1\0" + secret.encode()).digest()

    def digest(self, token: str) -> str:
        """The keyed digest a token or secret is stored (and looked up) by."""
        return hmac.new(self._digest_key, token.encode(), hashlib.sha256).hexdigest()

    def seal(self, value: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(value).encode())

    def open(self, sealed: bytes, *, ttl: int | None = None) -> dict[str, Any] | None:
        """The sealed value, or None when it was tampered with, sealed under another key, or older than ttl."""
        try:
            value = json.loads(self._fernet.decrypt(sealed, ttl=ttl))
        except (InvalidToken, ValueError):
            return None
        return value if isinstance(value, dict) else None
